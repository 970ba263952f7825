"""The Open vSwitch side of one captured host (layer 3): `OvsBridge`s, tolerant of what is missing.

Read from a `Capture` (``sos_commands/openvswitch/``, with snap prefixes), best source first:

- bridges, ports and interfaces: the JSON listings ``ovs-vsctl --format=json list
  Bridge/Port/Interface`` (``neutrace collect``), else ``ovs-vsctl show`` with the text of ``list
  interface``/``list bridge`` (what sos collects; it has no Port table, so no Port
  ``other_config`` and no ``vlan_mode``);
- ofports and MACs: the Interface table, else ``ovs-ofctl [-O OpenFlow1x] show BR``;
- flows: ``ovs-ofctl -O OpenFlow13 dump-flows BR`` first (then 1.4, 1.5, the plain one, 1.2,
  1.1, 1.0), skipping a file that holds an error instead of flows (``version negotiation
  failed``...); a line that does not parse is left out and becomes a gap on its table;
- ``ovs-ofctl -O OpenFlow13 dump-groups BR`` and ``ovs-appctl fdb/show BR`` (NORMAL's MAC
  table: warm state).

What is missing or broken is a `Findings` entry (and a `Gap` where the walk must stop): a bridge
without a flow dump, a port that ovs-vswitchd could not open (``error``, ofport -1; the port is
left out: it has no OpenFlow port), an unparsed flow, a MAC entry on an unknown port.

Flows that ``learn()`` made (same table, priority, timeouts and cookie as a learn action of the
bridge) are reported in `OvsCapture.learned_flows`: a cold walk leaves them out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neutrace.dataplane import Flow, LearnedMac, OvsBridge, OvsPort
from neutrace.errors import InputError
from neutrace.importers.diagnostics import Findings
from neutrace.importers.layout import Capture
from neutrace.importers.ovs_dumps import (
    LIST_INTERFACE_FILES,
    VSCTL_SHOW_FILES,
    flows_file_candidates,
    looks_like_error,
    show_file_candidates,
)
from neutrace.syntax import ofactions
from neutrace.syntax.ofctl import parse_flow, parse_flows
from neutrace.syntax.ofgroups import Group, parse_groups
from neutrace.syntax.ovsdb_json import as_list, parse_vsctl_json, scalar
from neutrace.syntax.ovsdump import (
    OFPP_LOCAL,
    OfctlShow,
    parse_ofctl_show,
    parse_vsctl_list,
    parse_vsctl_show,
)
from neutrace.syntax.ovsfdb import MacEntry, parse_fdb_show

JSON_LIST = "ovs-vsctl_-t_5_--format_json_list_{}"


@dataclass
class OvsCapture:
    """One host's OVS bridges and what was learned on them."""

    bridges: tuple[OvsBridge, ...] = ()
    macs: tuple[LearnedMac, ...] = ()
    learned_flows: dict[str, tuple[Flow, ...]] = field(default_factory=dict)
    groups: dict[str, tuple[Group, ...]] = field(default_factory=dict)
    error_ports: dict[str, tuple[str, ...]] = field(default_factory=dict)
    system: dict[str, Any] = field(default_factory=dict)  # the Open_vSwitch row


@dataclass
class _Row:
    """A port as the dumps describe it, before it becomes an `OvsPort`."""

    name: str
    iface: str
    type: str = ""
    tag: int | None = None
    trunks: tuple[int, ...] = ()
    vlan_mode: str | None = None
    options: tuple[tuple[str, str], ...] = ()
    external_ids: tuple[tuple[str, str], ...] = ()
    other_config: tuple[tuple[str, str], ...] = ()
    ofport: int | None = None
    mac: str | None = None
    error: str | None = None
    n_interfaces: int = 1


@dataclass
class _Bridge:
    name: str
    ports: list[_Row] = field(default_factory=list)
    datapath_type: str = ""
    fail_mode: str = ""
    protocols: tuple[str, ...] = ()
    external_ids: tuple[tuple[str, str], ...] = ()


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    if isinstance(value, dict):
        return tuple(sorted((str(k), str(v)) for k, v in value.items()))
    return ()


