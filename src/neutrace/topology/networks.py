"""Networks and subnets, as Neutron's core plugin (``db_base_plugin_v2``) and the ML2 type
drivers accept them: the provider attributes of each network type, one network per segment,
segmentation ids allocated for tenant networks and partial provider segments (``ml2``), the
MTU, and each subnet's cidr, gateway, allocation pools, DNS servers and host routes.
"""

from __future__ import annotations

import ipaddress

from neutrace.model import (
    IPV6_AUTO_MODES,
    TUNNEL_TYPES,
    TYPE_FLAT,
    TYPE_GENEVE,
    TYPE_GRE,
    TYPE_LOCAL,
    TYPE_VLAN,
    TYPE_VXLAN,
    AllocationPool,
    Ml2Config,
    Network,
    Subnet,
)
from neutrace.topology import schema as s
from neutrace.topology.checks import (
    IP,
    MAX_VLAN,
    Net,
    check_cidr,
    check_in_range,
    check_ip,
    check_ip_in,
    check_unique,
)
from neutrace.topology.ipam import generate_pools
from neutrace.topology.ml2 import MAX_TUNNEL_ID, SegmentPool
from neutrace.topology.source import Path_, where
from neutrace.topology.working import SubnetW, Working, new_id

# 1500 minus the encapsulation overhead (type_tunnel/type_geneve get_mtu: the outer IPv4 header
# and VXLAN_ENCAP_OVERHEAD 30, GRE_ENCAP_OVERHEAD 22, Geneve's max_header_size 30)
_DEFAULT_MTU = {TYPE_VXLAN: 1450, TYPE_GRE: 1458, TYPE_GENEVE: 1450}


def default_mtu(network_type: str) -> int:
    """A network's MTU when none is given: 1500 less the type's encapsulation overhead."""
    return _DEFAULT_MTU.get(network_type, 1500)


SegmentKey = tuple[str, str | None, int | None]  # (network_type, physnet, segmentation id)


def resolve_networks(w: Working, ml2: Ml2Config) -> None:
    """Every network (with its subnets), in file order; tenant networks' segments as ML2
    allocates them (``topology.ml2``)."""
    ctx = w.ctx
    networks = w.cloud.networks
    check_unique(ctx, ((("networks", i, "name"), n.name) for i, n in enumerate(networks)),
                 "network name")
    check_unique(ctx, ((("networks", i, "subnets", j, "name"), sn.name)
                       for i, n in enumerate(networks) for j, sn in enumerate(n.subnets)),
                 "subnet name")
    segments: dict[SegmentKey, Path_] = {}
    pool = SegmentPool.of(w, ml2)
    for i, n in enumerate(networks):
        p: Path_ = ("networks", i)
        net_id = new_id(w, (*p, "id"), n.id, f"network/{n.name}")
        ntype, physnet, seg = _segment(w, n.provider, (*p, "provider"), pool)
        _claim_segment(w, segments, (ntype, physnet, seg), p)
        mtu = n.mtu if n.mtu is not None else default_mtu(ntype)
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


def _segment(w: Working, prov: s.ProviderIn | None, pp: Path_,
             pool: SegmentPool) -> SegmentKey:
    """A tenant network's segment from ML2's allocation, or the provider attributes checked
    (a missing VNI, GRE key or VLAN id allocated)."""
    if prov is None:
        got = pool.tenant_segment()
        if got is None:
            w.ctx.fail(pp[:-1], "no tenant network is available: every VLAN of "
                       "ml2.network_vlan_ranges is taken and tenant_network_types has no "
                       "other type", "widen network_vlan_ranges, add a type to "
                       "tenant_network_types, or give the network provider attributes")
        return got
    ctx = w.ctx
    ntype, physnet, seg = prov.network_type, prov.physical_network, prov.segmentation_id
    if ntype == TYPE_FLAT and not physnet:
        ctx.fail(pp, f"a {ntype} network needs provider.physical_network",
                 "add physical_network: <a physnet of the hosts' bridge_mappings>")
    if ntype not in (TYPE_FLAT, TYPE_VLAN) and physnet is not None:
        ctx.fail((*pp, "physical_network"),
                 f"a {ntype} network has no physical_network", "remove physical_network")
    if ntype in (TYPE_FLAT, TYPE_LOCAL) and seg is not None:
        ctx.fail((*pp, "segmentation_id"), f"a {ntype} network has no segmentation_id",
                 "remove segmentation_id")
    if ntype == TYPE_VLAN:
        physnet, seg = _vlan_segment(w, prov, pp, pool)
    elif ntype in TUNNEL_TYPES:
        high = MAX_TUNNEL_ID[ntype]
        if seg is None:
            seg = pool.tunnel_id(ntype)
        what = "GRE key" if ntype == TYPE_GRE else "VNI"
        check_in_range(ctx, (*pp, "segmentation_id"), seg, 1, high, what,
                       f"use a {what} between 1 and {high}")
    return ntype, physnet, seg


