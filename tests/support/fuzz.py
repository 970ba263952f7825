"""The fuzz targets of neutrace's parsers and loaders, shared by the property tests
(``tests/*/test_fuzz*.py``), the corpus replay, ``pytest -m fuzz`` and
``scripts/fuzz_campaign.py``.

A `Target` is one parser (or loader) with the project's own valid inputs as seeds (examples/,
tests/data/, tests/golden/) and, where one exists, its formatter. `inputs(target)` is a hypothesis
strategy of texts: seeds mutated as a user's files arrive (truncated, hand-edited, numbers
swapped for huge/negative/leading-zero/Unicode ones, NULs, quotes, duplicated spans) and the
target's grammar-aware generator (`tests.support.fuzz_grammar`). `check(target, text)` runs one
input and says what went wrong, if anything: an exception that is not a `NeutraceError`, a parse
slower than the time bound (CPU seconds), or a round trip ``parse(format(x)) != x``.
"""

from __future__ import annotations

import functools
import gc
import os
import random
import re
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

from neutrace.errors import InputWarning, NeutraceError
from tests.support.paths import DATA, EXAMPLES, GOLDEN_DIR, REPO

CORPUS = DATA / "fuzz-corpus"
#: Examples per target in a test run: 2,000 in CI (derandomized: the same inputs every landing),
#: 300 locally; NEUTRACE_FUZZ_EXAMPLES overrides both.
FUZZ_EXAMPLES = int(os.environ.get("NEUTRACE_FUZZ_EXAMPLES", "0") or 0) or (
    2000 if os.environ.get("CI", "").lower() == "true" else 300)
#: CPU seconds one input may take (the campaign's bound; the tests allow a margin for a loaded
#: machine, see TEST_TIME_BOUND).
TIME_BOUND = 0.5
TEST_TIME_BOUND = 2.0


@dataclass(frozen=True)
class Target:
    """One parser under fuzz: ``parse(text)`` raises only `NeutraceError`s on bad input;
    ``same(text)`` (when a formatter exists) returns ``(parse(text), parse(format(parse(text))))``
    for a text that parses, which must be equal."""

    name: str
    parse: Callable[[str], object]
    seeds: Callable[[], tuple[str, ...]]
    round_trip: Callable[[object], tuple[object, object]] | None = None
    grammar: Callable[[], st.SearchStrategy[str]] | None = None
    binary: bool = False  # the input is written to files and read back as bytes


@dataclass(frozen=True)
class Finding:
    """What one input did wrong: ``kind`` is ``crash``, ``slow`` or ``round-trip``."""

    target: str
    kind: str
    text: str
    detail: str
    seconds: float = 0.0


@dataclass
class Stats:
    """A campaign's figures for one target."""

    target: str
    inputs: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    slowest_text: str = ""
    typed_errors: int = 0
    findings: list[Finding] = field(default_factory=list)


def check(target: Target, text: str, bound: float = TIME_BOUND) -> tuple[Finding | None, float,
                                                                          bool]:
    """Run ``target`` on ``text``: (the finding or None, CPU seconds, whether it was refused
    with a typed error)."""
    refused = False
    result: object = None
    collecting = gc.isenabled()
    gc.disable()  # a collection of the harness's own garbage is not the parser's time
    start = time.process_time()
    try:
        result = target.parse(text)
    except NeutraceError as exc:
        refused = True
        if not str(exc):
            return Finding(target.name, "crash", text, "a typed error with no message"), 0.0, True
    except RecursionError:
        return (Finding(target.name, "crash", text, traceback.format_exc(limit=3)),
                time.process_time() - start, False)
    except Exception:  # noqa: BLE001 - this is what the fuzzer looks for
        return (Finding(target.name, "crash", text, traceback.format_exc(limit=-6)),
                time.process_time() - start, False)
    finally:
        if collecting:
            gc.enable()
    seconds = time.process_time() - start
    if seconds > bound:
        return Finding(target.name, "slow", text, f"{seconds:.2f} s", seconds), seconds, refused
    if not refused and target.round_trip is not None:
        try:
            first, second = target.round_trip(result)
        except Exception:  # noqa: BLE001
            return (Finding(target.name, "round-trip", text, traceback.format_exc(limit=-6)),
                    seconds, refused)
        if first != second:
            return (Finding(target.name, "round-trip", text, f"{first!r}\n!=\n{second!r}"),
                    seconds, refused)
    return None, seconds, refused


