"""Shared test fixtures.

Tests that need Open vSwitch or root/namespaces are marked ``ovs`` / ``root``. On a laptop they
skip when the thing is missing; with ``CI=true`` such a skip is turned into a failure, so a missing
install step in .ci/run cannot hide.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Generator, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from neutrace.backends.ovs_sandbox import OvsSandbox, ovs_available

IN_CI = os.environ.get("CI", "").lower() == "true"

# Property tests explore new examples on every local run; in CI they replay a fixed, derandomized
# set, so that a landing is judged on the same cases every time (explicit settings still apply).
# Neither judges speed: a loaded 2-core machine makes generation slow, and time limits belong in
# benchmarks, so the deadline and the too_slow health check are off in both.
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", derandomize=True, database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if IN_CI else "dev")
GUARDED_MARKERS = ("ovs", "root", "conformance", "browser")


def require(condition: bool, what: str) -> None:
    """Skip (or, in CI, fail) unless ``condition``."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI but missing: fix .ci/run")
    pytest.skip(f"{what} is not available here")


def have_root_netns() -> bool:
    return os.geteuid() == 0 and shutil.which("ip") is not None


_SKIPPED_IN_CI: list[str] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite the golden files under tests/golden/ instead of checking them")
    parser.addoption("--reword-phrases", action="store_true", default=False,
                     help="reword every phrase of neutrace.render.phrases.PHRASES (goldens are "
                          "skipped): the other tests must not notice (tests/render/"
                          "test_rewording.py)")


def pytest_configure(config: pytest.Config) -> None:
    from tests.support import golden

    golden.UPDATE["enabled"] = bool(config.getoption("--update-golden"))
    if config.getoption("--reword-phrases"):
        from tests.support.rewording import reword_all

        reword_all()
        golden.UPDATE["reworded"] = True


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The heavy ``fuzz`` campaign runs only when a ``-m`` expression names it (``pytest -m
    fuzz``); every other run, ``-m "not conformance"`` included, leaves it out."""
    if "fuzz" in (config.getoption("markexpr") or ""):
        return
    kept = [item for item in items if item.get_closest_marker("fuzz") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome: Any = yield
    report = outcome.get_result()
    if (IN_CI and report.skipped and not hasattr(report, "wasxfail")
            and any(item.get_closest_marker(m) for m in GUARDED_MARKERS)):
        report.outcome = "failed"
        report.longrepr = (f"skipped in CI, which is a failure for tests marked "
                           f"{'/'.join(GUARDED_MARKERS)}: {report.longrepr}")
        _SKIPPED_IN_CI.append(item.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _SKIPPED_IN_CI and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def ovs_sandbox() -> Iterator[OvsSandbox]:
    """One private ovs-vswitchd for the test session (tests add and delete their own bridges)."""
    require(ovs_available(), "Open vSwitch (openvswitch-switch)")
    with OvsSandbox() as sandbox:
        yield sandbox


@pytest.fixture()
def netns_root() -> None:
    """Require root and iproute2 (for tests that build namespaces of their own)."""
    require(have_root_netns(), "root with iproute2 (network namespaces)")
