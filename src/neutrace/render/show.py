"""Text views of a `HostState` (layer 3), in the shapes of the tools an operator would run:

- ``ovs-vsctl show`` (bridges, ports, tags, interface types and options; no UUIDs/controllers);
- ``ovs-ofctl show <bridge>`` (every port's ofport number and MAC);
- ``ovs-ofctl -O OpenFlow13 dump-flows <bridge>`` (without statistics, so the lines load back
  with ``ovs-ofctl -O OpenFlow13 add-flows``), flows sorted by table, then priority (highest
  first); or, on request, as a plain OpenFlow 1.0 ``dump-flows`` spells the same flows;
- ``ip addr`` / ``ip route`` / ``sysctl`` per namespace (``ip netns exec <ns> ...``);
- ``iptables-save`` / ``ip6tables-save`` / ``ipset save`` per namespace, verbatim;
- the configuration files the agents wrote (``cat`` of keepalived.conf), verbatim.
"""

from __future__ import annotations

import dataclasses
import ipaddress

from neutrace.dataplane import (
    BRIDGE,
    LOOPBACK,
    TAP,
    VETH,
    CloudState,
    Flow,
    HostState,
    Interface,
    Namespace,
    OvsBridge,
    Route,
    Rule,
)
from neutrace.syntax.ofactions import split_action_list
from neutrace.syntax.ofctl import format_flow
from neutrace.syntax.ovsdump import OFPP_LOCAL, OfctlPort, OfctlShow, format_ofctl_show


def ovs_vsctl_show(bridges: tuple[OvsBridge, ...] | list[OvsBridge]) -> str:
    lines: list[str] = []
    for br in bridges:
        lines.append(f"    Bridge {br.name}")
        lines.append(f"        fail_mode: {br.fail_mode}")
        if br.datapath_type:
            lines.append(f"        datapath_type: {br.datapath_type}")
        ports = [(br.name, None, "internal", ())] + [
            (p.name, p.tag, p.type, p.options) for p in sorted(br.ports, key=lambda p: p.ofport)]
        for name, tag, kind, options in sorted(ports, key=lambda x: x[0]):
            lines.append(f"        Port {name}")
            if tag is not None:
                lines.append(f"            tag: {tag}")
            lines.append(f"            Interface {name}")
            if kind:
                lines.append(f"                type: {kind}")
            if options:
                opts = ", ".join(f'{k}={_quote(v)}' for k, v in options)
                lines.append(f"                options: {{{opts}}}")
    return "\n".join(lines) + "\n"


def _quote(value: str) -> str:
    """ovsdb's string_needs_quotes: bare only for identifier-like strings (not true/false)."""
    bare = (bool(value) and (value[0].isalpha() or value[0] == "_")
            and all(ch.isalnum() or ch in "_-." for ch in value)
            and value not in ("true", "false"))
    return value if bare else f'"{value}"'


def flows_in_order(bridge: OvsBridge) -> list[Flow]:
    """The flows of ``bridge`` in the order dump-flows lists them: by table, then priority
    (highest first)."""
    return sorted(bridge.flows, key=lambda f: (f.table, -f.priority))


def dump_flows(bridge: OvsBridge, openflow10: bool = False) -> str:
    """One line per flow, as ``ovs-ofctl -O OpenFlow13 dump-flows`` prints them minus
    statistics; with ``openflow10``, as a plain (OpenFlow 1.0 + NXM) ``dump-flows`` prints the
    same flows, the form older documents and the seed blog show."""
    flows = flows_in_order(bridge)
    if openflow10:
        # an OpenFlow 1.0 flow-stats reply has no flags (reset_counts is not shown)
        flows = [dataclasses.replace(f, actions=of10_actions(f.actions), flags=())
                 for f in flows]
    return "".join(f" {format_flow(f)}\n" for f in flows)


def split_actions(actions: str) -> list[str]:
    """Split an action list at top-level commas (``learn(...)`` keeps its own)."""
    return [a for a in split_action_list(actions) if a]


_NXM_LOADS = {"tun_id": "NXM_NX_TUN_ID[]", "arp_op": "NXM_OF_ARP_OP[]",
              "arp_sha": "NXM_NX_ARP_SHA[]", "arp_spa": "NXM_OF_ARP_SPA[]",
              "ct_mark": "NXM_NX_CT_MARK[]",
              **{f"reg{i}": f"NXM_NX_REG{i}[]" for i in range(16)}}


def _load_value(field: str, value: str) -> str:
    if field in ("arp_sha",):
        return hex(int(value.replace(":", ""), 16))
    if field in ("arp_spa",):
        return hex(int(ipaddress.IPv4Address(value)))
    return hex(int(value, 0))


