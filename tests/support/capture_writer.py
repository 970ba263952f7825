"""Write a `HostState` as a ``neutrace collect`` capture would hold it (for the importer's unit
tests: generated captures, written with the formatters of ``neutrace.syntax``; the real captures
of real systems are made by tests/support/capture_lab.py and the conformance harness).

The VMs (namespaces of kind ``vm``) are written as Nova writes them for libvirt: a domain XML
per VM (``run/libvirt/qemu/instance-N.xml``: Nova's display name, each NIC's MAC, tap, bridge and
port with its fixed IPs), not as namespaces.
"""

from __future__ import annotations

import json
from pathlib import Path

from neutrace.dataplane import (
    BRIDGE,
    LOOPBACK,
    NS_VM,
    OVS_INTERNAL,
    TAP,
    VETH,
    HostState,
    Interface,
    Namespace,
    OvsBridge,
    OvsPort,
)
from neutrace.importers.collect import MANIFEST, mangle
from neutrace.model import Cloud, Host
from neutrace.syntax import iproute
from neutrace.syntax.libvirt import Domain, DomainInterface, NovaPort, format_domain
from neutrace.syntax.ofctl import format_flow
from neutrace.syntax.ovsdb_json import Uuid, format_vsctl_json
from neutrace.syntax.ovsdump import (
    OFPP_LOCAL,
    OfctlPort,
    OfctlShow,
    ShowBridge,
    ShowInterface,
    ShowPort,
    VsctlShow,
    format_ofctl_show,
    format_vsctl_show,
)
from neutrace.syntax.sysctl import format_sysctl

_KINDS = {VETH: ("veth", ""), TAP: ("tun", "tap"), BRIDGE: ("bridge", ""),
          OVS_INTERNAL: ("openvswitch", ""), LOOPBACK: ("", "")}


def _uuid(*parts: object) -> Uuid:
    import uuid
    return Uuid(str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(str(p) for p in parts))))


def _write(root: Path, plugin: str, command: str, text: str, subdir: str = "") -> None:
    path = root / "sos_commands" / plugin / subdir / mangle(command)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def write_ovs(root: Path, bridges: tuple[OvsBridge, ...]) -> None:
    """The OVS side: the JSON listings, ovs-vsctl show, and per bridge ofctl show and flows."""
    brows, prows, irows = [], [], []
    for b in bridges:
        ports = b.ports if b.port(b.name) else (*b.ports, _local(b))
        puuids = []
        for p in ports:
            iu, pu = _uuid(b.name, p.name, "i"), _uuid(b.name, p.name, "p")
            puuids.append(pu)
            irows.append({"_uuid": iu, "name": p.name, "type": p.type, "ofport": p.ofport,
                          "options": dict(p.options), "external_ids": dict(p.external_ids),
                          "mac_in_use": p.mac if p.mac else [], "error": []})
            prows.append({"_uuid": pu, "name": p.name, "interfaces": [iu],
                          "tag": [] if p.tag is None else p.tag,
                          "trunks": list(p.trunks),
                          "vlan_mode": [], "other_config": dict(p.other_config)})
        brows.append({"_uuid": _uuid(b.name), "name": b.name, "ports": puuids,
                      "datapath_type": b.datapath_type, "fail_mode": b.fail_mode,
                      "protocols": list(b.protocols), "external_ids": dict(b.external_ids)})
    vs = "ovs-vsctl -t 5 --format=json list "
    _write(root, "openvswitch", vs + "Bridge", format_vsctl_json(
        ["_uuid", "datapath_type", "external_ids", "fail_mode", "name", "ports", "protocols"],
        brows))
    _write(root, "openvswitch", vs + "Port", format_vsctl_json(
        ["_uuid", "interfaces", "name", "other_config", "tag", "trunks", "vlan_mode"], prows))
    _write(root, "openvswitch", vs + "Interface", format_vsctl_json(
        ["_uuid", "error", "external_ids", "mac_in_use", "name", "ofport", "options", "type"],
        irows))
    show = VsctlShow(uuid=str(_uuid("ovs")), bridges=tuple(ShowBridge(
        name=b.name, fail_mode=b.fail_mode, datapath_type=b.datapath_type,
        ports=tuple(ShowPort(name=p.name, tag=p.tag, trunks=p.trunks, interfaces=(
            ShowInterface(name=p.name, type=p.type, options=p.options),))
            for p in (b.ports if b.port(b.name) else (*b.ports, _local(b))))) for b in bridges))
    _write(root, "openvswitch", "ovs-vsctl -t 5 show", format_vsctl_show(show))
    _write(root, "openvswitch", "ovs-vsctl -t 5 list-br", "".join(b.name + "\n" for b in bridges))
    for b in bridges:
        ports = b.ports if b.port(b.name) else (*b.ports, _local(b))
        _write(root, "openvswitch", f"ovs-ofctl -O OpenFlow13 show {b.name}", format_ofctl_show(
            OfctlShow("0000" + "0" * 12, tuple(OfctlPort(p.ofport, p.name, p.mac or
                                                       "02:00:00:00:00:00") for p in ports))))
        _write(root, "openvswitch", f"ovs-ofctl -O OpenFlow13 dump-flows {b.name}",
               "".join(f" {format_flow(f)}\n" for f in b.flows))


