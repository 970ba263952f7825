"""Networks and subnets, as Neutron's core plugin (``db_base_plugin_v2``) and the ML2 type
drivers accept them: the provider attributes of each network type, one network per segment,
segmentation ids allocated for tenant tunnel networks, the MTU, and each subnet's cidr, gateway,
allocation pools, DNS servers and host routes.
"""

from __future__ import annotations

import ipaddress

from neutrace.model import (
    TUNNEL_TYPES,
    TYPE_FLAT,
    TYPE_GRE,
    TYPE_LOCAL,
    TYPE_VLAN,
    TYPE_VXLAN,
    AllocationPool,
    Network,
    Subnet,
)
from neutrace.topology import schema as s
from neutrace.topology.checks import (
    IP,
    MAX_GRE_KEY,
    MAX_VLAN,
    MAX_VNI,
    Net,
    check_cidr,
    check_in_range,
    check_ip,
    check_ip_in,
    check_unique,
)
from neutrace.topology.ipam import generate_pools
from neutrace.topology.source import Path_, where
from neutrace.topology.working import SubnetW, Working, new_id

_DEFAULT_MTU = {TYPE_VXLAN: 1450, TYPE_GRE: 1458}  # 1500 minus the encapsulation overhead
SegmentKey = tuple[str, str | None, int | None]  # (network_type, physnet, segmentation id)


def resolve_networks(w: Working) -> None:
    """Every network (with its subnets), in file order."""
    ctx = w.ctx
    networks = w.cloud.networks
    check_unique(ctx, ((("networks", i, "name"), n.name) for i, n in enumerate(networks)),
                 "network name")
    check_unique(ctx, ((("networks", i, "subnets", j, "name"), sn.name)
                       for i, n in enumerate(networks) for j, sn in enumerate(n.subnets)),
                 "subnet name")
    segments: dict[SegmentKey, Path_] = {}
    used_ids = _given_tunnel_ids(w)
    for i, n in enumerate(networks):
        p: Path_ = ("networks", i)
        net_id = new_id(w, (*p, "id"), n.id, f"network/{n.name}")
        prov = n.provider or s.ProviderIn(network_type="vxlan")
        ntype, physnet = prov.network_type, prov.physical_network
        seg = _segmentation_id(w, prov, (*p, "provider"), used_ids)
        _claim_segment(w, segments, (ntype, physnet, seg), p)
        mtu = n.mtu if n.mtu is not None else _DEFAULT_MTU.get(ntype, 1500)
        check_in_range(ctx, (*p, "mtu"), mtu, 68, 9216, "MTU", "use an MTU between 68 and 9216")
        network = Network(
            id=net_id, name=n.name, network_type=ntype, physical_network=physnet,
            segmentation_id=seg, router_external=n.router_external, shared=n.shared,
            mtu=mtu, project_id=n.project_id,
        )
        w.networks.append(network)
        w.net_by_ref[n.name] = network
        w.net_by_ref[net_id] = network
        w.net_path[net_id] = p
        w.used_ips[net_id] = {}
        resolve_subnets(w, n, network, p)


def _given_tunnel_ids(w: Working) -> dict[str, set[int]]:
    """The tunnel segmentation ids the file gives (the type driver allocates around them)."""
    used_ids: dict[str, set[int]] = {TYPE_VXLAN: set(), TYPE_GRE: set()}
    for n in w.cloud.networks:
        if n.provider is not None and n.provider.segmentation_id is not None and \
                n.provider.network_type in used_ids:
            used_ids[n.provider.network_type].add(n.provider.segmentation_id)
    return used_ids


def _segmentation_id(w: Working, prov: s.ProviderIn, pp: Path_,
                     used_ids: dict[str, set[int]]) -> int | None:
    """The network type's provider attributes checked; a tunnel network without a
    segmentation id gets the lowest free one."""
    ctx = w.ctx
    ntype, physnet, seg = prov.network_type, prov.physical_network, prov.segmentation_id
    if ntype in (TYPE_FLAT, TYPE_VLAN):
        if not physnet:
            ctx.fail(pp, f"a {ntype} network needs provider.physical_network",
                     "add physical_network: <a physnet of the hosts' bridge_mappings>")
    elif physnet is not None:
        ctx.fail((*pp, "physical_network"),
                 f"a {ntype} network has no physical_network", "remove physical_network")
    if ntype in (TYPE_FLAT, TYPE_LOCAL) and seg is not None:
        ctx.fail((*pp, "segmentation_id"), f"a {ntype} network has no segmentation_id",
                 "remove segmentation_id")
    if ntype == TYPE_VLAN:
        if seg is None:
            ctx.fail(pp, "a vlan network needs provider.segmentation_id (its VLAN id)",
                     f"add segmentation_id: <1..{MAX_VLAN}>")
        check_in_range(ctx, (*pp, "segmentation_id"), seg, 1, MAX_VLAN, "VLAN id",
                       f"use a VLAN id between 1 and {MAX_VLAN}")
    elif ntype in TUNNEL_TYPES:
        high = MAX_VNI if ntype == TYPE_VXLAN else MAX_GRE_KEY
        if seg is None:
            seg = next(v for v in range(1, high + 1) if v not in used_ids[ntype])
            used_ids[ntype].add(seg)
        what = "VNI" if ntype == TYPE_VXLAN else "GRE key"
        check_in_range(ctx, (*pp, "segmentation_id"), seg, 1, high, what,
                       f"use a {what} between 1 and {high}")
    return seg


