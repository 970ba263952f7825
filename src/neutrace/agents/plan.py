"""What each host's agents see (layer 3): the ports bound to it that get an OVS port on br-int,
their device names, and the local VLAN of each network on the host.

Neutron processes the ports a scan finds as a set, so its order is not defined; neutrace uses the
order of ``Cloud.ports`` (filtered to the host) for plugging (ofport numbers) and for allocating
local VLANs. Local VLANs follow ``provision_local_vlan``: a pin in ``Host.local_vlans`` is honoured
(as Neutron's ``_restore_local_vlan_map`` keeps a port's existing tag), otherwise the lowest free
VLAN from 1 is taken (``available_local_vlans.pop()`` on a fresh set of 1..4094 yields the lowest).
"""

from __future__ import annotations

from dataclasses import dataclass

from neutrace import model
from neutrace.agents import constants as c
from neutrace.errors import TopologyError

# device kinds of a bound port
VIF_HYBRID = "hybrid"  # a VM port behind the hybrid firewall: tap - qbr - qvb/qvo
VIF_TAP = "tap"  # a VM port plugged straight into br-int (openvswitch or noop firewall)
VIF_ROUTER_INTERNAL = "qr"
VIF_ROUTER_GATEWAY = "qg"
VIF_DHCP = "dhcp"
VIF_SNAT = "sg"  # a distributed router's centralized SNAT port (snat- namespace)
VIF_FIP_GW = "fg"  # a floating IP agent gateway port (fip- namespace)
VIF_HA = "ha"  # an HA router's port on its HA network (ha-, qrouter- namespace)

HYBRID_DRIVERS = ("iptables_hybrid",)
NON_HYBRID_DRIVERS = ("openvswitch", "noop")
OPENVSWITCH_DRIVER = "openvswitch"


@dataclass(frozen=True, slots=True)
class Vif:
    """A Neutron port as plugged on its host: ``ovs_name`` is its port on br-int."""

    port: model.Port
    kind: str
    ovs_name: str

    @property
    def is_network_owned(self) -> bool:
        return self.port.device_owner.startswith(c.DEVICE_OWNER_NETWORK_PREFIX)


@dataclass(frozen=True, slots=True)
class HostPlan:
    host: model.Host
    vifs: tuple[Vif, ...]
    lvids: tuple[tuple[str, int], ...]  # (network_id, local vlan) in allocation order

    def lvid(self, network_id: str) -> int | None:
        return dict(self.lvids).get(network_id)

    @property
    def tunneling(self) -> bool:
        return bool(self.host.tunnel_ip) and bool(self.host.tunnel_types)


def vif_kind(host: model.Host, port: model.Port) -> str | None:
    owner = port.device_owner
    if owner in model.ROUTER_INTERFACE_OWNERS:
        return VIF_ROUTER_INTERNAL
    if owner == model.DEVICE_OWNER_ROUTER_SNAT:
        return VIF_SNAT
    if owner == model.DEVICE_OWNER_AGENT_GW:
        return VIF_FIP_GW
    if owner == model.DEVICE_OWNER_ROUTER_HA_INTF:
        return VIF_HA
    if owner == model.DEVICE_OWNER_ROUTER_GW:
        return VIF_ROUTER_GATEWAY
    if owner == model.DEVICE_OWNER_DHCP:
        return VIF_DHCP
    if owner.startswith(c.DEVICE_OWNER_COMPUTE_PREFIX):
        return VIF_HYBRID if host.firewall_driver in HYBRID_DRIVERS else VIF_TAP
    return None


def ovs_port_name(kind: str, port_id: str) -> str:
    short = port_id[:11]
    return {
        VIF_HYBRID: c.QVO_PREFIX + short,
        VIF_TAP: c.TAP_DEVICE_PREFIX + short,
        VIF_ROUTER_INTERNAL: c.INTERNAL_DEV_PREFIX + short,
        VIF_ROUTER_GATEWAY: c.EXTERNAL_DEV_PREFIX + short,
        VIF_DHCP: c.TAP_DEVICE_PREFIX + short,
        VIF_SNAT: c.SNAT_INT_DEV_PREFIX + short,
        VIF_FIP_GW: c.FIP_EXT_DEV_PREFIX + short,
        VIF_HA: c.HA_DEV_PREFIX + short,
    }[kind]


def _check_host(host: model.Host) -> None:
    if host.firewall_driver not in HYBRID_DRIVERS + NON_HYBRID_DRIVERS:
        raise TopologyError(
            "<cloud>", f"hosts[{host.name}].firewall_driver",
            f"firewall driver {host.firewall_driver!r} is not modelled",
            "use iptables_hybrid, openvswitch or noop")