def _local(b: OvsBridge) -> OvsPort:
    return OvsPort(b.name, OFPP_LOCAL, "internal")


def _links(host: HostState, ns: Namespace, index: dict[tuple[str, str], int],
           nsid: dict[tuple[str, str], int]) -> tuple[iproute.IpLink, ...]:
    out = []
    for itf in ns.interfaces:
        kind, tun = _KINDS.get(itf.kind, ("", ""))
        link = link_index = netnsid = None
        if itf.peer is not None and itf.kind == VETH:
            pns = itf.peer_namespace or ""
            if pns == ns.name:
                link = itf.peer
            else:
                link_index = index.get((pns, itf.peer))
                netnsid = nsid.get((ns.name, pns))
        out.append(iproute.IpLink(
            ifindex=index[(ns.name, itf.name)], ifname=itf.name, kind=kind, tun_type=tun,
            link_type="loopback" if itf.kind == LOOPBACK else "ether", address=itf.mac,
            mtu=itf.mtu, flags=("UP", "LOWER_UP") if itf.up else ("BROADCAST",),
            operstate="UP" if itf.up else "DOWN", master=itf.master,
            slave_kind="bridge" if itf.master else "", link=link, link_index=link_index,
            link_netnsid=netnsid, vlan_id=itf.vlan,
            addresses=tuple(iproute.IpAddr(a) for a in itf.addresses)))
    return tuple(out)


def _routes(ns: Namespace) -> tuple[str, str]:
    four, six = [], []
    for r in ns.routes:
        fam = 6 if ":" in r.destination or ":" in (r.gateway or "") else 4
        route = iproute.IpRoute(
            dst=r.destination, family=fam, type="unicast" if r.device else "blackhole",
            gateway=r.gateway, dev=r.device or None, table=r.table, protocol=r.proto,
            scope={"universe": "global"}.get(r.scope, r.scope), prefsrc=r.source,
            metric=r.metric)
        (six if fam == 6 else four).append(route)
    return iproute.format_routes_json(tuple(four)), iproute.format_routes_json(tuple(six))


def agent_ini(host: Host) -> str:
    """The OVS agent's ``openvswitch_agent.ini`` for a topology's host (what collect copies)."""
    lines = ["[ovs]", "bridge_mappings = " + ",".join(f"{k}:{v}" for k, v in host.bridge_mappings)]
    if host.tunnel_ip:
        lines.append(f"local_ip = {host.tunnel_ip}")
    lines += ["", "[agent]", "tunnel_types = " + ",".join(host.tunnel_types if host.tunnel_ip
                                                          else ()),
              f"l2_population = {str(host.l2_population).lower()}",
              f"arp_responder = {str(host.arp_responder).lower()}", "",
              "[securitygroup]", f"firewall_driver = {host.firewall_driver}", ""]
    return "\n".join(lines)


def dhcp_files(cloud: Cloud, host: str) -> dict[str, str]:
    """The DHCP agent's dnsmasq files (``var/lib/neutron/dhcp/<network>/{host,opts}``) for the
    networks whose DHCP port is on ``host``, in the format Neutron's Dnsmasq driver writes
    (``_output_hosts_file``: ``MAC,set:subnet-ID,NAME,IP``; ``_output_opts_file``:
    ``tag:subnet-ID,option:router,GW``)."""
    out = {}
    nets = sorted({p.network_id for p in cloud.ports_on(host)
                   if p.device_owner == "network:dhcp"})
    for net in nets:
        dhcp_subnets = {s.id: s for s in cloud.subnets_of(net) if s.enable_dhcp}
        hosts = []
        for p in cloud.ports_of(net):
            for f in p.fixed_ips:
                if f.subnet_id in dhcp_subnets:
                    name = "host-" + f.ip_address.replace(".", "-").replace(":", "-")
                    ip = f"[{f.ip_address}]" if ":" in f.ip_address else f.ip_address
                    hosts.append(f"{p.mac_address},set:subnet-{f.subnet_id},"
                                 f"{name}.openstacklocal.,{ip}")
        opts = []
        for sid, sn in dhcp_subnets.items():
            if sn.gateway_ip and ":" not in sn.gateway_ip:
                opts.append(f"tag:subnet-{sid},option:router,{sn.gateway_ip}")
            routes = [f"{d},{h}" for d, h in sn.host_routes]
            if routes:
                opts.append(f"tag:subnet-{sid},option:classless-static-route," +
                            ",".join(routes))
        out[f"var/lib/neutron/dhcp/{net}/host"] = "".join(x + "\n" for x in hosts)
        out[f"var/lib/neutron/dhcp/{net}/opts"] = "".join(x + "\n" for x in opts)
    return out