def _int_or_none(value: Any) -> int | None:
    value = scalar(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def load_ovs(cap: Capture, found: Findings) -> OvsCapture:
    """The bridges of the capture (an empty result, with a gap, when it has no OVS dumps)."""
    bridges = _from_json(cap, found)
    if bridges is None:
        bridges = _from_text(cap, found)
    if bridges is None:
        found.gap("*", "ovs", cap.where("sos_commands/openvswitch/ovs-vsctl_-t_5_show"),
                  "no Open vSwitch dumps (no ovs-vsctl show, no ovs-vsctl --format=json list)",
                  "the host's bridges are unknown: a walk that reaches an OVS port of this host "
                  "stops there")
        return OvsCapture()
    out = OvsCapture()
    built = []
    for b in bridges:
        show_path, show = _ofctl_show(cap, b.name)
        ports = _ports(cap, b, show, show_path, found, out)
        flows = _flows(cap, b.name, found)
        learned = learned_flows(flows)
        if learned:
            out.learned_flows[b.name] = learned
        groups = _groups(cap, b.name, found)
        if groups:
            out.groups[b.name] = groups
        kwargs: dict[str, Any] = {}
        if b.datapath_type:
            kwargs["datapath_type"] = b.datapath_type
        if b.fail_mode:
            kwargs["fail_mode"] = b.fail_mode
        if b.protocols:
            kwargs["protocols"] = b.protocols
        bridge = OvsBridge(name=b.name, ports=tuple(ports), flows=flows,
                           external_ids=b.external_ids, **kwargs)
        built.append(bridge)
        out.macs += _macs(cap, bridge, found)
    out.bridges = tuple(built)
    return out


# -- bridges, ports, interfaces ------------------------------------------------------------------


def _json_rows(cap: Capture, table: str, found: Findings) -> tuple[dict[str, Any], ...] | None:
    path = cap.ovs(JSON_LIST.format(table))
    if path is None:
        return None
    text = cap.read(path)
    if not text.strip():
        return None
    try:
        return parse_vsctl_json(text, cap.where(cap.rel(path)))
    except InputError as exc:
        found.warn(cap.where(cap.rel(path)), f"unreadable: {exc.problem}",
                   "the text dumps are used instead")
        return None


def _from_json(cap: Capture, found: Findings) -> list[_Bridge] | None:
    brs = _json_rows(cap, "Bridge", found)
    ports = _json_rows(cap, "Port", found)
    ifaces = _json_rows(cap, "Interface", found)
    if brs is None or ports is None or ifaces is None:
        return None
    sys_rows = _json_rows(cap, "Open_vSwitch", found)
    port_by = {str(r["_uuid"]): r for r in ports}
    iface_by = {str(r["_uuid"]): r for r in ifaces}
    out = []
    for br in sorted(brs, key=lambda r: str(r.get("name"))):
        b = _Bridge(str(br["name"]), datapath_type=str(scalar(br.get("datapath_type")) or ""),
                    fail_mode=str(scalar(br.get("fail_mode")) or ""),
                    protocols=tuple(sorted(str(p) for p in as_list(br.get("protocols", [])))),
                    external_ids=_pairs(br.get("external_ids")))
        for pu in as_list(br.get("ports", [])):
            p = port_by.get(str(pu))
            if p is None:
                continue
            members = [iface_by[str(u)] for u in as_list(p.get("interfaces", []))
                       if str(u) in iface_by]
            i = members[0] if members else {}
            trunks = tuple(sorted(int(t) for t in as_list(p.get("trunks", []))))
            b.ports.append(_Row(
                name=str(p["name"]), iface=str(i.get("name", p["name"])),
                type=str(i.get("type", "")), tag=_int_or_none(p.get("tag")), trunks=trunks,
                vlan_mode=scalar(p.get("vlan_mode")), options=_pairs(i.get("options")),
                external_ids=_pairs(i.get("external_ids")),
                other_config=_pairs(p.get("other_config")), ofport=_int_or_none(i.get("ofport")),
                mac=scalar(i.get("mac_in_use")), error=scalar(i.get("error")),
                n_interfaces=len(members)))
        out.append(b)
    if sys_rows:
        cap.manifest.setdefault("ovs", sys_rows[0])
    return out


def _from_text(cap: Capture, found: Findings) -> list[_Bridge] | None:
    show_path = cap.ovs(*VSCTL_SHOW_FILES)
    if show_path is None:
        return None
    where = cap.where(cap.rel(show_path))
    try:
        show = parse_vsctl_show(cap.read(show_path), where)
    except InputError as exc:
        found.warn(where, f"unreadable: {exc.problem}", "the host's bridges are unknown")
        return None
    rows: dict[str, dict[str, object]] = {}
    listing = cap.ovs(*LIST_INTERFACE_FILES)
    if listing is not None:
        try:
            rows = {str(r["name"]): r for r in parse_vsctl_list(
                cap.read(listing), cap.where(cap.rel(listing))) if "name" in r}
        except InputError as exc:
            found.warn(cap.where(cap.rel(listing)), f"unreadable: {exc.problem}",
                       "ofports, MACs and external_ids come from ovs-ofctl show only")
    brows: dict[str, dict[str, object]] = {}
    blist = cap.ovs("ovs-vsctl_-t_5_list_bridge", "ovs-vsctl_list_bridge")
    if blist is not None:
        try:
            brows = {str(r["name"]): r for r in parse_vsctl_list(
                cap.read(blist), cap.where(cap.rel(blist))) if "name" in r}
        except InputError:
            brows = {}
    found.note(where, "no ovs-vsctl --format=json listings: ports are read from ovs-vsctl show "
               "(sos keeps no Port table)", "Port other_config (the OVS agent's net_uuid and "
               "local VLAN record) and vlan_mode are unknown; drops are explained by VLAN only")
    out = []
    for sb in show.bridges:
        br = brows.get(sb.name, {})
        protos = br.get("protocols")
        b = _Bridge(sb.name, datapath_type=sb.datapath_type or "", fail_mode=sb.fail_mode or "",
                    protocols=tuple(sorted(str(p) for p in protos)) if isinstance(
                        protos, list) else (),
                    external_ids=_pairs(br.get("external_ids")))
        for sp in sb.ports:
            i = sp.interfaces[0] if sp.interfaces else None
            iname = i.name if i is not None else sp.name
            r = rows.get(iname, {})
            other = dict(i.other) if i is not None else {}
            error = r.get("error") if isinstance(r.get("error"), str) else other.get("error")
            mac_in_use = r.get("mac_in_use")
            b.ports.append(_Row(
                name=sp.name, iface=iname, type=i.type if i is not None else "",
                tag=sp.tag, trunks=sp.trunks,
                vlan_mode=dict(sp.other).get("vlan_mode"),
                options=i.options if i is not None else (),
                external_ids=_pairs(r.get("external_ids")), ofport=_int_or_none(r.get("ofport")),
                mac=mac_in_use if isinstance(mac_in_use, str) else None,
                error=str(error).strip('"') if error else None,
                n_interfaces=len(sp.interfaces)))
        out.append(b)
    return out


def _ofctl_show(cap: Capture, bridge: str) -> tuple[str, OfctlShow | None]:
    for cand in cap.ovs_candidates(show_file_candidates(bridge)):
        if not cand.is_file():
            continue
        text = cap.read(cand)
        if looks_like_error(text):
            continue
        try:
            return cap.where(cap.rel(cand)), parse_ofctl_show(text, cap.where(cap.rel(cand)))
        except InputError:
            continue
    return "", None


def _ports(cap: Capture, b: _Bridge, show: OfctlShow | None, show_path: str,
           found: Findings, out: OvsCapture) -> list[OvsPort]:
    ports = []
    errors = []
    src = show_path or cap.where("sos_commands/openvswitch/ovs-vsctl_-t_5_show")
    for r in b.ports:
        ofport, mac = r.ofport, r.mac
        if show is not None:
            op = show.by_name(r.iface) or show.by_name(r.name)
            if op is not None:
                ofport = ofport if ofport is not None and ofport > 0 else op.ofport
                mac = mac or op.mac
        if ofport is None and r.name == b.name:
            ofport = OFPP_LOCAL
        if r.error or ofport is None or ofport <= 0:
            errors.append(r.name)
            why = f"ovs-vswitchd could not open it ({r.error})" if r.error else (
                "its ofport is -1" if ofport is not None else "no ofport is known for it")
            found.gap(r.name, "ofport", src, f"port {r.name} of {b.name}: {why}",
                      "it has no OpenFlow port, so it is left out of the bridge: flows naming it "
                      "never see it and NORMAL never floods to it")
            continue
        if r.n_interfaces > 1:
            found.warn(src, f"port {r.name} of {b.name} has {r.n_interfaces} interfaces (a bond)",
                       "only its first interface is modelled")
        if r.vlan_mode not in (None, "", "access", "trunk"):
            found.warn(src, f"port {r.name} of {b.name} has vlan_mode={r.vlan_mode}",
                       "NORMAL treats it as an access port (tag) or a trunk (trunks)")
        ports.append(OvsPort(name=r.name, ofport=ofport, type=r.type, tag=r.tag,
                             trunks=r.trunks, options=r.options, external_ids=r.external_ids,
                             mac=mac, other_config=r.other_config))
    if not any(p.ofport == OFPP_LOCAL for p in ports):
        ports.append(OvsPort(b.name, OFPP_LOCAL, "internal"))
    if errors:
        out.error_ports[b.name] = tuple(errors)
    return ports


# -- flows, groups, MAC tables ---------------------------------------------------------------


_TABLE = re.compile(r"(?:^|[\s,])table=(\d+)")
_PRIORITY = re.compile(r"(?:^|[\s,])priority=(\d+)")


def _flows(cap: Capture, bridge: str, found: Findings) -> tuple[Flow, ...]:
    path: Path | None = None
    text = ""
    skipped = []
    for cand in cap.ovs_candidates(flows_file_candidates(bridge)):
        if not cand.is_file():
            continue
        t = cap.read(cand)
        if looks_like_error(t) and t.strip():
            skipped.append(cap.rel(cand))
            continue
        path, text = cand, t
        break
    if path is None:
        why = f" ({', '.join(skipped)} hold errors, not flows)" if skipped else ""
        found.gap(bridge, "flows", cap.where(f"sos_commands/openvswitch/"
                                             f"ovs-ofctl_-O_OpenFlow13_dump-flows_{bridge}"),
                  f"no flow dump for {bridge}{why}",
                  f"a walk that enters {bridge} stops there")
        return ()
    where = cap.where(cap.rel(path))
    try:
        return parse_flows(text, source=where)
    except InputError:
        pass
    flows = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] == "#" or re.match(r"^(NXST|OFPST)_FLOW reply", line):
            continue
        try:
            flows.append(parse_flow(line, source=where, line=n))
        except InputError as exc:
            tm = _TABLE.search(line)
            pm = _PRIORITY.search(line)
            table = int(tm.group(1)) if tm else 0
            prio = pm.group(1) if pm else "32768"
            found.gap(bridge, f"table {table}", f"{where}:{n}",
                      f"{bridge} table {table}: a flow (priority {prio}) could not be read: "
                      f"{exc.problem}",
                      f"a walk that reaches {bridge} table {table} stops there (the flow "
                      "might have matched)")
    return tuple(flows)