def host_ports(cloud: model.Cloud, host: model.Host) -> list[model.Port]:
    """The ports plugged on ``host``, in ``Cloud.ports`` order: those bound to it, the
    interface ports of the distributed routers instantiated on it (distributed port bindings:
    the same port on every host of the router's ``dvr_hosts``) and the interface and gateway
    ports of the HA routers scheduled to it (every agent of ``ha_hosts`` plugs them, bound to
    the master or not)."""
    shared = {pid for r in cloud.routers if r.distributed and host.name in r.dvr_hosts
              for pid in r.interface_port_ids}
    for r in cloud.routers:
        if r.ha and host.name in r.ha_hosts:
            shared.update(r.interface_port_ids)
            if r.external_gateway is not None:
                shared.add(r.external_gateway.port_id)
    if not shared:
        return list(cloud.ports_on(host.name))
    return [p for p in cloud.ports if p.binding_host_id == host.name or p.id in shared]


def plan_host(cloud: model.Cloud, host: model.Host) -> HostPlan:
    _check_host(host)
    vifs: list[Vif] = []
    for port in host_ports(cloud, host):
        kind = vif_kind(host, port)
        if kind is None:
            continue
        vifs.append(Vif(port, kind, ovs_port_name(kind, port.id)))
    pins = dict(host.local_vlans)
    used = set(pins.values())
    lvids: dict[str, int] = {}
    next_free = c.MIN_VLAN_TAG
    for vif in vifs:
        net = cloud.network(vif.port.network_id)
        if net.id in lvids:
            continue
        _check_network(cloud, host, net, vif.port)
        if net.id in pins:
            lvids[net.id] = pins[net.id]
            continue
        while next_free in used or next_free in lvids.values():
            next_free += 1
        if next_free > c.MAX_VLAN_TAG:
            raise TopologyError("<cloud>", f"hosts[{host.name}]", "no local VLAN left",
                                "use fewer networks on this host")
        lvids[net.id] = next_free
    return HostPlan(host, tuple(vifs), tuple(lvids.items()))


def _check_network(cloud: model.Cloud, host: model.Host, net: model.Network,
                   port: model.Port) -> None:
    if net.network_type in (model.TYPE_FLAT, model.TYPE_VLAN):
        if host.bridge_for(net.physical_network or "") is None:
            raise TopologyError(
                "<cloud>", f"ports[{port.id}]",
                f"port is bound to host {host.name}, which has no bridge_mappings entry for "
                f"physical network {net.physical_network!r} of network {net.name}",
                f"add '{net.physical_network}:br-...' to the host's bridge_mappings")
    elif net.network_type in c.TUNNEL_NETWORK_TYPES:
        if not host.tunnel_ip or net.network_type not in host.tunnel_types:
            raise TopologyError(
                "<cloud>", f"ports[{port.id}]",
                f"port is bound to host {host.name}, which has no {net.network_type} tunnel "
                f"(tunnel_ip/tunnel_types) for network {net.name}",
                f"give the host a tunnel_ip and tunnel_types [{net.network_type}]")
    elif net.network_type != model.TYPE_LOCAL:
        raise TopologyError("<cloud>", f"networks[{net.name}].network_type",
                            f"unknown network type {net.network_type!r}",
                            "use flat, vlan, vxlan, gre, geneve or local")


def check_bindings(cloud: model.Cloud) -> None:
    """What the agents rely on: routers and VMs on known hosts, their ports bound there."""
    hosts = {h.name for h in cloud.hosts}
    ports = {p.id: p for p in cloud.ports}

    def bound(pid: str, host: str, where: str) -> None:
        port = ports.get(pid)
        if port is None:
            raise TopologyError("<cloud>", where, f"no port {pid!r}", "declare the port")
        if port.binding_host_id != host:
            raise TopologyError(
                "<cloud>", where, f"port {pid} is bound to {port.binding_host_id!r}, "
                f"not to {host!r}", f"set its binding_host_id to {host!r}")

    for r in cloud.routers:
        where = f"routers[{r.name}]"
        if r.distributed and not r.host:
            continue
        if r.host not in hosts:
            raise TopologyError("<cloud>", f"{where}.host", f"no host {r.host!r}",
                                "host the router on one of the cloud's hosts")
        if not r.distributed:
            for pid in r.interface_port_ids:
                bound(pid, r.host, f"{where}.interface_port_ids")
        if r.external_gateway:
            bound(r.external_gateway.port_id, r.host, f"{where}.external_gateway")
    for vm in cloud.vms:
        if vm.host not in hosts:
            raise TopologyError("<cloud>", f"vms[{vm.name}].host", f"no host {vm.host!r}",
                                "run the VM on one of the cloud's hosts")
        for pid in vm.port_ids:
            bound(pid, vm.host, f"vms[{vm.name}].port_ids")
    for fip in cloud.floating_ips:
        if fip.port_id and fip.port_id not in ports:
            raise TopologyError("<cloud>", f"floating_ips[{fip.floating_ip_address}]",
                                f"no port {fip.port_id!r}", "associate an existing port")


def plan_cloud(cloud: model.Cloud) -> dict[str, HostPlan]:
    check_bindings(cloud)
    return {h.name: plan_host(cloud, h) for h in cloud.hosts}