def write_capture(host: HostState, root: Path, ini: str | None = None,
                  files: dict[str, str] | None = None) -> Path:
    """Write ``host`` under ``root`` as a collect folder, with ``ini`` as its
    ``openvswitch_agent.ini`` and ``files`` (path -> text) copied as collect copies them;
    returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in (files or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    if ini is not None:
        conf = root / "etc" / "neutron" / "plugins" / "ml2" / "openvswitch_agent.ini"
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(ini)
    write_ovs(root, host.ovs_bridges)
    namespaces = [ns for ns in host.namespaces if ns.kind != NS_VM]
    if not any(ns.name == "" for ns in namespaces):
        namespaces.insert(0, Namespace(name=""))
    index = {(ns.name, itf.name): i for ns in namespaces
             for i, itf in enumerate(ns.interfaces, 1)}
    nsid: dict[tuple[str, str], int] = {}
    for ns in namespaces:
        others = [o.name for o in namespaces if o.name != ns.name]
        for i, o in enumerate(others):
            nsid[(ns.name, o)] = i
    for ns in namespaces:
        sub = f"namespaces/{ns.name}" if ns.name else ""

        def put(cmd: str, text: str, plugin: str = "networking", _ns: Namespace = ns,
                _sub: str = sub) -> None:
            shown = cmd if not _ns.name else f"ip netns exec {_ns.name} {cmd}"
            _write(root, plugin, shown, text, _sub if plugin == "networking" else "")

        put("ip -d -j address show", iproute.format_links_json(
            _links(host, ns, index, nsid)))
        v4, v6 = _routes(ns)
        put("ip -d -j route show table all", v4)
        put("ip -6 -d -j route show table all", v6)
        put("ip -j rule show", iproute.format_rules_json(tuple(
            iproute.IpRule(r.priority, r.table, src=r.source, dst=r.destination,
                           fwmark=r.fwmark, iif=r.iif) for r in ns.rules
            if ":" not in (r.source or ""))))
        put("ip -6 -j rule show", "[]")
        put("ip -j neigh show", iproute.format_neigh_json(tuple(
            iproute.IpNeigh(n.ip, n.device, n.mac, (n.state,)) for n in ns.neighbours)))
        put("ip -j netns list-id", json.dumps([{"nsid": i, "name": o} for (a, o), i in
                                               nsid.items() if a == ns.name]))
        put("iptables-save", ns.iptables)
        put("ip6tables-save", ns.ip6tables)
        put("ipset save", ns.ipsets)
        put("sysctl -a", format_sysctl(ns.sysctls or (("net.ipv4.ip_forward", "0"),)),
            "networking" if ns.name else "kernel")
    _write(root, "networking", "ip netns", "".join(f"{ns.name}\n" for ns in namespaces
                                                   if ns.name))
    _write_vms(root, host)
    (root / MANIFEST).write_text(json.dumps({
        "format": "neutrace-collect", "version": 1, "host": host.name,
        "namespaces": sorted(ns.name for ns in namespaces if ns.name), "commands": []}))
    return root


def _write_vms(root: Path, host: HostState) -> None:
    taps = {i.name: i for i in host.root.interfaces}
    ovs = {p.name: p for b in host.ovs_bridges for p in b.ports}
    for n, vm in enumerate(host.vms(), 1):
        itfs, ports = [], []
        for nic in vm.interfaces:
            if nic.peer is None:
                continue
            tap: Interface | None = taps.get(nic.peer)
            short = nic.peer[3:]
            port = ovs.get("qvo" + short) or ovs.get("tap" + short)
            pid = port.external_id("iface-id") if port is not None else None
            itfs.append(DomainInterface(nic.mac or "", nic.peer, "bridge",
                                        tap.master if tap is not None else "br-int", None,
                                        nic.mtu))
            if pid:
                ports.append(NovaPort(pid, tuple(a.split("/")[0] for a in nic.addresses)))
        d = Domain(f"instance-{n:08x}", str(_uuid(vm.name)), vm.name, tuple(itfs), tuple(ports))
        path = root / "run" / "libvirt" / "qemu" / f"{d.name}.xml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(format_domain(d))