def of10_actions(actions: str) -> str:
    """The OpenFlow 1.0 spelling OVS uses when it dumps OpenFlow 1.3 actions (the subset the
    agents write): goto_table -> resubmit, push_vlan+set_field vlan_vid -> mod_vlan_vid,
    pop_vlan -> strip_vlan, set_field -> load/mod_dl_src (checked against real OVS in
    tests/test_agents_ovs.py)."""
    out: list[str] = []
    for act in split_actions(actions):
        if act.startswith("goto_table:"):
            out.append(f"resubmit(,{act.split(':', 1)[1]})")
        elif act.startswith("push_vlan:"):
            continue  # folded into the following mod_vlan_vid
        elif act == "pop_vlan":
            out.append("strip_vlan")
        elif act.startswith("ct(") and "exec(" in act:
            head, _, inner = act[:-2].partition("exec(")
            out.append(f"{head}exec({of10_actions(inner)}))")
        elif act.startswith("set_field:"):
            value, field = act[len("set_field:"):].rsplit("->", 1)
            if field == "vlan_vid":
                out.append(f"mod_vlan_vid:{int(value, 0) & 0xFFF}")
            elif field == "eth_src":
                out.append(f"mod_dl_src:{value}")
            elif field == "eth_dst":
                out.append(f"mod_dl_dst:{value}")
            elif field in _NXM_LOADS:
                out.append(f"load:{_load_value(field, value)}->{_NXM_LOADS[field]}")
            else:
                out.append(act)
        else:
            out.append(act)
    return ",".join(out)


def _flags(itf: Interface) -> str:
    if itf.kind == LOOPBACK:
        return "<LOOPBACK,UP,LOWER_UP>" if itf.up else "<LOOPBACK>"
    return "<BROADCAST,MULTICAST,UP,LOWER_UP>" if itf.up else "<BROADCAST,MULTICAST>"


def ip_addr(ns: Namespace, ovs_ports: frozenset[str] = frozenset()) -> str:
    """``ip addr``; interfaces named in ``ovs_ports`` (OVS system ports: qvo..., NICs) show
    ``master ovs-system`` as on a real host."""
    lines: list[str] = []
    for index, itf in enumerate(ns.interfaces, start=1):
        name = itf.name
        if itf.kind == VETH and itf.peer:
            name = f"{itf.name}@{itf.peer}"
        extra = []
        if itf.master:
            extra.append(f"master {itf.master}")
        elif itf.name in ovs_ports:
            extra.append("master ovs-system")
        extra.append("state " + ("UNKNOWN" if itf.kind == LOOPBACK else
                                 "UP" if itf.up else "DOWN"))
        mtu = 65536 if itf.kind == LOOPBACK else itf.mtu
        lines.append(f"{index}: {name}: {_flags(itf)} mtu {mtu} {' '.join(extra)}")
        kind = {VETH: "veth", TAP: "tun", BRIDGE: "bridge"}.get(itf.kind, itf.kind)
        if itf.kind == LOOPBACK:
            lines.append("    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00")
        else:
            lines.append(f"    link/ether {itf.mac or '00:00:00:00:00:00'} brd "
                         f"ff:ff:ff:ff:ff:ff ({kind})")
        if itf.peer and itf.kind != VETH or itf.peer_namespace:
            where = itf.peer_namespace or "root namespace"
            lines.append(f"    peer {itf.peer} in {where}")
        if itf.segment:
            lines.append(f"    segment {itf.segment}")
        for a in itf.addresses:
            family = "inet6" if ":" in a else "inet"
            scope = "host" if itf.kind == LOOPBACK else "global"
            lines.append(f"    {family} {a} scope {scope} {itf.name}")
    return "\n".join(lines) + ("\n" if lines else "")


def format_route(r: Route) -> str:
    parts = [r.destination]
    if r.gateway:
        parts.append(f"via {r.gateway}")
    parts.append(f"dev {r.device}")
    if r.proto not in ("static", "boot"):
        parts.append(f"proto {r.proto}")
    if r.scope != "universe":
        parts.append(f"scope {r.scope}")
    if r.source:
        parts.append(f"src {r.source}")
    if r.metric:
        parts.append(f"metric {r.metric}")
    if r.table != "main":
        parts.append(f"table {r.table}")
    return " ".join(parts)


def _host_bare(cidr: str) -> str:
    """``10.0.0.1/32`` -> ``10.0.0.1``, as iproute2 prints a host prefix."""
    net = ipaddress.ip_network(cidr, strict=False)
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else cidr


def ip_route(ns: Namespace) -> str:
    return "".join(format_route(r) + "\n" for r in ns.routes)


