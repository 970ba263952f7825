"""Helpers of the Neutron conformance tests: run scripts/neutron_conformance.py (Neutron's own agent
code, in the virtualenv that has neutron) and put neutrace's state through the same real tools, so
that both sides are compared in the same canonical text.

- flows: ours are loaded into a sandbox bridge (`neutrace.backends.ovs_load.load_bridges`) and
  dumped with the very ``ovs-ofctl`` command the script uses on Neutron's bridges
  (``--names --no-stats -O OpenFlow13 dump-flows``); cookies are dropped (Neutron's are random per
  agent), also inside ``learn()``; flows are compared as multisets per (bridge, table);
- iptables: ours are restored into a private namespace ``nt-conf-ours-*`` with ``ipset restore``
  and ``iptables-restore`` and read back with ``iptables-save``, as Neutron's rules were; counters,
  comments lines and the ``bucketsize``/``initval`` that the kernel picks for an ipset are dropped;
  rules are compared per (table, chain) in order.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neutrace.backends.ovs_load import delete_bridges, load_bridges
from neutrace.backends.ovs_sandbox import OvsSandbox
from neutrace.dataplane import HostState
from tests.support.paths import REPO

SCRIPT = REPO / "scripts" / "neutron_conformance.py"
DEFAULT_NEUTRON_PYTHON = "/opt/neutrace-neutron-venv/bin/python"
DUMP_FLOWS = ("--names", "--no-stats", "-O", "OpenFlow13", "dump-flows")
VIF_PREFIXES = ("qvo", "qr-", "qg-", "tap")


def neutron_python() -> str | None:
    """The Python that has neutron (NEUTRACE_NEUTRON_PYTHON, default the CI virtualenv's)."""
    py = os.environ.get("NEUTRACE_NEUTRON_PYTHON", DEFAULT_NEUTRON_PYTHON)
    if not Path(py).exists():
        return None
    probe = subprocess.run([py, "-c", "import neutron, os_ken"], capture_output=True, check=False)
    return py if probe.returncode == 0 else None


# ---------------------------------------------------------------------------------------------
# running Neutron


def hints_for(host: HostState) -> dict[str, Any]:
    """The ofports of the ports that Nova/os-vif, the L3/DHCP agents and the operator plug
    (VIFs and NICs): an environment fact, not Neutron logic, so Neutron's run uses ours."""
    ofports: dict[str, int] = {}
    for b in host.ovs_bridges:
        for p in b.ports:
            if p.type in ("", "internal", "system") and p.name != b.name and p.ofport < 65000:
                ofports[p.name] = p.ofport
    return {"ofports": ofports, **dvr_hints(host)}


_FIP_DNAT = re.compile(r"-d (\S+)/32 -i rfp-\S+ -j DNAT --to-destination (\S+)")


def dvr_hints(host: HostState) -> dict[str, Any]:
    """What a DVR host's kernel and state files hold that Neutron did not choose: the MACs of
    the rfp-/fpr- veth ends (random in the kernel) and each floating IP's ip rule priority
    (``fip-priorities``: Neutron draws it from a set hashed by strings, random per process)."""
    macs: dict[str, str] = {}
    priorities: dict[str, int] = {}
    for ns in host.namespaces:
        for itf in ns.interfaces:
            if itf.kind == "veth" and itf.name.startswith(("rfp-", "fpr-")) and itf.mac:
                macs[itf.name] = itf.mac
        fixed_to_fip = {fixed: fip for fip, fixed in _FIP_DNAT.findall(ns.iptables)}
        for rule in ns.rules:
            fixed = (rule.source or "").removesuffix("/32")
            if rule.table == "16" and fixed in fixed_to_fip:
                priorities[fixed_to_fip[fixed]] = rule.priority
    return {"macs": macs, "fip_priorities": priorities} if macs else {}


WATCHDOG_EXIT = 3  # the script's exit status when its watchdog found it hung (and cleaned up)


def run_neutron(python: str, topology: Path, host: str, hints: dict[str, Any],
                timeout: float = 420) -> dict[str, Any]:
    """The script's result for one host. A run its watchdog ended (a rare hang of the os-ken
    OpenFlow connection, seen once in about a hundred runs) is retried once."""
    try:
        return _run_neutron_once(python, topology, host, hints, timeout)
    except _Hung:
        return _run_neutron_once(python, topology, host, hints, timeout)


class _Hung(RuntimeError):
    pass


def _run_neutron_once(python: str, topology: Path, host: str, hints: dict[str, Any],
                      timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nt-conf-") as d:
        hints_path = Path(d) / "hints.json"
        out_path = Path(d) / "out.json"
        hints_path.write_text(json.dumps(hints))
        proc = subprocess.run(
            [python, str(SCRIPT), str(topology), "--host", host, "--hints", str(hints_path),
             "-o", str(out_path)],
            capture_output=True, text=True, timeout=timeout, check=False,
        )
        if proc.returncode == WATCHDOG_EXIT:
            raise _Hung(f"neutron_conformance.py {topology.name} --host {host} hung:\n"
                        f"{proc.stderr[-4000:]}")
        if proc.returncode != 0 or not out_path.exists():
            raise RuntimeError(f"neutron_conformance.py {topology.name} --host {host} failed "
                               f"({proc.returncode}):\n{proc.stderr[-4000:]}")
        result: dict[str, Any] = json.loads(out_path.read_text())
        return result


def run_many(python: str, jobs: Iterable[tuple[Path, str, dict[str, Any]]],
             workers: int = 8) -> dict[tuple[str, str], dict[str, Any] | Exception]:
    """Run the script for many (topology, host) at once (each has its own sandbox and netns)."""
    jobs = list(jobs)

    def one(job: tuple[Path, str, dict[str, Any]]) -> dict[str, Any] | Exception:
        try:
            return run_neutron(python, *job)
        except Exception as exc:  # reported by the test of that host
            return exc

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(one, jobs))
    return {(str(t), h): r for (t, h, _), r in zip(jobs, results, strict=True)}


# ---------------------------------------------------------------------------------------------
# flows

_COOKIE = re.compile(r"\bcookie=0x[0-9a-fA-F]+,\s*")
_TABLE = re.compile(r"\btable=(\d+),\s*")
_STATS = re.compile(r"\b(duration|n_packets|n_bytes|idle_age|hard_age)=[^,\s]+,\s*")


def normalize_flow(line: str) -> tuple[int, str]:
    """(table, the flow without cookie/statistics/table) of one dump-flows line."""
    text = _STATS.sub("", _COOKIE.sub("", line.strip()))
    m = _TABLE.search(text)
    table = int(m.group(1)) if m else 0
    text = _TABLE.sub("", text, count=1)
    return table, text.strip()


def flows_by_table(lines: Iterable[str]) -> dict[int, Counter[str]]:
    out: dict[int, Counter[str]] = {}
    for line in lines:
        if not line.strip() or line.startswith(("NXST_FLOW", "OFPST_FLOW")):
            continue
        table, text = normalize_flow(line)
        out.setdefault(table, Counter())[text] += 1
    return out


def dump_ours(sandbox: OvsSandbox, host: HostState) -> dict[str, list[str]]:
    """Load ``host``'s bridges into ``sandbox``, dump their flows as the script does, drop them."""
    names = [b.name for b in host.ovs_bridges]
    try:
        load_bridges(sandbox, host.ovs_bridges)
        return {b: sandbox.ofctl(*DUMP_FLOWS, sandbox.bridge_socket(b)).splitlines()
                for b in names}
    finally:
        delete_bridges(sandbox, names)


@dataclass(frozen=True)
class TableDiff:
    bridge: str
    table: int
    only_ours: tuple[str, ...]
    only_neutron: tuple[str, ...]

    def __str__(self) -> str:
        lines = [f"{self.bridge} table={self.table}:"]
        lines += [f"  - neutron  {f}" for f in self.only_neutron]
        lines += [f"  + neutrace {f}" for f in self.only_ours]
        return "\n".join(lines)


def compare_flows(ours: dict[str, list[str]], neutron: dict[str, list[str]]) -> list[TableDiff]:
    diffs: list[TableDiff] = []
    for bridge in sorted(set(ours) | set(neutron)):
        a = flows_by_table(ours.get(bridge, []))
        b = flows_by_table(neutron.get(bridge, []))
        for table in sorted(set(a) | set(b)):
            ca, cb = a.get(table, Counter()), b.get(table, Counter())
            only_a, only_b = ca - cb, cb - ca
            if only_a or only_b:
                diffs.append(TableDiff(bridge, table, tuple(sorted(only_a.elements())),
                                       tuple(sorted(only_b.elements()))))
    return diffs


# ---------------------------------------------------------------------------------------------
# ports


def our_ports(host: HostState) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for b in host.ovs_bridges:
        for p in b.ports:
            if p.name == b.name or p.ofport == 65534:
                continue
            out[f"{b.name}/{p.name}"] = {"type": p.type or "", "tag": p.tag,
                                         "options": dict(p.options),
                                         "other_config": dict(p.other_config)}
    return out


def neutron_ports(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for br, data in result["bridges"].items():
        for p in data["ports"]:
            out[f"{br}/{p['name']}"] = {"type": p["type"] or "", "tag": p["tag"],
                                        "options": dict(p["options"]),
                                        "other_config": dict(p.get("other_config", {}))}
    return out


def compare_ports(ours: dict[str, dict[str, Any]],
                  neutron: dict[str, dict[str, Any]]) -> list[str]:
    diffs = []
    for key in sorted(set(ours) | set(neutron)):
        a, b = ours.get(key), neutron.get(key)
        if a != b:
            diffs.append(f"{key}:\n  - neutron  {b}\n  + neutrace {a}")
    return diffs


# ---------------------------------------------------------------------------------------------
# netfilter

_COUNTERS = re.compile(r"\s*\[\d+:\d+\]\s*$")
_IPSET_KERNEL = re.compile(r"\s+(bucketsize \d+|initval 0x[0-9a-f]+)")


def netfilter_by_chain(text: str) -> dict[tuple[str, str], list[str]]:
    """iptables-save text -> {(table, chain): [declaration or rules, in order]}."""
    out: dict[tuple[str, str], list[str]] = {}
    table = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or line == "COMMIT":
            continue
        if line.startswith("*"):
            table = line[1:]
            continue
        if line.startswith(":"):
            name, policy = line[1:].split()[:2]
            out.setdefault((table, name), []).insert(0, f":{name} {policy}")
            continue
        parts = line.split()
        if parts[0] == "-A":
            out.setdefault((table, parts[1]), []).append(line)
    return out


def normalize_ipsets(text: str) -> list[str]:
    return sorted(_IPSET_KERNEL.sub("", line).strip() for line in text.splitlines()
                  if line.strip())


TRUSTED = "Accept all packets when port is trusted."


def sort_trusted_runs(rules: list[str]) -> list[str]:
    """Sort each run of consecutive trusted-port ACCEPT rules. Neutron adds them in the order of
    a Python set of port ids (``SecurityGroupAgentRpc._get_trusted_devices``), which changes
    with the interpreter's hash seed: the order within such a run carries no meaning."""
    out: list[str] = []
    run: list[str] = []
    for r in [*rules, ""]:
        if TRUSTED in r:
            run.append(r)
            continue
        out.extend(sorted(run))
        run = []
        if r:
            out.append(r)
    return out


def compare_netfilter(ours: str, neutron: str) -> list[str]:
    a, b = netfilter_by_chain(ours), netfilter_by_chain(neutron)
    a = {k: sort_trusted_runs(v) for k, v in a.items()}
    b = {k: sort_trusted_runs(v) for k, v in b.items()}
    diffs = []
    for key in sorted(set(a) | set(b)):
        la, lb = a.get(key, []), b.get(key, [])
        if la != lb:
            import difflib

            d = "\n".join("  " + x for x in difflib.unified_diff(
                lb, la, "neutron", "neutrace", lineterm="", n=1))
            diffs.append(f"{key[0]} {key[1]}:\n{d}")
    return diffs


def compare_ipsets(ours: str, neutron: str) -> list[str]:
    a, b = Counter(normalize_ipsets(ours)), Counter(normalize_ipsets(neutron))
    out = [f"  - neutron  {x}" for x in sorted((b - a).elements())]
    out += [f"  + neutrace {x}" for x in sorted((a - b).elements())]
    return out


def canonical_netfilter(iptables: str, ip6tables: str, ipsets: str) -> dict[str, str]:
    """Load the three texts into a fresh private namespace (``nt-conf-ours-<pid>``) and save
    them back, as Neutron's rules were saved."""
    ns = f"nt-conf-ours-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        def run(argv: list[str], stdin: str | None = None) -> str:
            p = subprocess.run(["ip", "netns", "exec", ns, *argv], input=stdin,
                               capture_output=True, text=True, check=False)
            if p.returncode != 0:
                raise AssertionError(f"{' '.join(argv)} failed in {ns}: {p.stderr.strip()}\n"
                                     f"input:\n{stdin}")
            return p.stdout

        if ipsets.strip():
            run(["ipset", "restore"], ipsets if ipsets.endswith("\n") else ipsets + "\n")
        if iptables.strip():
            run(["iptables-restore"], iptables)
        if ip6tables.strip():
            run(["ip6tables-restore"], ip6tables)
        return {"iptables-save": run(["iptables-save"]), "ip6tables-save": run(["ip6tables-save"]),
                "ipset": run(["ipset", "save"])}
    finally:
        subprocess.run(["ip", "netns", "delete", ns], check=False)


def have_root() -> bool:
    return os.geteuid() == 0 and sys.platform.startswith("linux")


def neutron_host_state(ours: HostState, result: dict[str, Any]) -> HostState:
    """``ours`` with what Neutron's run programmed in its place: every bridge's ports and flows
    (as ``ovs-ofctl --names`` dumped them) and each namespace's iptables, ip6tables and ipsets
    (for ``neutrace.verify.drift``: a comparison of Neutron's state with the agents')."""
    from dataclasses import replace

    from neutrace.dataplane import OvsBridge, OvsPort
    from neutrace.syntax.ofctl import parse_flows

    bridges = []
    for name, b in result["bridges"].items():
        ports = tuple(OvsPort(
            p["name"], p["ofport"] if isinstance(p["ofport"], int) else -1, p["type"] or "",
            p["tag"], tuple(p["trunks"]), tuple(sorted(p["options"].items())),
            tuple(sorted(p["external_ids"].items())), None,
            tuple(sorted(p.get("other_config", {}).items()))) for p in b["ports"])
        bridges.append(OvsBridge(name, ports, parse_flows("\n".join(b["flows"]),
                                                          source=f"neutron {name}")))
    netfilter = result.get("netfilter", {})
    namespaces = tuple(replace(ns, iptables=netfilter[ns.name]["iptables-save"],
                               ip6tables=netfilter[ns.name]["ip6tables-save"],
                               ipsets=netfilter[ns.name]["ipset"])
                       if ns.name in netfilter else ns for ns in ours.namespaces)
    return replace(ours, ovs_bridges=tuple(bridges), namespaces=namespaces)
