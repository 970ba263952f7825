"""The page in a real headless Chromium (Debian's, driven by Playwright; nothing downloaded):
the seed's cloud loads, the test-02 walk traced from the form is drawn through
qr-466214fa-3d with its SNAT to 192.168.100.102, a step highlights its flow in the table, every
host's diagram shows its devices, and names with markup stay text. Screenshots are kept under
out/browser/ (gitignored) and their paths printed."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from neutrace.app import session
from neutrace.sim.walk import Walker
from neutrace.web.api import Api
from neutrace.web.server import running
from tests.conftest import require
from tests.support.browser import artifact, chromium, chromium_available
from tests.support.markup_cloud import COMMENT, HOST, NAMES, VM, markup_cloud
from tests.support.paths import SEED_YAML

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require(chromium_available(), "Chromium (apt-get install chromium) and Playwright "
            "(pip install playwright)")
    require(shutil.which("dot") is not None, "Graphviz (apt-get install graphviz)")
    with chromium() as context:
        yield context


@pytest.fixture(scope="module")
def seed_url() -> Iterator[str]:
    with running(Api(session.walker(SEED_YAML), "seed")) as srv:
        yield srv.url


def _open(browser: Any, url: str) -> tuple[Any, list[str]]:
    page = browser.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" else None)
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    return page, problems


def _shot(page: Any, name: str) -> None:
    path = artifact(name)
    page.screenshot(path=str(path), full_page=False)
    print(f"screenshot: {path}")


def test_trace_from_the_form_draws_the_path_through_the_router_with_its_snat(
        browser: Any, seed_url: str) -> None:
    page, problems = _open(browser, seed_url)
    page.fill("#f-from", "test-02")
    page.fill("#f-to", "203.0.113.10")
    page.click("#f-go")
    page.wait_for_selector("body[data-traced='1']", timeout=120_000)
    verdict = page.inner_text("#verdicts .verdict")
    assert "EXITED" in verdict and "internet-host" in verdict
    page.click("#host-tabs button[data-host='test-ctrl-01']")
    page.wait_for_selector("#host-tabs button.active[data-host='test-ctrl-01']")
    on_path = page.eval_on_selector_all(
        "#diagram svg g.node.on-path", "els => els.map(e => e.textContent)")
    assert any("qr-466214fa-3d" in t for t in on_path), on_path
    labels = page.eval_on_selector_all("#diagram svg g.edge.path text",
                                       "els => els.map(e => e.textContent)")
    assert "SNAT 192.168.111.4 → 192.168.100.102" in labels
    walk = page.inner_text("#walk")
    assert "qr-466214fa-3d" in walk and "SNAT: nw_src: 192.168.111.4 -> 192.168.100.102" in walk
    _shot(page, "seed-test-02-test-ctrl-01.png")
    # a table step highlights its flow: br-tun table 4 on test-ctrl-01 maps VNI 0x10050
    step = page.locator("#walk li.k-table", has_text="tun_id=0x10050").first
    step.click()
    page.wait_for_selector("#flows tr.hl")
    row = page.inner_text("#flows tr.hl")
    assert "table=4" in row and "tun_id=0x10050" in row
    assert page.input_value("#flow-bridge") == "br-tun"
    # a rule step highlights its rule in iptables-save: the router's SNAT
    page.locator("#walk li.k-rule:not(.quiet)", has_text="-j SNAT").first.click()
    page.wait_for_selector("#iptables tr.hl")
    assert "--to-source 192.168.100.102" in page.inner_text("#iptables tr.hl")
    _shot(page, "seed-test-02-snat-rule.png")
    assert not problems, problems
    page.close()


def test_every_seed_host_diagram_shows_its_devices(browser: Any, seed_url: str) -> None:
    page, problems = _open(browser, seed_url)
    expected = {"test-ctrl-01": ("qr-466214fa-3d", "qg-169d638e-0e", "tap96835b35-be",
                                 "patch-int", "eth3", "vxlan-c0a87816"),
                "test-cmpt-01": ("br-int", "patch-tun", "vxlan-c0a87816"),
                "test-cmpt-02": ("tap1b17c0cc-9f", "qbr1b17c0cc-9f", "qvb1b17c0cc-9f",
                                 "qvo1b17c0cc-9f", "qvoaf305168-66", "int-br-ex", "phy-br-ex",
                                 "vxlan-c0a8780b", "test-ctrl-01")}
    for host, devices in expected.items():
        page.click(f"#host-tabs button[data-host='{host}']")
        page.wait_for_selector(f"#host-tabs button.active[data-host='{host}']")
        page.wait_for_function(
            "h => document.querySelector('#diagram svg') && "
            "document.querySelector('#diagram svg').textContent.includes(h)", arg=host)
        text = page.text_content("#diagram svg") or ""
        for device in devices:
            assert device in text, (host, device)
        assert page.locator("#flows tr").count() > 10
    _shot(page, "seed-test-cmpt-01.png")
    assert not problems, problems
    page.close()


def test_names_with_markup_stay_text(browser: Any) -> None:
    with running(Api(Walker(markup_cloud()))) as srv:
        page, problems = _open(browser, srv.url)
        assert page.inner_text("#host-tabs button >> nth=0").strip() == HOST
        assert page.locator("script").count() == 1  # app.js only
        assert page.locator("img, iframe").count() == 0
        assert page.locator("#diagram svg script, #diagram svg foreignObject").count() == 0
        text = page.text_content("#diagram svg") or ""
        for name in NAMES:
            assert name in text, name
        page.click("#table-tabs button[data-view='iptables']")
        assert COMMENT in page.inner_text("#iptables")
        page.fill("#f-from", VM)
        page.fill("#f-to", "10.0.0.1")
        page.click("#f-go")
        page.wait_for_function("() => !document.querySelector('#f-go').disabled", timeout=60_000)
        assert page.locator("img, iframe").count() == 0
        _shot(page, "markup-cloud.png")
        assert not problems, problems  # no alert() ran, no script error
        page.close()
