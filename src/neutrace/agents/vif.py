"""VM plumbing on a compute host (layer 3): what Nova/os-vif create for each VM port, and the VM.

Hybrid plugging (``OVS_HYBRID_PLUG_REQUIRED`` of the iptables_hybrid firewall): the VM's NIC is
the far end of ``tap<port id[:11]>``, enslaved to the Linux bridge ``qbr<id>``, which a veth pair
``qvb<id>``/``qvo<id>`` joins to br-int (``qvo`` is the OVS port). Without hybrid plugging (the
noop driver) ``tap<id>`` itself is the OVS port. The tap's MAC is the port's MAC with the first
byte ``fe`` (as libvirt sets it); the veth ends get stable locally-administered MACs.

The VM is a namespace of kind ``vm`` named after the VM: ``lo``, ``eth0``, ``eth1``... (one per
port, in the VM's port order) with the port's MAC and fixed IPs, connected routes, the subnets'
host routes and a default route via the first port's subnet gateway (what DHCP would give it),
and the addresses the guest configures itself (``Vm.guest_addresses``, e.g. a VIP of an allowed
address pair) after the fixed IPs.
"""

from __future__ import annotations

import ipaddress

from neutrace import addr, model
from neutrace.agents import constants as c
from neutrace.agents.plan import VIF_HYBRID, VIF_TAP, HostPlan
from neutrace.dataplane import (
    BRIDGE,
    LOOPBACK,
    NS_VM,
    TAP,
    VETH,
    Interface,
    Namespace,
    Route,
)


def _local_mac(seed: str) -> str:
    return addr.stable_mac(seed, base="02:00:00")


def tap_mac(port_mac: str) -> str:
    return "fe" + addr.norm_mac(port_mac)[2:]


def vm_nic_name(cloud: model.Cloud, port: model.Port) -> str:
    """``eth<n>``: the port's place in the first VM listing it (eth0 when none does)."""
    def build() -> dict[str, str]:
        names: dict[str, str] = {}
        for vm in cloud.vms:
            for index, port_id in enumerate(vm.port_ids):
                names.setdefault(port_id, f"eth{index}")
        return names
    return model.cloud_index(cloud, ("vif.nic_names",), build).get(port.id, "eth0")


def _vms_on(cloud: model.Cloud, host: str) -> list[model.Vm]:
    def build() -> dict[str, list[model.Vm]]:
        by_host: dict[str, list[model.Vm]] = {}
        for vm in cloud.vms:
            by_host.setdefault(vm.host, []).append(vm)
        return by_host
    return model.cloud_index(cloud, ("vif.vms_on",), build).get(host, [])


def root_devices(cloud: model.Cloud, plan: HostPlan) -> list[Interface]:
    """The root-namespace devices of the host's VM ports."""
    out: list[Interface] = []
    for vif in plan.vifs:
        if vif.kind not in (VIF_HYBRID, VIF_TAP):
            continue
        port = vif.port
        mtu = cloud.network(port.network_id).mtu
        short = port.id[:11]
        tap = c.TAP_DEVICE_PREFIX + short
        nic = vm_nic_name(cloud, port)
        if vif.kind == VIF_HYBRID:
            qbr, qvb, qvo = c.QBR_PREFIX + short, c.QVB_PREFIX + short, c.QVO_PREFIX + short
            out += [
                Interface(qbr, BRIDGE, mac=_local_mac(f"{plan.host.name}/{qvb}"), mtu=mtu),
                Interface(qvb, VETH, mac=_local_mac(f"{plan.host.name}/{qvb}"), mtu=mtu,
                          peer=qvo, peer_namespace="", master=qbr),
                Interface(qvo, VETH, mac=_local_mac(f"{plan.host.name}/{qvo}"), mtu=mtu,
                          peer=qvb, peer_namespace=""),
                Interface(tap, TAP, mac=tap_mac(port.mac_address), mtu=mtu, master=qbr,
                          peer=nic, peer_namespace=port.device_id),
            ]
        else:
            out.append(Interface(tap, TAP, mac=tap_mac(port.mac_address), mtu=mtu,
                                 peer=nic, peer_namespace=port.device_id))
    return out


def connected_route(cidr: str, device: str, source: str) -> Route:
    net = ipaddress.ip_network(cidr, strict=False)
    return Route(str(net), device, scope="link", proto="kernel", source=source)


def advertised(cloud: model.Cloud, subnet: model.Subnet) -> bool:
    """Whether a guest on IPv6 ``subnet`` hears router advertisements, so that the kernel takes
    a default route from them: a router interface on it (the L3 agent's radvd advertises every
    IPv6 subnet of a router), or IPv6 modes set (on a provider network the physical router
    advertises). The guest's route goes via the subnet's gateway_ip, which that router holds
    (a real RA's source is the router's link-local address, which neutrace does not model)."""
    if subnet.ip_version != 6:
        return False
    if subnet.ipv6_ra_mode or subnet.ipv6_address_mode:
        return True
    return any(p.device_owner in model.ROUTER_INTERFACE_OWNERS
               and any(f.subnet_id == subnet.id for f in p.fixed_ips)
               for p in cloud.ports_of(subnet.network_id))


def vm_namespaces(cloud: model.Cloud, plan: HostPlan) -> list[Namespace]:
    out: list[Namespace] = []
    for vm in _vms_on(cloud, plan.host.name):
        interfaces = [Interface("lo", LOOPBACK, addresses=("127.0.0.1/8",))]
        routes: list[Route] = []
        default: Route | None = None
        default6: Route | None = None
        for index, port_id in enumerate(vm.port_ids):
            port = cloud.port(port_id)
            nic = f"eth{index}"
            addresses: list[str] = []
            for fip in port.fixed_ips:
                subnet = cloud.subnet(fip.subnet_id)
                prefix = ipaddress.ip_network(subnet.cidr, strict=False).prefixlen
                addresses.append(f"{fip.ip_address}/{prefix}")
                routes.append(connected_route(subnet.cidr, nic, fip.ip_address))
                for dest, nexthop in subnet.host_routes:
                    routes.append(Route(dest, nic, gateway=nexthop, proto="dhcp"))
                if default is None and subnet.gateway_ip and subnet.ip_version == 4:
                    default = Route("default", nic, gateway=subnet.gateway_ip, proto="dhcp")
                if default6 is None and subnet.gateway_ip and advertised(cloud, subnet):
                    default6 = Route("default", nic, gateway=subnet.gateway_ip, proto="ra")
            addresses += [cidr for pid, cidr in vm.guest_addresses if pid == port_id]
            interfaces.append(Interface(
                nic, VETH, mac=addr.norm_mac(port.mac_address),
                mtu=cloud.network(port.network_id).mtu, addresses=tuple(addresses),
                peer=c.TAP_DEVICE_PREFIX + port.id[:11], peer_namespace=""))
        routes[:0] = [r for r in (default, default6) if r is not None]
        out.append(Namespace(name=vm.name, kind=NS_VM, interfaces=tuple(interfaces),
                             routes=tuple(routes)))
    return out
