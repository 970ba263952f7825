"""The real backend's life cycle: `down` leaves nothing (namespaces, processes, files; the root
namespace's links, routes, rules and iptables unchanged); a killed or interrupted `up` leaves
nothing once the next `up`/`down` ran (or at once, for Ctrl-C); bad input and faults change
nothing and say what is wrong."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from neutrace.app import session
from neutrace.backends.real import cloud as real
from neutrace.backends.real import record
from neutrace.errors import InputError
from tests.functional.real.conftest import require_real
from tests.support.paths import EXAMPLES, SEED_YAML
from tests.support.real_cloud import RealCloud, processes_with, root_snapshot, run_name

pytestmark = [pytest.mark.root, pytest.mark.ovs]

EASTWEST = EXAMPLES / "eastwest" / "cloud.yaml"
CLI = [sys.executable, "-m", "neutrace.cli"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[3] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _ours(before: set[str]) -> list[str]:
    """Namespaces of a run prefix (nt-XXXXXX-) holding an eastwest host that were not there and
    belong to no run still recorded: other test runs on the same machine (another checkout's
    suite) may be up at the same time, each with its record written before its first namespace
    (namespaces are listed before and after the records are read, so a run torn down meanwhile
    does not count either)."""
    first = _netns()
    live = set()
    for run in record.runs():
        rec = record.read(run)
        if rec is not None:
            live.add(rec.prefix)
    names = first & _netns()
    return sorted(n for n in names - before
                  if re.match(r"^nt-[0-9a-f]{6}-(net-01|cmp-01|cmp-02|wire)", n)
                  and n[:10] not in live)


def _netns() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {ln.split()[0] for ln in out.splitlines() if ln.strip()}


def _nothing_left(run: str, prefix: str | None, before: set[str]) -> None:
    rdir = record.state_root() / run
    assert not rdir.exists(), f"{rdir} is left"
    assert not processes_with(str(rdir) + "/"), "processes of the run are left"
    if prefix:
        assert not [n for n in _netns() if n.startswith(prefix)]
    assert not _ours(before)


def test_up_then_down_leaves_nothing() -> None:
    require_real()
    before_root = root_snapshot()
    before = _netns()
    c = RealCloud(EASTWEST, "life")
    with c:
        assert c.rec is not None
        prefix = c.rec.prefix
        assert len([n for n in _netns() if n.startswith(prefix)]) == len(c.rec.namespaces)
        assert processes_with(c.rec.dir + "/")
    _nothing_left(c.run, prefix, before)
    assert root_snapshot() == before_root


def test_kill_9_mid_build_then_up_cleans_up() -> None:
    """A build killed at a random point leaves things; the next `up` removes them first (and
    its `down` leaves nothing)."""
    require_real()
    before = _netns()
    name = run_name("kill")
    rng = random.Random(os.getpid())
    proc = subprocess.Popen([*CLI, "up", str(EASTWEST), "--name", name, "-q"], env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(rng.uniform(0.3, 1.2))
    proc.kill()
    proc.wait()
    rec = record.read(name)
    state = session.cloud_state(EASTWEST)
    if rec is not None and rec.status == record.BUILDING:
        assert real.status(name)[0].status == "stale"
    second = real.up(state, name)
    assert second.prefix != (rec.prefix if rec else None)
    if rec is not None:
        assert not [n for n in _netns() if n.startswith(rec.prefix)], "the old run's namespaces"
    real.down(name)
    _nothing_left(name, second.prefix, before)


def test_ctrl_c_during_up_leaves_nothing() -> None:
    require_real()
    before = _netns()
    name = run_name("sigint")
    proc = subprocess.Popen([*CLI, "up", str(EASTWEST), "--name", name], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()  # "namespaces: ..." : the build has started
    assert first.startswith("namespaces:"), first
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    if proc.returncode == 0:  # it finished before the signal: then down must clean
        real.down(name)
    else:
        assert proc.returncode == 130, (out, err)
        assert "removed" in err
    _nothing_left(name, None, before)


def test_failure_mid_build_removes_what_was_made() -> None:
    require_real()
    before = _netns()
    state = session.cloud_state(EASTWEST)
    name = run_name("fail")
    for step in ("netns-first", "links", "daemons", "ovs", "config"):
        with pytest.raises(Exception, match="on purpose"):
            real.up(state, name, fail_after=step)
        _nothing_left(name, None, before)


def test_invalid_cloud_changes_nothing(tmp_path: Path) -> None:
    require_real()
    before_root, before = root_snapshot(), _netns()
    state = session.cloud_state(EASTWEST)
    host = state.hosts[1]
    vm = next(host.vms())
    bad_vm = replace(vm, interfaces=tuple(replace(i, name="eth0-much-too-long")
                                          if i.name == "eth0" else i for i in vm.interfaces))
    bad = replace(state, hosts=(state.hosts[0], replace(host, namespaces=tuple(
        bad_vm if n is vm else n for n in host.namespaces)), *state.hosts[2:]))
    with pytest.raises(InputError, match="eth0-much-too-long"):
        real.up(bad, run_name("bad"))
    # a topology file the topology loader refuses: the CLI says so, exit 2
    broken = tmp_path / "cloud.yaml"
    broken.write_text(EASTWEST.read_text().replace("segmentation_id: 1001",
                                                   "segmentation_id: 99999999"))
    cp = subprocess.run([*CLI, "up", str(broken), "--name", run_name("bad")], env=_env(),
                        capture_output=True, text=True)
    assert cp.returncode == 2 and "error:" in cp.stderr and "Traceback" not in cp.stderr
    assert not (record.state_root() / run_name("bad")).exists()
    assert _netns() == before or not _ours(before)
    assert root_snapshot() == before_root


def test_up_while_up_says_so(seed_cloud: RealCloud) -> None:
    with pytest.raises(real.AlreadyUp, match="already up"):
        real.up(seed_cloud.state, seed_cloud.run)
    cp = subprocess.run([*CLI, "up", str(SEED_YAML), "--name", seed_cloud.run], env=_env(),
                        capture_output=True, text=True)
    assert cp.returncode == 3 and "already up" in cp.stderr and "neutrace down" in cp.stderr
    assert real.status(seed_cloud.run)[0].status == "up"


def test_missing_binary_names_the_debian_package(tmp_path: Path) -> None:
    """With ovs-vswitchd missing from PATH, `up` says which package to install, and builds
    nothing."""
    require_real()
    import shutil

    from neutrace.backends.real.commands import BUILD_BINARIES

    bindir = tmp_path / "bin"
    bindir.mkdir()
    for b in BUILD_BINARIES:
        if b != "ovs-vswitchd":
            found = shutil.which(b)
            assert found is not None
            (bindir / b).symlink_to(found)
    env = _env()
    env["PATH"] = str(bindir)
    before = _netns()
    cp = subprocess.run([*CLI, "up", str(EASTWEST), "--name", run_name("nobin")], env=env,
                        capture_output=True, text=True)
    assert cp.returncode == 3, cp.stderr
    assert "ovs-vswitchd" in cp.stderr and "apt-get install openvswitch-switch" in cp.stderr
    assert not _ours(before)
    assert not (record.state_root() / run_name("nobin")).exists()