def _claim_segment(w: Working, segments: dict[SegmentKey, Path_], given: SegmentKey,
                   p: Path_) -> None:
    """One network per segment (a flat physnet, a VLAN of a physnet, a VNI, a GRE key)."""
    ntype, physnet, seg = given
    key = (ntype, physnet if ntype in (TYPE_FLAT, TYPE_VLAN) else None,
           seg if ntype != TYPE_FLAT else None)
    if ntype == TYPE_LOCAL:
        return
    if key in segments:
        other = where(segments[key])
        w.ctx.fail((*p, "provider"), f"the {ntype} segment {_segment_text(key)} is already used "
                   f"by {other}",
                   "give each network its own segment (another segmentation_id or "
                   "physical_network)")
    segments[key] = p


def _segment_text(key: SegmentKey) -> str:
    """``physnet1/101``, ``1001`` or the network type: a segment as the messages name it."""
    ntype, physnet, seg = key
    parts = [p for p in (physnet, str(seg) if seg is not None else None) if p]
    return "/".join(parts) or ntype


def resolve_subnets(w: Working, n: s.NetworkIn, network: Network, p: Path_) -> None:
    """A network's subnets: no two of one IP version overlap."""
    ctx = w.ctx
    nets: list[tuple[Net, Path_]] = []
    for j, sn in enumerate(n.subnets):
        sp: Path_ = (*p, "subnets", j)
        sub_id = new_id(w, (*sp, "id"), sn.id, f"subnet/{network.name}/{sn.name}")
        net = check_cidr(ctx, (*sp, "cidr"), sn.cidr)
        if sn.ip_version is not None and sn.ip_version != net.version:
            ctx.fail((*sp, "ip_version"), f"ip_version {sn.ip_version} but cidr {net} is "
                     f"IPv{net.version}", f"use ip_version: {net.version} or remove it")
        for other, op in nets:
            if net.version == other.version and net.overlaps(other):
                ctx.fail((*sp, "cidr"), f"{net} overlaps {other} ({where(op)}) on the same "
                         "network", "use non-overlapping subnets")
        nets.append((net, (*sp, "cidr")))
        gateway: IP | None
        if "gateway_ip" not in sn.model_fields_set:
            gateway = net.network_address + 1 if net.num_addresses > 2 else None
        elif sn.gateway_ip is None:
            gateway = None
        else:
            gateway = check_ip_in(ctx, sp + ("gateway_ip",), sn.gateway_ip, net, "gateway_ip")
        pools = _pools(w, sn, net, gateway, sp)
        subnet = Subnet(
            id=sub_id, name=sn.name, network_id=network.id, cidr=str(net),
            ip_version=net.version, gateway_ip=str(gateway) if gateway else None,
            enable_dhcp=sn.enable_dhcp,
            allocation_pools=tuple(AllocationPool(str(a), str(b)) for a, b in pools),
            dns_nameservers=_dns_nameservers(w, sn, sp),
            host_routes=_host_routes(w, sn, net, sp),
        )
        sw = SubnetW(subnet, net, gateway, pools, sp)
        w.subnets.append(sw)
        w.subnet_by_ref[sn.name] = sw
        w.subnet_by_ref[sub_id] = sw


def _dns_nameservers(w: Working, sn: s.SubnetIn, sp: Path_) -> tuple[str, ...]:
    """The subnet's dns_nameservers, each an IP address."""
    for k, dns in enumerate(sn.dns_nameservers):
        check_ip(w.ctx, (*sp, "dns_nameservers", k), dns, "DNS nameserver")
    return tuple(str(ipaddress.ip_address(d)) for d in sn.dns_nameservers)


def _host_routes(w: Working, sn: s.SubnetIn, net: Net, sp: Path_) -> tuple[tuple[str, str], ...]:
    """The subnet's host_routes: a destination of its IP version, a nexthop inside it."""
    routes = []
    for k, hr in enumerate(sn.host_routes):
        hp = (*sp, "host_routes", k)
        dest = check_cidr(w.ctx, (*hp, "destination"), hr.destination)
        hop = check_ip_in(w.ctx, (*hp, "nexthop"), hr.nexthop, net, "nexthop")
        if dest.version != net.version:
            w.ctx.fail((*hp, "destination"), f"{dest} is not IPv{net.version}",
                       "use a destination of the subnet's IP version")
        routes.append((str(dest), str(hop)))
    return tuple(routes)


def _pools(w: Working, sn: s.SubnetIn, net: Net, gateway: IP | None,
           sp: Path_) -> list[tuple[IP, IP]]:
    """The given allocation pools (inside the cidr, without the gateway, not overlapping), or
    Neutron's generated ones."""
    if sn.allocation_pools is None:
        return generate_pools(net, gateway)
    ctx = w.ctx
    pools: list[tuple[IP, IP]] = []
    for k, pool in enumerate(sn.allocation_pools):
        pp = (*sp, "allocation_pools", k)
        start = check_ip_in(ctx, (*pp, "start"), pool.start, net, "pool start")
        end = check_ip_in(ctx, (*pp, "end"), pool.end, net, "pool end")
        if int(end) < int(start):
            ctx.fail(pp, f"allocation pool {start}-{end} ends before it starts",
                     "swap start and end")
        if gateway is not None and int(start) <= int(gateway) <= int(end):
            ctx.fail(pp, f"allocation pool {start}-{end} contains the gateway_ip "
                     f"{gateway}", "start the pool after the gateway or end it before")
        for a, b in pools:
            if int(start) <= int(b) and int(a) <= int(end):
                ctx.fail(pp, f"allocation pool {start}-{end} overlaps {a}-{b}",
                         "use non-overlapping pools")
        pools.append((start, end))
    return pools