def format_ip_rule(rule: Rule) -> str:
    """One ``ip rule`` line (a host address without its /32 or /128, as ``ip rule`` prints
    it)."""
    sel = f"from {_host_bare(rule.source) if rule.source else 'all'}"
    if rule.destination:
        sel += f" to {_host_bare(rule.destination)}"
    if rule.fwmark:
        sel += f" fwmark {rule.fwmark}"
    if rule.iif:
        sel += f" iif {rule.iif}"
    return f"{rule.priority}:\t{sel} lookup {rule.table}"


def namespace_text(ns: Namespace, ovs_ports: frozenset[str] = frozenset()) -> str:
    label = ns.name or "(root namespace)"
    out = [f"--- namespace {label} [{ns.kind}]: ip addr ---\n", ip_addr(ns, ovs_ports)]
    if ns.routes:
        out += [f"--- namespace {label}: ip route ---\n", ip_route(ns)]
    if ns.rules:
        out.append(f"--- namespace {label}: ip rule ---\n")
        out += [format_ip_rule(rule) + "\n"  # as `ip rule` lists them
                for rule in sorted(ns.rules, key=lambda r: r.priority)]
    if ns.neighbours:
        out.append(f"--- namespace {label}: ip neigh ---\n")
        out += [f"{n.ip} dev {n.device} lladdr {n.mac} {n.state}\n" for n in ns.neighbours]
    if ns.sysctls:
        out.append(f"--- namespace {label}: sysctl ---\n")
        out += [f"{k} = {v}\n" for k, v in ns.sysctls]
    for title, text in (("iptables-save", ns.iptables), ("ip6tables-save", ns.ip6tables),
                        ("ipset save", ns.ipsets)):
        if text:
            out += [f"--- namespace {label}: {title} ---\n", text]
    return "".join(out)


def ofctl_show(host: HostState, bridge: OvsBridge) -> str:
    """``ovs-ofctl show BRIDGE``: the dpid (from the bridge's own MAC, as OVS derives it) and
    every port with its ofport number, so that ``in_port=3`` can be read as a port."""
    def mac(name: str, port_mac: str | None = None) -> str:
        found = host.find_interface(name)
        return port_mac or (found[1].mac if found and found[1].mac else "00:00:00:00:00:00")

    local = mac(bridge.name)
    ports = [OfctlPort(p.ofport, p.name, mac(p.name, p.mac)) for p in bridge.ports]
    ports.append(OfctlPort(OFPP_LOCAL, bridge.name, local))
    return format_ofctl_show(OfctlShow("0000" + local.replace(":", ""), tuple(ports)))


def host_text(host: HostState, bridge: str | None = None, namespace: str | None = None,
              openflow10: bool = False) -> str:
    """Everything about one host; ``bridge``/``namespace`` narrow it to one bridge or namespace
    (``""`` is the root namespace); ``openflow10`` prints flows as a plain dump-flows does."""
    out = [f"=== host {host.name} (management {host.management_ip or '-'}, "
           f"tunnel {host.tunnel_ip or '-'}) ===\n"]
    bridges = [b for b in host.ovs_bridges if bridge is None or b.name == bridge]
    if namespace is None or bridge is not None:
        if bridges:
            out += ["--- ovs-vsctl show ---\n", ovs_vsctl_show(bridges)]
        for b in bridges:
            tool = "ovs-ofctl dump-flows" if openflow10 else "ovs-ofctl -O OpenFlow13 dump-flows"
            out += [f"--- ovs-ofctl show {b.name} ---\n", ofctl_show(host, b),
                    f"--- {tool} {b.name} ---\n", dump_flows(b, openflow10)]
    if bridge is None:
        ovs_ports = frozenset(p.name for b in host.ovs_bridges for p in b.ports
                              if p.type == "")
        for ns in host.namespaces:
            if namespace is None or ns.name == namespace:
                out.append(namespace_text(ns, ovs_ports))
        for f in host.files:
            if namespace is None or f.namespace == namespace:
                where = f" (read in namespace {f.namespace})" if f.namespace else ""
                out += [f"--- file {f.path}{where} ---\n", f.text,
                        "" if f.text.endswith("\n") else "\n"]
    return "".join(out)


def cloud_text(state: CloudState, host: str | None = None, bridge: str | None = None,
               namespace: str | None = None, openflow10: bool = False) -> str:
    out = []
    for h in state.hosts:
        if host is not None and h.name != host:
            continue
        if namespace is not None and bridge is None and h.namespace(namespace) is None:
            continue
        out.append(host_text(h, bridge, namespace, openflow10))
    if host is None and bridge is None:
        for ns in state.external:
            if namespace is None or ns.name == namespace:
                out.append(namespace_text(ns))
    return "\n".join(out)
