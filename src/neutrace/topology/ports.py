"""Ports, as Neutron creates them: the VMs' ports (Nova asks for them), the DHCP ports (the DHCP
agent's, one per network-node host for each network with a DHCP-enabled subnet), their security
groups and allowed address pairs; and, once every address is known, the finished ``model.Port``s
with their MACs (``fa:16:3e:...``) and the checks that need every port (bindings, device names).

Router and floating IP ports are made in ``l3``; addresses come from ``ipam``.
"""

from __future__ import annotations

import ipaddress
import uuid

from neutrace import addr
from neutrace.model import (
    DEVICE_OWNER_COMPUTE,
    DEVICE_OWNER_DHCP,
    DEVICE_OWNER_FLOATINGIP,
    ROLE_COMPUTE,
    TUNNEL_TYPES,
    AllowedAddressPair,
    FixedIp,
    Network,
    Port,
    Vm,
)
from neutrace.topology import schema as s
from neutrace.topology.checks import check_cidr, check_ip, check_mac, check_ref, check_unique
from neutrace.topology.hosts import tunnel_types
from neutrace.topology.ipam import eui64_addresses, explicit_ips, one_per_family
from neutrace.topology.security_groups import default_sg_id
from neutrace.topology.source import Path_, where
from neutrace.topology.working import PortW, SubnetW, Working, network_hosts, new_id, owner


def dhcp_device_id(network_id: str, host: str) -> str:
    """Neutron's ``common_utils.get_dhcp_agent_device_id``."""
    host_uuid = uuid.uuid5(uuid.NAMESPACE_DNS, host.split(".")[0])
    return f"dhcp{host_uuid}-{network_id}"


def new_port(w: Working, *, path: Path_, id_path: Path_, given_id: str | None, seed: str,
             name: str, network: Network, mac: str | None, mac_path: Path_, owner: str,
             device_id: str | None, host: str) -> PortW:
    """A new port on ``network`` (no address yet), registered in ``w.ports``."""
    port_id = new_id(w, id_path, given_id, seed)
    port = PortW(
        id=port_id, name=name, network_id=network.id,
        mac=check_mac(w.ctx, mac_path, mac) if mac is not None else None,
        device_owner=owner, device_id=device_id if device_id is not None else port_id,
        host=host, path=path,
    )
    w.ports.append(port)
    return port


def subnet_of(w: Working, path: Path_, ref: str, network: Network | None) -> SubnetW:
    """The subnet ``ref`` names (on ``network`` when given)."""
    known = [sw.subnet.name for sw in w.subnets
             if network is None or sw.subnet.network_id == network.id]
    sub = check_ref(w.ctx, path, w.subnet_by_ref, ref, "subnet", known)
    if network is not None and sub.subnet.network_id != network.id:
        w.ctx.fail(path, f"subnet {sub.subnet.name} is not on network {network.name}",
                   f"use one of: {', '.join(known) or 'none'}")
    return sub


def resolve_vms(w: Working) -> list[Vm]:
    """The VMs on compute hosts, and their ports (given addresses claimed)."""
    ctx = w.ctx
    check_unique(ctx, ((("vms", i, "name"), v.name) for i, v in enumerate(w.cloud.vms)),
                 "VM name")
    vms = []
    for i, v in enumerate(w.cloud.vms):
        p: Path_ = ("vms", i)
        host = check_ref(ctx, (*p, "host"), w.hosts, v.host, "host", list(w.hosts))
        if ROLE_COMPUTE not in host.roles:
            ctx.fail((*p, "host"), f"host {host.name} has no role compute (nova-compute), "
                     "so it cannot run VMs", f"add compute to host {host.name}'s roles or "
                     "place the VM on a compute host")
        port_ids = [_vm_port(w, v, (*p, "ports", j), j, vp).id for j, vp in enumerate(v.ports)]
        guest = tuple((pid, cidr) for j, (vp, pid) in enumerate(zip(v.ports, port_ids,
                                                                     strict=True))
                      for cidr in _guest_addresses(w, (*p, "ports", j), vp))
        vms.append(Vm(name=v.name, host=v.host, port_ids=tuple(port_ids),
                      guest_addresses=guest))
    return vms


def _guest_addresses(w: Working, pp: Path_, vp: s.VmPortIn) -> list[str]:
    """``guest_addresses``: host addresses of a subnet of the port's network, as
    ``address/prefixlen`` of that subnet."""
    network = w.net_by_ref[vp.network]
    subnets = [sw.subnet for sw in w.subnets if sw.subnet.network_id == network.id]
    out: list[str] = []
    for k, text in enumerate(vp.guest_addresses):
        ip = check_ip(w.ctx, (*pp, "guest_addresses", k), text)
        sub = next((sn for sn in subnets
                    if ip in ipaddress.ip_network(sn.cidr, strict=False)), None)
        if sub is None:
            w.ctx.fail((*pp, "guest_addresses", k), f"{ip} is in no subnet of network "
                       f"{network.name}", "give an address of one of its subnets: "
                       + (", ".join(sn.cidr for sn in subnets) or "it has none"))
        out.append(f"{ip}/{ipaddress.ip_network(sub.cidr, strict=False).prefixlen}")
    return out