# -- seeds: the project's own valid inputs --------------------------------------------------------


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@functools.cache
def _golden_sections() -> dict[str, tuple[str, ...]]:
    """The sections of the `neutrace show` goldens by kind (flows, iptables, vsctl show)."""
    out: dict[str, list[str]] = {"flows": [], "iptables": [], "vsctl": []}
    for path in sorted((GOLDEN_DIR / "show").glob("*.txt")):
        title = ""
        body: list[str] = []
        for line in [*_read(path).splitlines(), "--- end ---"]:
            if line.startswith("--- ") or line.startswith("=== "):
                text = "\n".join(body) + "\n"
                if "dump-flows" in title:
                    out["flows"].append(text)
                elif "tables-save" in title:
                    out["iptables"].append(text)
                elif "ovs-vsctl show" in title:
                    out["vsctl"].append(text)
                title, body = line, []
            else:
                body.append(line)
    return {k: tuple(v) for k, v in out.items()}


@functools.cache
def flow_seeds() -> tuple[str, ...]:
    """Flow lines: dump-flows outputs under tests/data/ofctl and the show goldens."""
    texts = [_read(p) for p in sorted((DATA / "ofctl").glob("*.txt"))]
    texts += _golden_sections()["flows"]
    lines = {ln.strip() for t in texts for ln in t.splitlines()
             if "actions=" in ln and not ln.lstrip().startswith("#")}
    return tuple(sorted(lines))


@functools.cache
def flows_file_seeds() -> tuple[str, ...]:
    return tuple([_read(p) for p in sorted((DATA / "ofctl").glob("*.txt"))]
                 + list(_golden_sections()["flows"]))


@functools.cache
def iptables_seeds() -> tuple[str, ...]:
    from tests.support import samples

    texts = [v for k, v in sorted(vars(samples).items())
             if k.isupper() and isinstance(v, str) and v.lstrip().startswith("*")]
    return tuple(texts + list(_golden_sections()["iptables"]))


@functools.cache
def ipset_seeds() -> tuple[str, ...]:
    from tests.support import samples

    return tuple(v for k, v in sorted(vars(samples).items())
                 if k.isupper() and isinstance(v, str) and v.lstrip().startswith("create"))


def _ovsdump(name: str) -> str:
    return _read(DATA / "ovsdump" / name)


@functools.cache
def trace_seeds() -> tuple[str, ...]:
    texts = [_read(p) for p in sorted((DATA / "ovsdump").glob("trace-*.txt"))]
    return tuple(texts)


@functools.cache
def microflow_seeds() -> tuple[str, ...]:
    texts = [_read(p) for p in sorted((DATA / "ovsdump").glob("trace-*.txt"))]
    texts += [_read(p) for p in sorted((GOLDEN_DIR / "ofproto").glob("*.txt"))]
    found = {m.group(1) for t in texts for m in re.finditer(r"^(?:Final )?[Ff]low: (.+)$", t,
                                                              re.M)}
    found.add("in_port=3,vlan_tci=0x0000,dl_src=fa:16:3e:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,arp,"
              "arp_spa=10.0.0.1,arp_tpa=10.0.0.2,arp_op=1")
    found.add("in_port=qvo1,dl_vlan=5,dl_vlan_pcp=3,tcp,nw_src=10.0.0.1,nw_dst=10.0.0.2,"
              "tcp_src=1,tcp_dst=22,tcp_flags=syn|ack,nw_ttl=64,tun_id=0x10")
    return tuple(sorted(found))


@functools.cache
def datapath_seeds() -> tuple[str, ...]:
    found = {m.group(1) for t in trace_seeds()
             for m in re.finditer(r"^Datapath actions: (.+)$", t, re.M)}
    found |= {"push_vlan(vid=5,pcp=0),1,pop_vlan,set(tunnel(tun_id=0x5,src=10.0.0.1,dst=10.0.0.2,"
              "ttl=64,flags(df|key))),2",
              "set(eth(src=fa:16:3e:00:00:01,dst=fa:16:3e:00:00:02)),set(ipv4(src=10.0.0.1,"
              "dst=10.0.0.2,ttl=63)),3",
              "masked_set(arp(sip=1.2.3.4/255.255.255.255,op=2,sha=fa:16:3e:00:00:09)),4",
              "set(tcp(src=80,dst=8080)),clone(pop_vlan,5),ct(zone=1),recirc(0x1)",
              "set(ipv6(src=fe80::1,dst=fe80::2)),set(udp(src=67,dst=68)),drop"}
    return tuple(sorted(found))


