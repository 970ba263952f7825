"""The agents (layer 3): turn a `neutrace.model.Cloud` into `neutrace.dataplane.CloudState`,
programming every host exactly as Neutron's agents would (the release in
``neutrace.agents.constants.NEUTRON_RELEASE``).

- ``ovs``: neutron-openvswitch-agent (br-int, br-tun, physical bridges, ports, flows);
- ``firewall``: the iptables_hybrid security-group driver (root namespace iptables, ipsets);
- ``openvswitch_firewall``: the openvswitch security-group driver (br-int tables 60-94);
- ``sg_rpc``: what the security-group RPC tells both drivers (rules, remote-group members);
- ``vif``: Nova's hybrid plugging (tap/qbr/qvb/qvo) and the VMs as namespaces;
- ``l3_agent``: legacy routers (qrouter- namespaces, NAT);
- ``l3``: distributed routers (qrouter-, snat- and fip- namespaces) and HA routers
  (``l3.ha_router``: qrouter- with ha-, keepalived.conf, the VIPs on the master);
- ``dhcp_agent``: qdhcp- namespaces;
- ``outside``: the upstream gateway and outside hosts (``CloudState.external``).

Each host's root namespace also holds its physical NICs (``segment`` set), the tunnel NIC
(``Host.tunnel_nic`` with ``tunnel_ip/24`` on segment ``tunnel``, and the host's
``tunnel_routes`` by it) and the OVS bridges' own
internal interfaces (down, as the agent leaves them).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection

from neutrace import addr, model
from neutrace.agents import constants
from neutrace.agents.dhcp_agent import program_dhcp
from neutrace.agents.firewall import program_firewall
from neutrace.agents.l3 import program_dvr
from neutrace.agents.l3.ha_router import program_ha
from neutrace.agents.l3_agent import program_l3, program_radvd
from neutrace.agents.openvswitch_firewall import OVSFirewallDriver
from neutrace.agents.outside import program_outside
from neutrace.agents.ovs import program_ovs
from neutrace.agents.plan import OPENVSWITCH_DRIVER, HostPlan, plan_cloud
from neutrace.agents.vif import connected_route, root_devices, vm_namespaces
from neutrace.bulk import paused_gc
from neutrace.dataplane import (
    NS_HOST,
    OVS_INTERNAL,
    PHYSICAL,
    CloudState,
    HostState,
    Interface,
    Namespace,
    OvsBridge,
    Route,
    Segment,
)

__all__ = ["TUNNEL_SEGMENT", "program", "program_host"]

TUNNEL_SEGMENT = "tunnel"
TUNNEL_PREFIXLEN = 24


def _root_namespace(cloud: model.Cloud, plan: HostPlan,
                    bridges: tuple[OvsBridge, ...]) -> Namespace:
    host = plan.host
    interfaces: list[Interface] = []
    routes: list[Route] = []
    for br in bridges:
        interfaces.append(Interface(br.name, OVS_INTERNAL,
                                    mac=addr.stable_mac(f"{host.name}/{br.name}", "02:00:00"),
                                    up=False))
    for nic in host.physical_nics:
        interfaces.append(Interface(nic.name, PHYSICAL,
                                    mac=addr.stable_mac(f"{host.name}/{nic.name}", "02:00:00"),
                                    segment=nic.segment))
    if host.tunnel_ip:
        cidr = f"{host.tunnel_ip}/{TUNNEL_PREFIXLEN}"
        interfaces.append(Interface(
            host.tunnel_nic, PHYSICAL,
            mac=addr.stable_mac(f"{host.name}/{host.tunnel_nic}", "02:00:00"),
            addresses=(cidr,), segment=TUNNEL_SEGMENT))
        routes.append(connected_route(str(ipaddress.ip_network(cidr, strict=False)),
                                      host.tunnel_nic, host.tunnel_ip))
        routes += [Route(dest, host.tunnel_nic, gateway=hop) for dest, hop in host.tunnel_routes]
    interfaces += root_devices(cloud, plan)
    fw = program_firewall(cloud, plan)
    sysctls: tuple[tuple[str, str], ...] = ()
    if fw is not None:
        sysctls = (("net.bridge.bridge-nf-call-ip6tables", "1"),
                   ("net.bridge.bridge-nf-call-iptables", "1"))
    return Namespace(
        name="", kind=NS_HOST, interfaces=tuple(interfaces), routes=tuple(routes),
        iptables=fw.iptables if fw else "", ip6tables=fw.ip6tables if fw else "",
        ipsets=fw.ipsets if fw else "", sysctls=sysctls)


def program_host(cloud: model.Cloud, plan: HostPlan, plans: dict[str, HostPlan]) -> HostState:
    """One host's state: OVS, root namespace, qrouter-/qdhcp- namespaces and its VMs."""
    firewall = (OVSFirewallDriver if plan.host.firewall_driver == OPENVSWITCH_DRIVER else None)
    bridges = program_ovs(cloud, plan, plans, firewall)
    namespaces = [_root_namespace(cloud, plan, bridges)]
    namespaces += program_l3(cloud, plan.host)
    namespaces += program_dvr(cloud, plan.host)
    ha_namespaces, files = program_ha(cloud, plan.host)
    files = program_radvd(cloud, plan.host) + list(files)
    namespaces += ha_namespaces
    namespaces += program_dhcp(cloud, plan)
    namespaces += vm_namespaces(cloud, plan)
    return HostState(name=plan.host.name, management_ip=plan.host.management_ip,
                     tunnel_ip=plan.host.tunnel_ip, ovs_bridges=bridges,
                     namespaces=tuple(namespaces), files=tuple(files))


def _segments(cloud: model.Cloud) -> tuple[Segment, ...]:
    names: dict[str, str] = {s: "" for s in cloud.segments}
    for h in cloud.hosts:
        for nic in h.physical_nics:
            names.setdefault(nic.segment, f"behind {nic.bridge} ({nic.name}) of the hosts")
        if h.tunnel_ip:
            names.setdefault(TUNNEL_SEGMENT, "the tunnel (underlay) network of the tunnel IPs")
    for o in cloud.outside:
        if o.segment:
            names.setdefault(o.segment, "")
    return tuple(Segment(n, d) for n, d in sorted(names.items()))


def program(cloud: model.Cloud, only: Collection[str] | None = None) -> CloudState:
    """Program every host of ``cloud`` as Neutron's agents would; with ``only``, just the hosts
    of those names (each host's state is the same as in the whole cloud's: a host's agents need
    the other hosts' plans, not their programmed state)."""
    with paused_gc():
        plans = plan_cloud(cloud)
        hosts = tuple(program_host(cloud, plans[h.name], plans) for h in cloud.hosts
                      if only is None or h.name in only)
    return CloudState(
        hosts=hosts, segments=_segments(cloud), external=tuple(program_outside(cloud)),
        underlay=TUNNEL_SEGMENT,
        metadata=(("cloud", cloud.name), ("neutron", constants.NEUTRON_RELEASE),
                  ("neutron-lib", constants.NEUTRON_LIB_RELEASE),
                  *((f"network:{n.id}", n.name) for n in cloud.networks)))