def _vm_port(w: Working, v: s.VmIn, pp: Path_, j: int, vp: s.VmPortIn) -> PortW:
    """One port of a VM (Nova's port create): its network, addresses, security."""
    network = check_ref(w.ctx, (*pp, "network"), w.net_by_ref, vp.network, "network",
                        [n.name for n in w.networks])
    port = new_port(
        w, path=pp, id_path=(*pp, "id"), given_id=vp.id, seed=f"port/vm/{v.name}/{j}",
        name=vp.name, network=network, mac=vp.mac, mac_path=(*pp, "mac"),
        owner=DEVICE_OWNER_COMPUTE, device_id=v.name, host=v.host,
    )
    subnet = subnet_of(w, (*pp, "subnet"), vp.subnet, network) if vp.subnet is not None else None
    if vp.ip:
        explicit_ips(w, port, (*pp, "ip"), vp.ip, subnet)
    else:
        choices = [subnet] if subnet else [
            sw for sw in w.subnets if sw.subnet.network_id == network.id]
        if not choices:
            w.ctx.fail((*pp, "network"), f"network {network.name} has no subnet, so "
                       "the port gets no address", "add a subnet to the network")
        port.allocate_from = one_per_family(choices)
    _port_security(w, port, vp, pp)
    return port


def _port_security(w: Working, port: PortW, vp: s.VmPortIn, pp: Path_) -> None:
    """port_security_enabled, the security groups (``default`` when none are named) and the
    allowed address pairs, as Neutron's port security extension accepts them."""
    ctx = w.ctx
    port.port_security_enabled = vp.port_security_enabled
    if vp.security_groups is not None and vp.security_groups and not vp.port_security_enabled:
        ctx.fail((*pp, "security_groups"), "a port with port_security_enabled: false "
                 "cannot have security groups (Neutron refuses it)",
                 "remove security_groups or enable port security")
    if vp.port_security_enabled:
        refs = ["default"] if vp.security_groups is None else vp.security_groups
        sgs = []
        for k, ref in enumerate(refs):
            if ref == "default" and "default" not in w.sg_by_ref:
                sgs.append(default_sg_id(w))
                continue
            g = check_ref(ctx, (*pp, "security_groups", k), w.sg_by_ref, ref,
                          "security group", [*w.sg_ids, "default"])
            sgs.append(w.sg_ids[g.name])
        port.security_groups = tuple(dict.fromkeys(sgs))
    for k, pair in enumerate(vp.allowed_address_pairs):
        ap: Path_ = (*pp, "allowed_address_pairs", k)
        text = pair.ip_address
        if "/" in text:
            check_cidr(ctx, (*ap, "ip_address"), text)
        else:
            check_ip(ctx, (*ap, "ip_address"), text)
        mac = check_mac(ctx, (*ap, "mac_address"), pair.mac_address) \
            if pair.mac_address is not None else None
        port.pairs.append((text, mac))
    if vp.allowed_address_pairs and not vp.port_security_enabled:
        ctx.fail((*pp, "allowed_address_pairs"), "allowed_address_pairs need port "
                 "security", "enable port security or remove the pairs")


def resolve_dhcp_ports(w: Working) -> list[PortW]:
    """The DHCP ports: one per network-node host for each network with a DHCP subnet."""
    created = []
    for i, n in enumerate(w.cloud.networks):
        p: Path_ = ("networks", i)
        network = w.net_by_ref[n.name]
        dhcp_subnets = [sw for sw in w.subnets
                        if sw.subnet.network_id == network.id and sw.subnet.enable_dhcp]
        if not dhcp_subnets:
            if n.dhcp_ports:
                w.ctx.fail((*p, "dhcp_ports"), f"network {n.name} has no subnet with "
                           "enable_dhcp, so it has no DHCP port",
                           "remove dhcp_ports or enable DHCP on a subnet")
            continue
        hosts = network_hosts(w)
        if not hosts:
            w.ctx.fail(p, f"network {n.name} has a DHCP-enabled subnet but no host has role "
                       "network (the DHCP agent)",
                       "add network to a host's roles, or set enable_dhcp: false")
        pins = _dhcp_pins(w, n, p, hosts)
        for host in hosts:
            k, pin = pins.get(host, (-1, s.DhcpPortIn(host=host)))
            pp: Path_ = (*p, "dhcp_ports", k) if k >= 0 else p
            port = new_port(
                w, path=pp, id_path=(*pp, "id"), given_id=pin.id,
                seed=f"port/dhcp/{network.id}/{host}", name="", network=network,
                mac=pin.mac, mac_path=(*pp, "mac"), owner=DEVICE_OWNER_DHCP,
                device_id=dhcp_device_id(network.id, host), host=host,
            )
            port.security_groups = ()
            if pin.ip:
                explicit_ips(w, port, (*pp, "ip"), pin.ip, None)
            else:
                port.allocate_from = [sw.subnet.id for sw in dhcp_subnets]
            created.append(port)
    return created