@functools.cache
def topology_seeds() -> tuple[str, ...]:
    paths = sorted(EXAMPLES.glob("*/cloud.yaml")) + sorted((DATA / "clouds").glob("*.yaml"))
    paths += sorted((DATA / "topology").glob("*.yaml"))
    return tuple(_read(p) for p in paths)


@functools.cache
def topology_json_seeds() -> tuple[str, ...]:
    import json

    from neutrace import topology

    out = []
    for text in topology_seeds()[:3]:
        out.append(json.dumps(topology.dump(topology.loads(text)), indent=1))
    return tuple(out)


# -- the targets ------------------------------------------------------------------------------


def _flow_rt(flow: object) -> tuple[object, object]:
    from neutrace.dataplane import Flow
    from neutrace.syntax.ofctl import format_flow, parse_flow

    assert isinstance(flow, Flow)
    return flow, parse_flow(format_flow(flow))


def _flows_rt(flows: object) -> tuple[object, object]:
    from neutrace.syntax.ofctl import format_flow, parse_flows

    assert isinstance(flows, tuple)
    return flows, parse_flows("\n".join(format_flow(f) for f in flows))


def _ipt_rt(rs: object) -> tuple[object, object]:
    from neutrace.syntax.iptables import format_iptables_save, parse_iptables_save

    return rs, parse_iptables_save(format_iptables_save(rs))  # type: ignore[arg-type]


def _ipset_rt(sets: object) -> tuple[object, object]:
    from neutrace.syntax.iptables import format_ipset_save, parse_ipset_save

    return sets, parse_ipset_save(format_ipset_save(sets))  # type: ignore[arg-type]


def _vsctl_rt(show: object) -> tuple[object, object]:
    from neutrace.syntax.ovsdump import format_vsctl_show, parse_vsctl_show

    return show, parse_vsctl_show(format_vsctl_show(show))  # type: ignore[arg-type]


def _ofctl_show_rt(show: object) -> tuple[object, object]:
    from neutrace.syntax.ovsdump import OfctlShow, format_ofctl_show, parse_ofctl_show

    assert isinstance(show, OfctlShow)  # the formatter lists the ports in ofport order
    ordered = OfctlShow(show.dpid, tuple(sorted(show.ports, key=lambda p: p.ofport)))
    return ordered, parse_ofctl_show(format_ofctl_show(show))


def _trace_rt(trace: object) -> tuple[object, object]:
    from neutrace.syntax.ovsdump import OfprotoTrace, format_ofproto_trace, parse_ofproto_trace

    assert isinstance(trace, OfprotoTrace)
    again = parse_ofproto_trace(format_ofproto_trace(trace))
    return format_ofproto_trace(trace), format_ofproto_trace(again)


def _microflow_rt(mf: object) -> tuple[object, object]:
    from neutrace.syntax.microflow import format_microflow, parse_microflow

    return mf, parse_microflow(format_microflow(mf))  # type: ignore[arg-type]


def _parse_flow(text: str) -> object:
    from neutrace.syntax.ofctl import parse_flow

    return parse_flow(text)


def _parse_flows(text: str) -> object:
    from neutrace.syntax.ofctl import parse_flows

    return parse_flows(text)


def _parse_actions(text: str) -> object:
    from neutrace.syntax.ofctl import parse_flow

    return parse_flow("actions=" + text)


def _parse_ipt(text: str) -> object:
    from neutrace.syntax.iptables import parse_iptables_save

    return parse_iptables_save(text)


def _parse_ipset(text: str) -> object:
    from neutrace.syntax.iptables import parse_ipset_save

    return parse_ipset_save(text)


def _parse_vsctl(text: str) -> object:
    from neutrace.syntax.ovsdump import parse_vsctl_show

    return parse_vsctl_show(text)


