"""Real captures of real hosts: every example cloud built by the real backend (`neutrace up`:
each host a namespace with its own Open vSwitch, its Linux bridges, veths, iptables and
namespaces), every host captured by `neutrace collect` run *inside* the host's namespace (as an
operator runs it on a host), the captures imported, and the walks traced through them.

- every scenario (each VM and outside host to every other one and to every floating IP) walks
  hop for hop as it walks on the simulated state;
- the seed: test-02 -> 203.0.113.10 walks exactly as the demo does, cold and warm (the warm-up
  exchange on the captured state), and, captured again after real pings through the cloud,
  *as captured*: the hosts' own learned state (NORMAL's MAC tables, br-tun's learned flows,
  FDBs, neighbours, conntrack) gives the demo's warm walk with no warm-up at all.

The hosts' OVS agent configuration (``openvswitch_agent.ini``, which a real host has and collect
copies) is given through ``--sysroot``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from neutrace.app import capture
from neutrace.backends.real import host_env
from neutrace.dataplane import CloudState
from neutrace.render.walk import walk_summary
from neutrace.topology import load
from tests.functional.real.conftest import require_real
from tests.support.paths import EXAMPLES, GOLDEN_DIR, REPO
from tests.support.real_cloud import RealCloud, collect_host, scenarios

pytestmark = [pytest.mark.root, pytest.mark.ovs]

CLOUDS = sorted(p.parent.name for p in EXAMPLES.glob("*/cloud.yaml"))


def collect_all(c: RealCloud, folder: Path, sysroots: Path) -> None:
    """`neutrace collect` inside every host of ``c`` into ``folder/<host>``."""
    for h in c.state.hosts:
        collect_host(c, h.name, folder / h.name, sysroots / h.name)


def names(state: CloudState) -> dict[str, str]:
    """Network id -> name (OVS knows only ids; the drops' explanations name networks)."""
    return {k.partition(":")[2]: v for k, v in state.metadata if k.startswith("network:")}


@dataclass
class Captured:
    cloud: RealCloud
    imported: capture.Imported
    again: capture.Imported | None = None  # captured again after real traffic (the seed)


@pytest.fixture(scope="module", params=CLOUDS)
def captured(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Captured]:
    require_real()
    cloud: str = request.param
    path = EXAMPLES / cloud / "cloud.yaml"
    base = tmp_path_factory.mktemp(f"capture-{cloud}")
    with RealCloud(path, stem=f"cap-{cloud}") as c:
        collect_all(c, base / "cold", base / "sysroot")
        again = None
        if cloud == "seed":
            for _ in range(2):
                c.exec("test-02", "ping", "-c", "1", "-W", "2", "203.0.113.10", check=False)
            collect_all(c, base / "warm", base / "sysroot")
            again = load_hosts(c, base / "warm")
        yield Captured(c, load_hosts(c, base / "cold"), again)


def load_hosts(c: RealCloud, folder: Path) -> capture.Imported:
    """The captures of ``c``'s hosts, given in the topology's order (copies that flood are
    then listed in the simulated walk's order)."""
    return capture.load([folder / h.name for h in c.state.hosts], outside=c.path,
                        names=names(c.state))


def test_every_scenario_walks_as_on_the_simulated_state(captured: Captured) -> None:
    from neutrace.app import session

    c = captured.cloud
    assert not [d for d in captured.imported.cloud.diagnostics if d.level == "warning"]
    walker = captured.imported.walker(capture.Start.cold)
    n = 0
    for sc in scenarios(c.state):
        sim = session.trace(c.walker, sc.src, sc.dst_ip, sc.proto, sc.port)
        got = session.trace(walker, sc.src, sc.dst_ip, sc.proto, sc.port)
        assert _lines(walk_summary(got.request)) == _lines(walk_summary(sim.request)), str(sc)
        n += 1
    assert n > 0


SEED_ONLY = pytest.mark.parametrize("captured", ["seed"], indirect=True)


@SEED_ONLY
@pytest.mark.parametrize("start", ["cold", "warm"])
def test_seed_demo_walk_through_the_captures(captured: Captured, start: str) -> None:
    conv = capture.trace(captured.imported, "test-02", "203.0.113.10",
                         start=capture.Start(start), reply=True)
    assert conv.reply is not None
    got = walk_summary(conv.request) + "\n" + walk_summary(conv.reply)
    assert got == (GOLDEN_DIR / "walk" / f"seed-test-02-{start}.summary.txt").read_text()


@SEED_ONLY
def test_seed_warm_as_captured_after_real_traffic(captured: Captured) -> None:
    """What the real hosts learned from real pings gives the steady state by itself."""
    assert captured.again is not None
    learned = dict(captured.again.cloud.learned)
    assert learned["test-cmpt-02"].macs and learned["test-ctrl-01"].connections
    assert captured.again.cloud.warm != captured.again.cloud.cold  # br-tun learned flows
    conv = capture.trace(captured.again, "test-02", "203.0.113.10",
                         start=capture.Start.captured, reply=True)
    assert conv.reply is not None
    got = walk_summary(conv.request) + "\n" + walk_summary(conv.reply)
    assert got == (GOLDEN_DIR / "walk" / "seed-test-02-warm.summary.txt").read_text()
    cold = capture.trace(captured.again, "test-02", "203.0.113.10", start=capture.Start.cold,
                         reply=True)
    assert cold.reply is not None
    assert walk_summary(cold.request) + "\n" + walk_summary(cold.reply) == (
        GOLDEN_DIR / "walk" / "seed-test-02-cold.summary.txt").read_text()


@SEED_ONLY
def test_collect_in_a_host_changes_nothing_there(captured: Captured, tmp_path: Path) -> None:
    """A host's namespaces read back with the real tools are the same after a collect."""
    c = captured.cloud
    env = host_env("test-ctrl-01", c.run)

    def snap() -> list[str]:
        out = []
        for argv in (["ip", "-d", "link"], ["ip", "route", "show", "table", "all"],
                     ["ip", "netns"], ["ovs-vsctl", "show"],
                     ["ovs-ofctl", "--no-stats", "-O", "OpenFlow13", "dump-flows", "br-tun"]):
            text = subprocess.run(env.argv(argv), env=env.env, capture_output=True,
                                  text=True, check=False).stdout
            if argv == ["ip", "netns"]:  # this run's only: other tests make namespaces meanwhile
                prefix = env.netns.rsplit("-test-ctrl-01", 1)[0]
                text = "\n".join(sorted(ln for ln in text.splitlines()
                                         if ln.startswith(prefix)))
            out.append(text)
        return [_untimed(x) for x in out]

    before = snap()
    collect_all_one = tmp_path / "one"
    proc = subprocess.run(
        env.argv([sys.executable, "-m", "neutrace.cli", "collect", "-o", str(collect_all_one),
                  "--netns-prefix", env.netns + ".", "--hostname", "test-ctrl-01"]),
        env=dict(env.env, PYTHONPATH=str(REPO / "src")), capture_output=True, text=True,
        check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert snap() == before
    assert os.path.isdir(collect_all_one / "sos_commands" / "networking" / "namespaces")


def _lines(summary: str) -> str:
    """A walk's summary without the line numbers of iptables rules: they count lines of the
    iptables-save text, and the kernel's (with its `# Generated` comments) is not the agents'."""
    import re
    return re.sub(r"\bline \d+:", "line N:", summary)


def _untimed(text: str) -> str:
    import re
    text = re.sub(r"(_timer)\s+[\d.]+", r"\1", text)
    return re.sub(r"(hard_age|idle_age|duration)=[\d.]+s?,?", "", text)


def test_a_clean_capture_diffs_empty(captured: Captured) -> None:
    """`neutrace diff` of every example cloud's real captures with what the agents program,
    from its topology file and from its Neutron objects as the API gives them (what those lack
    read from the captures): no differences (docs/importing.md, "diff")."""
    import json
    import tempfile

    from neutrace.app.diff import expected_state
    from neutrace.verify.drift import compare
    from tests.support.neutron_export import api_bodies

    c = captured.cloud
    imported = captured.imported.cloud
    drift = compare(c.state, imported.cold)
    assert drift.differences == (), drift.differences[:3]
    if c.path.parent.name == "ha":
        pytest.xfail("an HA router's ha- ports and HA network come from the export but the "
                     "topology makes its own (docs/importing.md, 'Not yet')")
    with tempfile.TemporaryDirectory(prefix="nt-export-") as d:
        export = Path(d) / "neutron-objects.json"
        export.write_text(json.dumps(api_bodies(load(c.path))))
        state, assumed = expected_state([export], imported)
    assert assumed == ()
    drift = compare(state, imported.cold)
    assert drift.differences == (), drift.differences[:3]