def _dhcp_pins(w: Working, n: s.NetworkIn, p: Path_,
               hosts: list[str]) -> dict[str, tuple[int, s.DhcpPortIn]]:
    """A network's ``dhcp_ports`` (given id/MAC/address per DHCP host), by host."""
    pins: dict[str, tuple[int, s.DhcpPortIn]] = {}
    for k, pin in enumerate(n.dhcp_ports):
        kp: Path_ = (*p, "dhcp_ports", k, "host")
        check_ref(w.ctx, kp, w.hosts, pin.host, "host", list(w.hosts))
        if pin.host not in hosts:
            w.ctx.fail(kp, f"host {pin.host} has no role network, so no DHCP agent",
                       f"use one of: {', '.join(hosts)}")
        if pin.host in pins:
            w.ctx.fail(kp, f"two DHCP ports pinned on host {pin.host}",
                       "pin one DHCP port per host")
        pins[pin.host] = (k, pin)
    return pins


def check_bindings(w: Working) -> None:
    """Every bound port's host can carry its network (a bridge mapping, a tunnel)."""
    for port in w.ports:
        if not port.host:
            continue
        host = w.hosts[port.host]
        network = w.net_by_ref[port.network_id]
        if network.physical_network is not None and \
                network.physical_network not in host.bridge_mappings:
            mapped = ", ".join(f"{k}: {v}" for k, v in host.bridge_mappings.items())
            w.ctx.fail(port.path, f"host {host.name} has {owner(port, False)} on "
                       f"{network.network_type} network {network.name}, but no bridge mapping "
                       "for its "
                       f"physical_network {network.physical_network!r} (bridge_mappings: "
                       f"{{{mapped}}})",
                       f"add '{network.physical_network}: <bridge>' to host {host.name}'s "
                       "bridge_mappings (and a physical_nics entry on that bridge)")
        if network.network_type in TUNNEL_TYPES:
            types = tunnel_types(host)
            if host.tunnel_ip is None or network.network_type not in types:
                w.ctx.fail(port.path, f"host {host.name} has {owner(port, False)} on "
                           f"{network.network_type} network {network.name}, but "
                           + ("no tunnel_ip" if host.tunnel_ip is None else
                              f"its tunnel_types {list(types)} lack {network.network_type}"),
                           f"give host {host.name} a tunnel_ip and "
                           f"{network.network_type} in tunnel_types")


def check_short_ids(w: Working) -> None:
    """No two bound ports share the 11 characters their device names are made of."""
    seen: dict[str, PortW] = {}
    for pw in w.ports:
        if not pw.host:
            continue
        short = pw.id[:11]
        if short in seen:
            other = seen[short]
            w.ctx.fail(pw.path, f"port {pw.id} and port {other.id} ({where(other.path)}) "
                       f"share the first 11 characters {short}, so their devices "
                       f"(tap{short}, qr-{short}...) would have the same name",
                       "change one of the ids in its first 11 characters")
        seen[short] = pw


def finish_port(w: Working, port: PortW) -> Port:
    """The model's Port, with a MAC unique on its network (generated when not given)."""
    mac = port.mac
    used_macs = w.macs.setdefault(port.network_id, {})
    if mac is None:
        k = 0
        while True:
            seed = f"{w.name}/mac/{port.id}" + (f"/{k}" if k else "")
            mac = addr.stable_mac(seed)
            if mac not in used_macs:
                break
            k += 1
    elif mac in used_macs:
        w.ctx.fail(_mac_path(port),
                   f"duplicate MAC {mac} on network "
                   f"{w.net_by_ref[port.network_id].name} (also {used_macs[mac]})",
                   "give each port its own MAC, or leave mac out to generate one")
    used_macs[mac] = owner(port)
    eui64_addresses(w, port, mac)
    return Port(
        id=port.id, name=port.name, network_id=port.network_id, mac_address=mac,
        fixed_ips=tuple(FixedIp(sid, str(ip)) for sid, ip in port.ips),
        device_owner=port.device_owner, device_id=port.device_id,
        binding_host_id=port.host, security_groups=port.security_groups,
        port_security_enabled=port.port_security_enabled,
        allowed_address_pairs=tuple(AllowedAddressPair(ip, m or mac) for ip, m in port.pairs),
    )


def _mac_path(port: PortW) -> Path_:
    """Where a port's MAC is (or would be) written in the file."""
    if port.device_owner == DEVICE_OWNER_FLOATINGIP:
        return (*port.path, "port_mac")
    last = port.path[-1] if port.path else None
    if last in ("external_gateway",) or isinstance(last, int):
        return (*port.path, "mac")
    return port.path