def _parse_ofctl_show(text: str) -> object:
    from neutrace.syntax.ovsdump import parse_ofctl_show

    return parse_ofctl_show(text)


def _parse_dpif(text: str) -> object:
    from neutrace.syntax.ovsdump import parse_dpif_show

    return parse_dpif_show(text)


def _parse_vsctl_list(text: str) -> object:
    from neutrace.syntax.ovsdump import parse_vsctl_list

    return parse_vsctl_list(text)


def _parse_trace(text: str) -> object:
    from neutrace.syntax.ovsdump import parse_ofproto_trace

    return parse_ofproto_trace(text)


def _parse_datapath(text: str) -> object:
    from neutrace.packet import ipv4
    from neutrace.syntax.ovsdump import datapath_outputs, parse_datapath_actions

    actions = parse_datapath_actions(text)
    return datapath_outputs(actions, ipv4("fa:16:3e:00:00:01", "fa:16:3e:00:00:02", "10.0.0.1",
                                          "10.0.0.2"))


def _parse_microflow(text: str) -> object:
    from neutrace.syntax.microflow import parse_microflow

    return parse_microflow(text)


def _parse_topology(text: str) -> object:
    from neutrace.topology.source import parse

    return parse(text, "<fuzz>.yaml")


def _load_topology(text: str) -> object:
    from neutrace import topology

    return topology.loads(text, source="<fuzz>")


#: The sos folder files a `sos` input is split into (``@@@ NAME`` headers in the text).
SOS_SPLIT = re.compile(r"^@@@ (\S*)\n", re.M)


def sos_text(files: dict[str, str]) -> str:
    """A sos folder as one text (``@@@ NAME`` then the file's content), for mutation."""
    return "".join(f"@@@ {name}\n{body}" for name, body in files.items())


def write_sos_folder(text: str, folder: Path) -> None:
    """Lay ``text`` (see `sos_text`) out as files of ``folder`` (names as they come: a name
    with a NUL or a ``/`` in it is written with those replaced, which the loader then sees)."""
    parts = SOS_SPLIT.split(text)
    for name, body in zip(parts[1::2], parts[2::2], strict=False):
        safe = name.replace("\x00", "_").replace("/", "_") or "_"
        try:
            (folder / safe[:250]).write_bytes(body.encode("utf-8", "surrogateescape"))
        except (OSError, ValueError):
            continue


@functools.cache
def sos_seeds() -> tuple[str, ...]:
    files = {"ovs-vsctl_-t_5_show": _ovsdump("vsctl-show.txt"),
             "ovs-ofctl_show_br-int": _ovsdump("ofctl-show-br-int.txt"),
             "ovs-vsctl_-t_5_list_interface": _ovsdump("vsctl-list-interface.txt")}
    seed = _read(DATA / "ofctl" / "seed-of13-stats.txt")
    files["ovs-ofctl_-O_OpenFlow13_dump-flows_br-int"] = seed
    return (sos_text(files),)


def _load_sos(text: str) -> object:
    from neutrace.importers.ovs_dumps import load_sos

    with tempfile.TemporaryDirectory(prefix="nt-fuzz-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", InputWarning)
        write_sos_folder(text, Path(tmp))
        return load_sos(tmp)


def _grammar(name: str) -> Callable[[], st.SearchStrategy[str]]:
    def make() -> st.SearchStrategy[str]:
        from tests.support import fuzz_grammar

        strategy: st.SearchStrategy[str] = getattr(fuzz_grammar, name)()
        return strategy
    return make


def _linux(*names: str) -> Callable[[], tuple[str, ...]]:
    return lambda: tuple(_read(DATA / "linux" / n) for n in names)


def _ovs(*names: str) -> Callable[[], tuple[str, ...]]:
    return lambda: tuple(_read(DATA / "ovsdump" / n) for n in names)


def _module_target(name: str, module: str, parse: str, fmt: str | None,
                   seeds: Callable[[], tuple[str, ...]]) -> Target:
    """A target of ``neutrace.syntax.<module>``'s ``parse`` (and ``fmt``, its formatter)."""
    import importlib

    def run(text: str) -> object:
        return getattr(importlib.import_module(f"neutrace.syntax.{module}"), parse)(text)

    def round_trip(value: object) -> tuple[object, object]:
        mod = importlib.import_module(f"neutrace.syntax.{module}")
        assert fmt is not None
        return value, getattr(mod, parse)(getattr(mod, fmt)(value))

    return Target(name, run, seeds, round_trip if fmt else None)