def learned_flows(flows: tuple[Flow, ...]) -> tuple[Flow, ...]:
    """The flows of a bridge that its own ``learn()`` actions would have added: same table,
    priority, idle and hard timeouts and cookie as one of them."""
    specs = set()
    for f in flows:
        if "learn(" not in f.actions:
            continue
        try:
            acts = ofactions.parse_actions(f.actions)
        except ofactions.ActionParseError:
            continue
        for a in acts:
            if isinstance(a, ofactions.Learn):
                specs.add((a.table, a.priority, a.idle_timeout, a.hard_timeout, a.cookie))
    if not specs:
        return ()
    return tuple(f for f in flows if (f.table, f.priority, f.idle_timeout, f.hard_timeout,
                                      f.cookie) in specs and "learn(" not in f.actions)


def _groups(cap: Capture, bridge: str, found: Findings) -> tuple[Group, ...]:
    names = [f"ovs-ofctl_-O_{v}_dump-groups_{bridge}" for v in
             ("OpenFlow13", "OpenFlow14", "OpenFlow15", "OpenFlow12", "OpenFlow11")]
    path = cap.ovs(*names, f"ovs-ofctl_dump-groups_{bridge}")
    if path is None:
        return ()
    text = cap.read(path)
    if looks_like_error(text):
        return ()
    try:
        groups = parse_groups(text, cap.where(cap.rel(path)))
    except InputError as exc:
        found.warn(cap.where(cap.rel(path)), f"unreadable: {exc.problem}",
                   "the bridge's groups are unknown")
        return ()
    if groups:
        found.note(cap.where(cap.rel(path)), f"{bridge} has {len(groups)} OpenFlow group(s)",
                   "flows that use group: actions are not modelled (they are gaps of their "
                   "table); Neutron's ML2/OVS agent programs none")
    return groups


def _macs(cap: Capture, bridge: OvsBridge, found: Findings) -> tuple[LearnedMac, ...]:
    path = cap.ovs(f"ovs-appctl_fdb.show_{bridge.name}")
    if path is None:
        return ()
    where = cap.where(cap.rel(path))
    try:
        entries: tuple[MacEntry, ...] = parse_fdb_show(cap.read(path), where)
    except InputError as exc:
        found.warn(where, f"unreadable: {exc.problem}",
                   f"{bridge.name}'s MAC table is not used for warm walks")
        return ()
    out = []
    for e in entries:
        port = bridge.port_by_ofport(e.port)
        if port is None:
            found.note(where, f"MAC {e.mac} (VLAN {e.vlan}) was learned on OpenFlow port "
                       f"{e.port}, which {bridge.name} does not have", "the entry is not used")
            continue
        out.append(LearnedMac(bridge.name, e.vlan, e.mac, port.name))
    return tuple(out)