def _vlan_segment(w: Working, prov: s.ProviderIn, pp: Path_,
                  pool: SegmentPool) -> tuple[str, int]:
    """A VLAN provider network's physnet and VLAN id: the physnet known to
    network_vlan_ranges (when the file has ranges), a missing id from its ranges."""
    ctx = w.ctx
    physnet, seg = prov.physical_network, prov.segmentation_id
    ranged = pool.ml2.vlan_physnets()
    if physnet is not None and ranged and physnet not in ranged:
        ctx.fail((*pp, "physical_network"), f"physical_network {physnet!r} is unknown for "
                 f"VLAN provider networks: it is not in ml2.network_vlan_ranges "
                 f"({', '.join(ranged)})",
                 f"add '{physnet}' (or '{physnet}:<min>:<max>') to network_vlan_ranges")
    if physnet is None and (seg is not None or not ranged):
        # with ranges, a bare {network_type: vlan} takes a VLAN of any physnet (ML2 does)
        ctx.fail(pp, "a vlan network needs provider.physical_network",
                 "add physical_network: <a physnet of the hosts' bridge_mappings>")
    if seg is None:
        if not ranged:
            ctx.fail(pp, "a vlan network needs provider.segmentation_id (its VLAN id)",
                     f"add segmentation_id: <1..{MAX_VLAN}>")
        got = pool.vlan(physnet)
        if got is None:
            ctx.fail(pp, f"no VLAN is left in the network_vlan_ranges of "
                     f"{physnet or 'any physnet'}", "widen the ranges or give segmentation_id")
        return got
    assert physnet is not None
    check_in_range(ctx, (*pp, "segmentation_id"), seg, 1, MAX_VLAN, "VLAN id",
                   f"use a VLAN id between 1 and {MAX_VLAN}")
    return physnet, seg


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
        _ipv6_modes(w, sn, net, sp)
        subnet = Subnet(
            id=sub_id, name=sn.name, network_id=network.id, cidr=str(net),
            ip_version=net.version, gateway_ip=str(gateway) if gateway else None,
            enable_dhcp=sn.enable_dhcp,
            allocation_pools=tuple(AllocationPool(str(a), str(b)) for a, b in pools),
            dns_nameservers=_dns_nameservers(w, sn, sp),
            host_routes=_host_routes(w, sn, net, sp),
            ipv6_ra_mode=sn.ipv6_ra_mode, ipv6_address_mode=sn.ipv6_address_mode,
        )
        sw = SubnetW(subnet, net, gateway, pools, sp)
        w.subnets.append(sw)
        w.subnet_by_ref[sn.name] = sw
        w.subnet_by_ref[sub_id] = sw


def _ipv6_modes(w: Working, sn: s.SubnetIn, net: Net, sp: Path_) -> None:
    """``ipv6_ra_mode``/``ipv6_address_mode`` as ``db_base_plugin_v2`` accepts them: IPv6 only,
    with DHCP enabled, the same value when both are set, a /64 for the EUI-64 modes."""
    ra, address = sn.ipv6_ra_mode, sn.ipv6_address_mode
    if ra is None and address is None:
        return
    key = "ipv6_ra_mode" if ra is not None else "ipv6_address_mode"
    if net.version != 6:
        w.ctx.fail((*sp, key), f"{key} on IPv4 subnet {net}: the IPv6 modes are for IPv6 "
                   "subnets", f"remove {key}, or use an IPv6 cidr")
    if not sn.enable_dhcp:
        w.ctx.fail((*sp, key), "ipv6_ra_mode or ipv6_address_mode cannot be set when "
                   "enable_dhcp is set to False (Neutron refuses it)",
                   f"set enable_dhcp: true or remove {key}")
    if ra is not None and address is not None and ra != address:
        w.ctx.fail((*sp, "ipv6_address_mode"), f"ipv6_ra_mode set to '{ra}' with "
                   f"ipv6_address_mode set to '{address}' is not valid. If both attributes are "
                   "set, they must be the same value", "give both the same mode, or one of them")
    if (ra in IPV6_AUTO_MODES or address in IPV6_AUTO_MODES) and net.prefixlen != 64:
        w.ctx.fail((*sp, "cidr"), f"Invalid CIDR {net} for IPv6 address mode. OpenStack uses "
                   "the EUI-64 address format, which requires the prefix to be /64",
                   "use a /64 cidr")


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