#: The host and OVS-state parsers of the importers (ip, bridge, conntrack, sysctl, libvirt,
#: ovs-vsctl JSON, fdb/show, dump-groups): (target, module, parser, formatter, seed files)
_MORE = (
    ("ip-links-json", "iproute", "parse_links_json", "format_links_json",
     _linux("ip-d-j-address.json", "ip-d-j-address-peer.json")),
    ("ip-links-text", "iproute", "parse_links_text", None,
     _linux("ip-d-address.txt", "ip-d-address-peer.txt", "ip-o-addr.txt")),
    ("ip-routes-json", "iproute", "parse_routes_json", "format_routes_json",
     _linux("ip-d-j-route.json", "ip-6-d-j-route.json")),
    ("ip-routes-text", "iproute", "parse_routes_text", None, _linux("ip-route.txt",
                                                                   "ip-6-route.txt")),
    ("ip-rules-json", "iproute", "parse_rules_json", "format_rules_json",
     _linux("ip-j-rule.json", "ip-6-j-rule.json")),
    ("ip-rules-text", "iproute", "parse_rules_text", None, _linux("ip-4-rule.txt",
                                                                 "ip-6-rule.txt")),
    ("ip-neigh-json", "iproute", "parse_neigh_json", "format_neigh_json",
     _linux("ip-j-neigh.json")),
    ("ip-neigh-text", "iproute", "parse_neigh_text", None, _linux("ip-s-s-neigh.txt")),
    ("ip-netns-ids", "iproute", "parse_netns_ids", None, _linux("netns-list-id.json")),
    ("bridge-fdb-json", "bridgecmd", "parse_fdb_json", "format_fdb_json",
     _linux("bridge-d-j-fdb.json")),
    ("bridge-fdb-text", "bridgecmd", "parse_fdb_text", None, _linux("bridge-fdb.txt")),
    ("bridge-link-json", "bridgecmd", "parse_bridge_links_json", "format_bridge_links_json",
     _linux("bridge-d-j-link.json")),
    ("bridge-link-text", "bridgecmd", "parse_bridge_links_text", None,
     _linux("bridge-link.txt")),
    ("conntrack", "conntrack", "parse_conntrack", "format_conntrack",
     _linux("conntrack.txt", "conntrack-extended.txt")),
    ("sysctl", "sysctl", "parse_sysctl", "format_sysctl", _linux("sysctl.txt")),
    ("libvirt", "libvirt", "parse_domain", None, _linux("libvirt-instance.xml")),
    ("vsctl-json", "ovsdb_json", "parse_vsctl_json", None,
     _ovs("vsctl-json-interface.json", "vsctl-json-port.json")),
    ("ovs-fdb", "ovsfdb", "parse_fdb_show", "format_fdb_show", _ovs("fdb-show.txt")),
    ("ofgroups", "ofgroups", "parse_groups", "format_groups", _ovs("dump-groups.txt")),
)

TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("ofctl.flow", _parse_flow, flow_seeds, _flow_rt, _grammar("flow_lines")),
    Target("ofctl.flows", _parse_flows, flows_file_seeds, _flows_rt),
    Target("ofactions", _parse_actions, lambda: tuple(
        ln.partition("actions=")[2] for ln in flow_seeds()), None, _grammar("actions")),
    Target("iptables", _parse_ipt, iptables_seeds, _ipt_rt, _grammar("iptables_saves")),
    Target("ipset", _parse_ipset, ipset_seeds, _ipset_rt),
    Target("vsctl-show", _parse_vsctl, lambda: (_ovsdump("vsctl-show.txt"),
                                                *_golden_sections()["vsctl"]), _vsctl_rt),
    Target("ofctl-show", _parse_ofctl_show, lambda: (_ovsdump("ofctl-show-br-int.txt"),),
           _ofctl_show_rt),
    Target("dpif-show", _parse_dpif, lambda: (_ovsdump("dpif-show.txt"),)),
    Target("vsctl-list", _parse_vsctl_list, lambda: (_ovsdump("vsctl-list-interface.txt"),)),
    Target("ofproto-trace", _parse_trace, trace_seeds, _trace_rt),
    Target("datapath-actions", _parse_datapath, datapath_seeds, None,
           _grammar("datapath_actions")),
    Target("microflow", _parse_microflow, microflow_seeds, _microflow_rt,
           _grammar("microflows")),
    Target("topology.source", _parse_topology, lambda: topology_seeds()
           + topology_json_seeds(), None, _grammar("yaml_texts")),
    Target("topology", _load_topology, lambda: topology_seeds() + topology_json_seeds()),
    Target("sos", _load_sos, sos_seeds, binary=True),
    *(_module_target(*spec) for spec in _MORE),
)}


