"""IP address management, as Neutron's ``ipam_utils`` and ``neutrondb_ipam`` driver do it:
allocation pools generated from a cidr, addresses claimed once per network, and the first free
address of a subnet's pools handed to a port that names none.

Addresses are allocated in the order Neutron would create the ports (``resolve.py``): first every
address the file gives, then DHCP ports, router gateways, VM ports and floating IPs.

On an IPv6 auto-address subnet (SLAAC or DHCPv6-stateless: ``Subnet.is_auto_address``) a port
gets no address from the pools: every port of the network but the router's interface ports
gets the EUI-64 address of its MAC (``ipam_pluggable_backend._get_auto_address_ips``), added
once its MAC is known (``eui64_addresses``); an address given for it must be that one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from neutrace import addr
from neutrace.model import ROUTER_INTERFACE_OWNERS_SNAT
from neutrace.topology.checks import IP, Net, check_ip, check_ip_in
from neutrace.topology.source import Path_
from neutrace.topology.working import PortW, SubnetW, Working, owner


def generate_pools(net: Net, gateway: IP | None) -> list[tuple[IP, IP]]:
    """Neutron's ipam_utils.generate_pools: first usable to last usable, without the gateway."""
    first, last = int(net.network_address), int(net.broadcast_address)
    if first == last:
        return [(net.network_address, net.network_address)]
    start, end = first + 1, last - (1 if net.version == 4 else 0)
    if start >= end:
        return []
    make = type(net.network_address)
    if gateway is None or not start <= int(gateway) <= end:
        return [(make(start), make(end))]
    pools = []
    if start < int(gateway):
        pools.append((make(start), make(int(gateway) - 1)))
    if int(gateway) < end:
        pools.append((make(int(gateway) + 1), make(end)))
    return pools


def claim(w: Working, port: PortW, path: Path_, ip: IP, sub: SubnetW) -> None:
    """Give ``ip`` of ``sub`` to ``port``; an address is used once per network."""
    used = w.used_ips[port.network_id]
    if ip in used:
        w.ctx.fail(path, f"IP {ip} is already used by {used[ip]} on network "
                   f"{w.net_by_ref[port.network_id].name}",
                   "give each port its own address, or leave ip out to allocate one")
    used[ip] = owner(port)
    port.ips.append((sub.subnet.id, ip))


def explicit_ips(w: Working, port: PortW, path: Path_, ips: Sequence[str],
                 subnet: SubnetW | None) -> None:
    """Claim the addresses the file gives a port (inside ``subnet`` when it names one)."""
    network = w.net_by_ref[port.network_id]
    candidates = [sw for sw in w.subnets if sw.subnet.network_id == network.id]
    for k, text in enumerate(ips):
        ip_path = (*path, k) if len(ips) > 1 else path
        ip = check_ip(w.ctx, ip_path, text)
        inside = [sw for sw in candidates if ip in sw.net]
        if subnet is not None and subnet not in inside:
            w.ctx.fail(ip_path, f"IP {ip} is outside subnet {subnet.subnet.name} "
                       f"({subnet.net})", f"use an address inside {subnet.net}")
        if not inside:
            cidrs = ", ".join(str(sw.net) for sw in candidates) or "none"
            w.ctx.fail(ip_path, f"IP {ip} is outside the subnets of network "
                       f"{network.name} ({cidrs})", "use an address inside one of them")
        sub = subnet or inside[0]
        check_ip_in(w.ctx, ip_path, text, sub.net, "IP")
        claim(w, port, ip_path, ip, sub)


def allocate(w: Working, port: PortW) -> None:
    """The first free address of each subnet in ``port.allocate_from``. Allocation starts
    after every given address is claimed and nothing is freed, so the first free address only
    moves up: a cursor per subnet keeps big clouds linear. The network's auto-address subnets
    are left for ``eui64_addresses`` (router interfaces take them from the pools)."""
    auto = port.device_owner not in ROUTER_INTERFACE_OWNERS_SNAT
    if auto:
        given = {sid for sid, _ip in port.ips}
        port.eui64_from = [sw.subnet.id for sw in w.subnets
                           if sw.subnet.network_id == port.network_id
                           and sw.subnet.is_auto_address and sw.subnet.id not in given]
    for sub_id in port.allocate_from:
        sub = w.subnet_by_ref[sub_id]
        if auto and sub.subnet.is_auto_address:
            continue
        found = _first_free(w, sub, w.used_ips[port.network_id])
        if found is None:
            w.ctx.fail(port.path, f"no free address left in the allocation pools of "
                       f"subnet {sub.subnet.name}",
                       "widen the allocation_pools or give the port an ip")
        claim(w, port, port.path, found, sub)
    port.allocate_from = []


def eui64_addresses(w: Working, port: PortW, mac: str) -> None:
    """The EUI-64 addresses of ``port``'s MAC on its auto-address subnets, and a check that an
    address the file gave it on such a subnet is that address (Neutron refuses another:
    ``AllocationOnAutoAddressSubnet``). Router interfaces and DVR SNAT ports take pool
    addresses (or the gateway) there instead."""
    if port.device_owner in ROUTER_INTERFACE_OWNERS_SNAT:
        return
    for sid, ip in port.ips:
        sub = w.subnet_by_ref[sid]
        if sub.subnet.is_auto_address and str(ip) != addr.ipv6_eui64(sub.subnet.cidr, mac):
            w.ctx.fail(port.path, f"IP address {ip} cannot be directly assigned to a port on "
                       f"subnet {sub.subnet.name}: it is an IPv6 auto-address subnet "
                       f"({sub.subnet.ipv6_address_mode or sub.subnet.ipv6_ra_mode}), where "
                       f"the port's address is the EUI-64 of its MAC {mac}: "
                       f"{addr.ipv6_eui64(sub.subnet.cidr, mac)}",
                       "leave the address out (the EUI-64 one is added)")
    for sid in port.eui64_from:
        sub = w.subnet_by_ref[sid]
        claim(w, port, port.path, ipaddress.IPv6Address(addr.ipv6_eui64(sub.subnet.cidr, mac)),
              sub)
    port.eui64_from = []


def _first_free(w: Working, sub: SubnetW, used: dict[IP, str]) -> IP | None:
    """The lowest unused address of ``sub``'s pools, from the subnet's cursor on."""
    make = type(sub.net.network_address)
    found = None
    pool_index, value = w.cursor.get(sub.subnet.id, (0, None))
    while pool_index < len(sub.pools):
        start, end = sub.pools[pool_index]
        value = int(start) if value is None else value
        while value <= int(end):
            candidate = make(value)
            if candidate not in used:
                found = candidate
                break
            value += 1
        if found is not None:
            break
        pool_index, value = pool_index + 1, None
    w.cursor[sub.subnet.id] = (pool_index, value)
    return found


def one_per_family(subnets: Sequence[SubnetW]) -> list[str]:
    """The subnets a port without a given address gets one from: as Neutron's IPAM for a port
    created without fixed_ips, the first IPv4 subnet and the first stateful IPv6 subnet (if
    any; the auto-address ones give every port its EUI-64 address besides)."""
    out = []
    for version in (4, 6):
        first = next((sw for sw in subnets if sw.net.version == version
                      and not sw.subnet.is_auto_address), None)
        if first is not None:
            out.append(first.subnet.id)
    return out
