"""IP address management, as Neutron's ``ipam_utils`` and ``neutrondb_ipam`` driver do it:
allocation pools generated from a cidr, addresses claimed once per network, and the first free
address of a subnet's pools handed to a port that names none.

Addresses are allocated in the order Neutron would create the ports (``resolve.py``): first every
address the file gives, then DHCP ports, router gateways, VM ports and floating IPs.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    moves up: a cursor per subnet keeps big clouds linear."""
    for sub_id in port.allocate_from:
        sub = w.subnet_by_ref[sub_id]
        found = _first_free(w, sub, w.used_ips[port.network_id])
        if found is None:
            w.ctx.fail(port.path, f"no free address left in the allocation pools of "
                       f"subnet {sub.subnet.name}",
                       "widen the allocation_pools or give the port an ip")
        claim(w, port, port.path, found, sub)
    port.allocate_from = []


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
    created without fixed_ips, the first IPv4 subnet and the first IPv6 subnet (if any)."""
    out = []
    for version in (4, 6):
        first = next((sw for sw in subnets if sw.net.version == version), None)
        if first is not None:
            out.append(first.subnet.id)
    return out