# -- mutation ----------------------------------------------------------------------------------

#: Pieces a hand-edited or hostile file holds: numbers at and past every limit, leading zeros,
#: Unicode digits and spaces, NULs and control bytes, line breaks Python splits on (NEL, U+2028),
#: quotes, brackets, YAML tags, anchors and aliases, JSON's NaN/Infinity.
PIECES: tuple[str, ...] = (
    "", "0", "1", "-1", "+1", "00", "010", "007", "0x", "0x0", "0X1F", "0o7", "0b1", "1_000",
    "255", "256", "4095", "4096", "65535", "65536", "70000", "4294967295", "4294967296",
    "18446744073709551615", "18446744073709551616", "9" * 30, "9" * 5000, "0x" + "f" * 4000,
    "1" + "0" * 4400, "1e999", "-0", "0.5", "NaN", "Infinity", "-Infinity", "nan",
    "²", "٣", "１", "⁰", "½", "ⅷ", "\u00a0", "\u2009", "\x00", "\x01", "\x7f", "\x85",
    "\u2028", "\u2029", "\x1c", "\x0b", "\x0c", "\r", "\r\n", "\t", "\n", " ", "  ",
    "\ufeff", "\udcff", "é", "İ", "ß", "ﬀ", "😀", "\u202e",
    "!", '"', "'", "\\", "`", "(", ")", "[", "]", "{", "}", "<", ">", ",", ";", "=", ":",
    "/", "->", "..", "...", "|", "&", "*", "%", "#", "@", "-", "+", "$", "~", "?",
    "!!bool", "!!timestamp", "!!float a", "!!set", "!!int", "!!str", "!!map", "!!seq",
    "!!python/object:os.system", "!custom", "&a ", "*a", "<<: *a", "? ", "--- ", "...\n",
    "{}", "[]", "null", "~", "true", "yes", "on", "a" * 300, "a" * 5000,
    "ff:ff:ff:ff:ff:ff", "fa:16:3e:00:00:01/ff:ff:ff:00:00:00", "1.2.3.4", "1.2.3.4.5",
    "1.2.3", "999.1.1.1", "01.02.03.04", "0x7f.1", "::", "::1", "fe80::1%eth0", ":::",
    "1.2.3.4/33", "/0", "/-1", "[0..15]", "[15..0]", "[]", "[99]", "NXM_NX_REG0",
    "reg0", "in_port", "actions=", "priority=", "table=255", "-A", "-m", "-j", "! ",
    "COMMIT", "*filter", ":INPUT ACCEPT [0:0]", "[99999999999999999999:1]", "Bridge ",
    "Port ", "Interface ", "options: {", "recirc(0x1)", 'bridge("br-int")',
    "Datapath actions: ", "Flow: ", " 0. ", "priority 1", "ct(", "nat(src=1.2.3.4:1-)",
    "nat(dst=1.2.3.4:99999)", "nat(src=:-)", "push_vlan(vid)", "set(arp(sha))",
    "set(ipv4(ttl=x))", "clone(", "learn(", "resubmit(,", "load:", "move:",
)


def mutate(text: str, rnd: random.Random) -> str:
    """``text`` mutated 1-5 times (insert, replace, delete, duplicate a span or a line, swap a
    number or a word for an interesting piece, truncate), choices from ``rnd``."""
    for _ in range(rnd.randint(1, 5)):
        op = rnd.randrange(9)
        n = len(text)
        pos = rnd.randint(0, n)
        piece = rnd.choice(PIECES) if rnd.random() < 0.85 else "".join(
            chr(rnd.choice((rnd.randrange(32, 127), rnd.randrange(0, 0x3000))))
            for _ in range(rnd.randint(1, 4)))
        span = rnd.randint(1, 40)
        if op == 0:
            text = text[:pos] + piece + text[pos:]
        elif op == 1:
            text = text[:pos] + piece + text[pos + span:]
        elif op == 2:
            text = text[:pos] + text[pos + span:]
        elif op == 3:
            text = text[:pos] + text[pos:pos + span] * rnd.randint(2, 200) + text[pos:]
        elif op == 4:
            text = text[:pos]
        elif op == 5:
            numbers = [m.span() for m in re.finditer(r"[0-9]+", text)]
            if numbers:
                a, b = rnd.choice(numbers)
                text = text[:a] + piece + text[b:]
        elif op == 6:
            lines = text.splitlines(keepends=True)
            if lines:
                i, j = rnd.randrange(len(lines)), rnd.randrange(len(lines))
                lines[i], lines[j] = lines[j], lines[i]
                if rnd.random() < 0.5:
                    lines.insert(i, lines[j])
                text = "".join(lines)
        elif op == 7:
            words = [m.span() for m in re.finditer(r"[^\s,=:()\[\]{}]+", text)]
            if words:
                a, b = rnd.choice(words)
                text = text[:a] + piece + text[b:]
        else:
            text = text[:pos] + piece * rnd.randint(1, 50) + text[pos:]
    return text


def mutated(seeds: Sequence[str]) -> st.SearchStrategy[str]:
    """One of ``seeds`` mutated (`mutate`): hypothesis draws one number, the mutation follows
    from it (cheap to generate; the failing input itself is printed and kept in the corpus)."""
    ordered = tuple(seeds)
    return st.integers(0, 2**63).map(
        lambda n: mutate(ordered[n % len(ordered)], random.Random(n)))


def assert_robust(target: Target, examples: int = 0) -> None:
    """The property test of one target: ``examples`` (default `FUZZ_EXAMPLES`) generated inputs,
    each refused with a typed error or parsed within the time bound (and round-tripping)."""
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=examples or FUZZ_EXAMPLES, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.large_base_example])
    @given(inputs(target))
    def run(text: str) -> None:
        finding, _, _ = check(target, text, TEST_TIME_BOUND)
        assert finding is None, f"{finding.kind}: {finding.text[:2000]!r}\n{finding.detail}"

    run()


def campaign(target: Target, n: int, bound: float = TIME_BOUND, seed: int | None = None) -> Stats:
    """Run ``n`` inputs on ``target`` and keep every finding (the run does not stop at one):
    derandomized (the same inputs every run) unless ``seed`` is given."""
    import hypothesis
    from hypothesis import HealthCheck, Phase, given, settings

    stats = Stats(target.name)

    @settings(max_examples=n, deadline=None, database=None, derandomize=seed is None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(inputs(target))
    def run(text: str) -> None:
        finding, seconds, refused = check(target, text, bound)
        stats.inputs += 1
        stats.seconds += seconds
        stats.typed_errors += refused
        if seconds > stats.slowest:
            stats.slowest, stats.slowest_text = seconds, text
        if finding is not None and len(stats.findings) < 200:
            stats.findings.append(finding)

    if seed is not None:
        run = hypothesis.seed(seed)(run)
    run()
    return stats


def inputs(target: Target) -> st.SearchStrategy[str]:
    """Mutated seeds and, when the target has one, its grammar-aware generator."""
    strategy = mutated(target.seeds())
    if target.grammar is not None:
        strategy = st.one_of(strategy, target.grammar())
    return strategy


# -- the corpus of inputs that once crashed -------------------------------------------------------


def corpus_files() -> list[Path]:
    """Every saved input: ``tests/data/fuzz-corpus/<target>/<name>`` (bytes as found)."""
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.glob("*/*") if p.is_file())


def corpus_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "surrogateescape")


def save_finding(finding: Finding) -> Path:
    """Keep a finding's input in the corpus (named by its content's hash)."""
    import hashlib

    data = finding.text.encode("utf-8", "surrogateescape")
    folder = CORPUS / finding.target
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{finding.kind}-{hashlib.sha256(data).hexdigest()[:16]}"
    path.write_bytes(data)
    return path


def relative(path: Path) -> str:
    return os.path.relpath(path, REPO)
