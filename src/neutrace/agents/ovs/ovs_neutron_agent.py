"""neutron-openvswitch-agent, re-enacted: ``OVSNeutronAgent`` driving the per-bridge classes.

Follows ``ovs_neutron_agent.OVSNeutronAgent`` of the Neutron release in ``agents.constants``
step by step, in the order the agent works, because that order fixes the ofport numbers; every
flow is written by a bridge method of the same name as Neutron's (``br_int``, ``br_tun``,
``br_phys``):

1. ``setup_integration_br``: br-int and ``int_br.setup_default_table``.
2. ``setup_physical_bridges``: per ``bridge_mappings`` entry, ``phys_br.setup_default_table``, the
   patch pair ``int-<br>`` / ``phy-<br>`` (names from ``get_interface_name``; br-int's end gets
   ``set_igmp_snooping_flood``), ``drop_port`` on both ends. The physical NICs were put on the
   bridge by the operator before the agent started.
3. ``setup_tunnel_br`` + ``setup_tunnel_br_flows``: ``patch-tun``/``patch-int``
   (``set_igmp_snooping_flood`` on patch-tun) and ``tun_br.setup_default_table``; then the
   ``OVSDVRNeutronAgent`` (``ovs_dvr_neutron_agent``) and, with ``enable_distributed_routing``,
   its ``setup_dvr_flows``.
4. ``tunnel_sync`` (without l2_population): a tunnel port ``vxlan-<remote ip in hex>`` per other
   host, ``tun_br.setup_tunnel_port`` (in_port -> table 4).
5. the first ``rpc_loop`` iteration's ``process_network_ports``, per port: ``port_bound``
   (``provision_local_vlan`` on first use of a network: ``tun_br.install_flood_to_tun`` and
   ``tun_br.provision_local_vlan``, or ``phys_br``/``int_br.provision_local_vlan``; the port's tag
   and other_config) and ``setup_arp_spoofing_protection`` for VM ports (unless the firewall
   driver protects against spoofing itself, as the openvswitch one does), then the security
   group agent's ``setup_port_filters`` (the openvswitch driver's br-int tables).
6. with l2_population, the ``fdb_add`` the mechanism driver sends: tunnel ports only towards
   hosts with ports of the same network, ``install_flood_to_tun``, ``install_unicast_to_tun`` and
   ``install_arp_responder`` entries.

Each bridge has one stable cookie (Neutron's per-bridge default cookie, derived from host and
bridge instead of drawn at random).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from neutrace import addr, model
from neutrace.agents import constants as c
from neutrace.agents.ovs.br_int import OVSIntegrationBridge
from neutrace.agents.ovs.br_phys import OVSPhysicalBridge
from neutrace.agents.ovs.br_tun import OVSTunnelBridge
from neutrace.agents.ovs.ovs_bridge import BridgeBuilder, bridge_cookie
from neutrace.agents.ovs.ovs_dvr_neutron_agent import LocalVlan, OVSDVRNeutronAgent, VifPort
from neutrace.agents.plan import VIF_HYBRID, VIF_TAP, HostPlan, Vif
from neutrace.dataplane import OvsBridge


def get_interface_name(name: str, prefix: str = "", max_len: int = c.DEVICE_NAME_MAX_LEN) -> str:
    """neutron_lib.plugins.utils.get_interface_name: prefix+name, hashed when too long."""
    requested = prefix + name
    if len(requested) <= max_len:
        return requested
    hash_len = 6
    namelen = max_len - len(prefix) - hash_len
    digest = hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:hash_len]
    return f"{prefix}{name[:namelen]}{digest}"


def get_tunnel_name(network_type: str, remote_ip: str) -> str:
    """``OVSNeutronAgent.get_tunnel_name``: ``vxlan-c0a87816`` for IPv4 remotes."""
    ip = ipaddress.ip_address(remote_ip)
    if ip.version == 4:
        return f"{network_type}-{addr.ip_to_hex(remote_ip)}"
    hashlen = c.DEVICE_NAME_MAX_LEN - len(network_type) - 1
    digest = hashlib.blake2b(remote_ip.encode(), digest_size=20).digest()
    return f"{network_type}-{base64.b32encode(digest)[:hashlen].decode().lower()}"


class FirewallDriver(Protocol):
    """A security-group firewall driver that programs br-int."""

    provides_arp_spoofing_protection: bool

    def setup_port_filters(self, cloud: model.Cloud, plan: HostPlan) -> None:
        """Filter the host's bound ports (the agent's first ``setup_port_filters``)."""


FirewallFactory = Callable[[OVSIntegrationBridge], FirewallDriver]


@dataclass
class LocalVLANMapping:
    """``vlanmanager.LocalVLANMapping``: a network's local VLAN on this host."""

    vlan: int
    network_type: str
    physical_network: str | None
    segmentation_id: int | None
    tun_ofports: set[int] = field(default_factory=set)


class OVSNeutronAgent:
    """Programs one host. ``plans`` are every host's plans (l2_population needs the others')."""

    def __init__(self, cloud: model.Cloud, plan: HostPlan, plans: dict[str, HostPlan]) -> None:
        """The agent's configuration ([ovs], [agent]) from the host; no bridge programmed yet."""
        self.cloud = cloud
        self.plan = plan
        self.plans = plans
        self.host = plan.host
        self.local_ip = self.host.tunnel_ip
        self.l2_pop = self.host.l2_population
        self.arp_responder_enabled = self.host.arp_responder and self.l2_pop
        self.enable_distributed_routing = self.host.enable_distributed_routing
        self.tunnel_types = list(self.host.tunnel_types) if plan.tunneling else []
        self.enable_tunneling = bool(self.tunnel_types)
        if self.enable_distributed_routing and self.enable_tunneling:
            # "ARP responder was not enabled but is required since DVR and tunneling are
            # enabled, setting to True."
            self.arp_responder_enabled = True
        self.int_br = OVSIntegrationBridge(c.INTEGRATION_BRIDGE,
                                           bridge_cookie(self.host.name, c.INTEGRATION_BRIDGE))
        self.tun_br: OVSTunnelBridge | None = None
        self.phys_brs: dict[str, OVSPhysicalBridge] = {}  # physnet -> bridge
        self.int_ofports: dict[str, int] = {}
        self.phys_ofports: dict[str, int] = {}
        self.patch_int_ofport = 0
        self.patch_tun_ofport = 0
        self.tun_br_ofports: dict[str, dict[str, int]] = {t: {} for t in c.TUNNEL_NETWORK_TYPES}
        self.vlan_manager: dict[str, LocalVLANMapping] = {}  # network id -> mapping
        self.dvr_agent: OVSDVRNeutronAgent | None = None
        # the security-group agent's firewall driver, when it programs br-int (openvswitch);
        # a driver that protects against ARP spoofing itself leaves tables 24/25 alone
        self.firewall: FirewallDriver | None = None
        self.prevent_arp_spoofing = True

    # -- 1. br-int --------------------------------------------------------------------------
    def setup_integration_br(self) -> None:
        """br-int's default tables."""
        self.int_br.setup_default_table()

    # -- 2. physical bridges ------------------------------------------------------------------
    def setup_physical_bridges(self) -> None:
        """Per bridge mapping: the bridge's default table, the patch pair, drop_port."""
        for physnet, bridge in self.host.bridge_mappings:
            br = OVSPhysicalBridge(bridge, bridge_cookie(self.host.name, bridge))
            for nic in self.host.physical_nics:
                if nic.bridge == bridge:
                    br.add_port(nic.name)
            br.setup_default_table()
            self.phys_brs[physnet] = br
            int_if = get_interface_name(bridge, c.PEER_INTEGRATION_PREFIX)
            phys_if = get_interface_name(bridge, c.PEER_PHYSICAL_PREFIX)
            int_ofport = self.int_br.add_patch_port(int_if, phys_if)
            self.int_br.set_igmp_snooping_flood(int_if)
            phys_ofport = br.add_patch_port(phys_if, int_if)
            self.int_ofports[physnet] = int_ofport
            self.phys_ofports[physnet] = phys_ofport
            self.int_br.drop_port(in_port=int_ofport)
            if not self.enable_distributed_routing:
                br.drop_port(in_port=phys_ofport)

    # -- 3. br-tun ----------------------------------------------------------------------------
    def setup_tunnel_br(self) -> None:
        """br-tun and the patch pair patch-tun / patch-int."""
        self.tun_br = OVSTunnelBridge(c.TUNNEL_BRIDGE,
                                      bridge_cookie(self.host.name, c.TUNNEL_BRIDGE))
        self.patch_tun_ofport = self.int_br.add_patch_port(c.INT_PEER_PATCH_PORT,
                                                           c.TUN_PEER_PATCH_PORT)
        self.patch_int_ofport = self.tun_br.add_patch_port(c.TUN_PEER_PATCH_PORT,
                                                           c.INT_PEER_PATCH_PORT)
        self.int_br.set_igmp_snooping_flood(c.INT_PEER_PATCH_PORT)

    def setup_tunnel_br_flows(self) -> None:
        """br-tun's default tables."""
        assert self.tun_br is not None
        self.tun_br.setup_default_table(self.patch_int_ofport, self.arp_responder_enabled,
                                        self.enable_distributed_routing)

    # -- 3b. DVR ------------------------------------------------------------------------------
    def setup_dvr_agent(self) -> None:
        """``OVSDVRNeutronAgent`` made after the bridges; its flows when DVR is on."""
        self.dvr_agent = OVSDVRNeutronAgent(
            self.cloud, self.host, self.int_br, self.tun_br, self.phys_brs, self.int_ofports,
            self.phys_ofports, self.patch_int_ofport, self.patch_tun_ofport,
            self.enable_tunneling, self.enable_distributed_routing)
        if self.enable_distributed_routing:
            self.dvr_agent.setup_dvr_flows()

    # -- 4. tunnels ---------------------------------------------------------------------------
    def _setup_tunnel_port(self, br: OVSTunnelBridge, port_name: str, remote_ip: str,
                           tunnel_type: str) -> int:
        """The tunnel port towards ``remote_ip`` and its table 0 entry."""
        assert self.local_ip is not None
        ofport = br.add_tunnel_port(port_name, remote_ip, self.local_ip, tunnel_type,
                                    c.VXLAN_UDP_PORT, c.DONT_FRAGMENT)
        self.tun_br_ofports[tunnel_type][remote_ip] = ofport
        br.setup_tunnel_port(tunnel_type, ofport)
        return ofport

    def _setup_tunnel_flood_flow(self, br: OVSTunnelBridge, tunnel_type: str) -> None:
        """Without l2_population: every network of the type floods into every tunnel."""
        ofports = list(self.tun_br_ofports[tunnel_type].values())
        if ofports and not self.l2_pop:
            for lvm in self.vlan_manager.values():
                if lvm.network_type == tunnel_type and lvm.segmentation_id is not None:
                    br.install_flood_to_tun(lvm.vlan, lvm.segmentation_id, ofports)

    def setup_tunnel_port(self, br: OVSTunnelBridge, remote_ip: str, network_type: str) -> int:
        """A tunnel port (l2population's fdb_add) and the flood flows that include it."""
        ofport = self._setup_tunnel_port(br, get_tunnel_name(network_type, remote_ip),
                                         remote_ip, network_type)
        self._setup_tunnel_flood_flow(br, network_type)
        return ofport

    def tunnel_sync(self) -> None:
        """Without l2_population: a tunnel port to every other endpoint of each tunnel type
        (what ML2's tunnel_sync answers)."""
        if self.tun_br is None:
            return
        for tunnel_type in self.tunnel_types:
            if self.l2_pop:
                continue
            for remote in self._remote_hosts():
                if tunnel_type in remote.tunnel_types and remote.tunnel_ip:
                    self._setup_tunnel_port(self.tun_br,
                                            get_tunnel_name(tunnel_type, remote.tunnel_ip),
                                            remote.tunnel_ip, tunnel_type)
            self._setup_tunnel_flood_flow(self.tun_br, tunnel_type)

    def _remote_hosts(self) -> list[model.Host]:
        """The other hosts with a tunnel endpoint (not this host's local_ip)."""
        return [h for h in self.cloud.hosts
                if h.name != self.host.name and h.tunnel_ip and h.tunnel_ip != self.local_ip]

    # -- 5. ports -----------------------------------------------------------------------------
    def plug_vifs(self) -> None:
        """The VIFs appear on br-int (Nova, the L3 and DHCP agents plug them) untagged."""
        for vif in self.plan.vifs:
            port = vif.port
            ext = {"iface-id": port.id, "iface-status": "active",
                   "attached-mac": port.mac_address}
            if vif.kind in (VIF_HYBRID, VIF_TAP):
                ext["vm-uuid"] = _vm_uuid(port.device_id)
                self.int_br.add_port(vif.ovs_name, "", external_ids=ext)
            else:
                self.int_br.add_port(vif.ovs_name, "internal", external_ids=ext,
                                     mac=port.mac_address)

    def _local_vlan_for_physical(self, lvid: int, physical_network: str,
                                 segmentation_id: int | None = None) -> None:
        """The local VLAN <-> segment translation on the physical bridge and br-int."""
        self.phys_brs[physical_network].provision_local_vlan(
            port=self.phys_ofports[physical_network], lvid=lvid,
            segmentation_id=segmentation_id, distributed=self.enable_distributed_routing)
        self.int_br.provision_local_vlan(port=self.int_ofports[physical_network], lvid=lvid,
                                         segmentation_id=segmentation_id)

    def provision_local_vlan(self, net: model.Network, lvid: int) -> None:
        """A network's first port on the host: its local VLAN's flows."""
        lvm = LocalVLANMapping(lvid, net.network_type, net.physical_network, net.segmentation_id)
        self.vlan_manager[net.id] = lvm
        if net.network_type in c.TUNNEL_NETWORK_TYPES:
            assert self.tun_br is not None and net.segmentation_id is not None
            ofports = sorted(set(self.tun_br_ofports[net.network_type].values())
                             | lvm.tun_ofports)
            if ofports:
                self.tun_br.install_flood_to_tun(lvid, net.segmentation_id, ofports)
            if self.enable_distributed_routing:
                assert self.dvr_agent is not None
                self.dvr_agent.process_tunneled_network(net.network_type, lvid,
                                                        net.segmentation_id)
            else:
                self.tun_br.provision_local_vlan(network_type=net.network_type, lvid=lvid,
                                                 segmentation_id=net.segmentation_id)
        elif net.network_type == model.TYPE_FLAT:
            self._local_vlan_for_physical(lvid, net.physical_network or "")
        elif net.network_type == model.TYPE_VLAN:
            self._local_vlan_for_physical(lvid, net.physical_network or "", net.segmentation_id)

    def port_bound(self, vif: Vif, net: model.Network) -> None:
        """The port joins its network's local VLAN: tag and other_config (the mapping)."""
        lvid = self.plan.lvid(net.id)
        assert lvid is not None
        if net.id not in self.vlan_manager:
            self.provision_local_vlan(net, lvid)
        lvm = self.vlan_manager[net.id]
        if self.dvr_agent is not None:
            port = vif.port
            self.dvr_agent.bind_port_to_dvr(
                VifPort(port.id, self.int_br.get_port_ofport(vif.ovs_name),
                        addr.norm_mac(port.mac_address)),
                LocalVlan(lvm.vlan, lvm.network_type, lvm.physical_network,
                          lvm.segmentation_id), port)
        mapping = {"net_uuid": net.id, "network_type": net.network_type,
                   "physical_network": str(net.physical_network), "tag": str(lvid)}
        if net.segmentation_id is not None:
            mapping["segmentation_id"] = str(net.segmentation_id)
        self.int_br.set_port_vlan(vif.ovs_name, lvid, mapping)

    def init_firewall(self, factory: FirewallFactory | None) -> None:
        """``SecurityGroupAgentRpc.init_firewall`` (in the agent's ``__init__``, after the
        bridges): the driver gets br-int; ``prevent_arp_spoofing`` follows from it."""
        if factory is not None:
            self.firewall = factory(self.int_br)
            self.prevent_arp_spoofing = not self.firewall.provides_arp_spoofing_protection

    def process_network_ports(self) -> None:
        """``treat_devices_added_or_updated`` for every bound port, in plan order, then the
        security-group agent's ``setup_port_filters`` for all of them."""
        for vif in self.plan.vifs:
            self.port_bound(vif, self.cloud.network(vif.port.network_id))
            if self.prevent_arp_spoofing:
                setup_arp_spoofing_protection(self.int_br, vif)
        if self.firewall is not None:
            self.firewall.setup_port_filters(self.cloud, self.plan)

    # -- 6. l2 population ---------------------------------------------------------------------
    def fdb_add(self) -> None:
        """The l2pop fdb entries of every tunnelled network with a port here: per remote host
        with ports in it, the flooding entry and each port's (MAC, IP)."""
        if not self.l2_pop or self.tun_br is None:
            return
        for net_id, _lvid in self.plan.lvids:
            net = self.cloud.network(net_id)
            if net.network_type not in self.tunnel_types or net.segmentation_id is None:
                continue
            lvm = self.vlan_manager[net_id]
            flooding = False
            for remote, remote_vifs in self._network_vifs(net_id):
                if remote.name == self.host.name or not remote.tunnel_ip or \
                        remote.tunnel_ip == self.local_ip or \
                        net.network_type not in remote.tunnel_types:
                    continue
                ofport = (self.tun_br_ofports[net.network_type].get(remote.tunnel_ip)
                          or self.setup_tunnel_port(self.tun_br, remote.tunnel_ip,
                                                    net.network_type))
                lvm.tun_ofports.add(ofport)
                if not flooding:
                    # later remotes only rewrite this flow's actions in place (same table,
                    # priority and match): it is written once more after the loop
                    self.tun_br.install_flood_to_tun(lvm.vlan, net.segmentation_id,
                                                     sorted(lvm.tun_ofports))
                    flooding = True
                for vif in remote_vifs:
                    if vif.port.device_owner in (model.DEVICE_OWNER_DVR_INTERFACE,
                                                 model.DEVICE_OWNER_HA_REPLICATED_INT):
                        # a distributed or HA router port (get_distributed_active_network_
                        # ports): its host's tunnel, no fdb entry
                        continue
                    mac = addr.norm_mac(vif.port.mac_address)
                    for fip in vif.port.fixed_ips:
                        self.setup_entry_for_arp_reply(self.tun_br, lvm.vlan, mac,
                                                       fip.ip_address)
                        self.tun_br.install_unicast_to_tun(lvm.vlan, net.segmentation_id,
                                                           ofport, mac)
            if flooding:
                self.tun_br.install_flood_to_tun(lvm.vlan, net.segmentation_id,
                                                 sorted(lvm.tun_ofports))

    def _network_vifs(self, net_id: str) -> list[tuple[model.Host, list[Vif]]]:
        """The hosts (in the cloud's order) with VIFs on ``net_id``, and those VIFs in plan
        order (one index per cloud's plans, shared by every host's agent)."""
        plans = self.plans

        def build() -> tuple[object, dict[str, list[tuple[model.Host, list[Vif]]]]]:
            index: dict[str, list[tuple[model.Host, list[Vif]]]] = {}
            for host in self.cloud.hosts:
                plan = plans.get(host.name)
                if plan is None:
                    continue
                by_net: dict[str, list[Vif]] = {}
                for v in plan.vifs:
                    by_net.setdefault(v.port.network_id, []).append(v)
                for nid, vifs in by_net.items():
                    index.setdefault(nid, []).append((host, vifs))
            return plans, index  # the plans are kept so that their id is not reused

        _plans, index = model.cloud_index(self.cloud, ("ovs.network_vifs", id(plans)), build)
        return index.get(net_id, [])

    def setup_entry_for_arp_reply(self, br: OVSTunnelBridge, local_vid: int, mac_address: str,
                                  ip_address: str) -> None:
        """With the ARP responder: answer ARP for a remote port's IPv4 address locally."""
        if not self.arp_responder_enabled or ipaddress.ip_address(ip_address).version == 6:
            return
        br.install_arp_responder(local_vid, ip_address, mac_address)

    # -- all ----------------------------------------------------------------------------------
    def run(self, firewall: FirewallFactory | None = None) -> tuple[OvsBridge, ...]:
        """The agent's start and first rpc_loop iteration; the bridges it leaves."""
        self.setup_integration_br()
        self.setup_physical_bridges()
        if self.enable_tunneling:
            self.setup_tunnel_br()
            self.setup_tunnel_br_flows()
        self.setup_dvr_agent()
        self.init_firewall(firewall)
        self.tunnel_sync()
        self.plug_vifs()
        self.process_network_ports()
        self.fdb_add()
        bridges: list[BridgeBuilder] = [self.int_br]
        if self.tun_br is not None:
            bridges.append(self.tun_br)
        bridges += list(self.phys_brs.values())
        return tuple(b.build() for b in bridges)


def setup_arp_spoofing_protection(bridge: OVSIntegrationBridge, vif: Vif) -> None:
    """``OVSNeutronAgent.setup_arp_spoofing_protection``: a VM port may send only from its MACs,
    ARP only for its IPv4 addresses and neighbour advertisements only for its IPv6 ones (and
    link-local addresses); network-owned ports and ports without port security get none."""
    port = vif.port
    ofport = bridge.get_port_ofport(vif.ovs_name)
    if not port.port_security_enabled or vif.is_network_owned:
        bridge.delete_arp_spoofing_protection(port=ofport)
        bridge.set_allowed_macs_for_port(port=ofport, allow_all=True)
        return
    bridge.delete_arp_spoofing_allow_rules(port=ofport)
    addresses = [f.ip_address for f in port.fixed_ips]
    macs = [addr.norm_mac(port.mac_address)]
    for pair in port.allowed_address_pairs:
        addresses.append(pair.ip_address)
        if pair.mac_address and addr.norm_mac(pair.mac_address) not in macs:
            macs.append(addr.norm_mac(pair.mac_address))
    addresses = list(dict.fromkeys(addresses))
    bridge.set_allowed_macs_for_port(ofport, sorted(macs))
    v6 = [a for a in addresses if ipaddress.ip_network(a, strict=False).version == 6]
    v6 += [addr.ipv6_lla(m) for m in macs]
    if not _has_zero_prefixlen_address(v6):
        bridge.install_icmpv6_na_spoofing_protection(port=ofport,
                                                     ip_addresses=sorted(set(v6)))
    v4 = [a for a in addresses if ipaddress.ip_network(a, strict=False).version == 4]
    if not _has_zero_prefixlen_address(v4):
        bridge.install_arp_spoofing_protection(port=ofport, ip_addresses=sorted(set(v4)))
    else:
        bridge.delete_arp_spoofing_protection(port=ofport)


def _has_zero_prefixlen_address(addresses: list[str]) -> bool:
    """``has_zero_prefixlen_address``: a /0 among them (it allows any address)."""
    return any(ipaddress.ip_network(a, strict=False).prefixlen == 0 for a in addresses)


def _vm_uuid(device_id: str) -> str:
    """Nova's instance uuid: the model names VMs, so a non-uuid name gets a stable uuid."""
    try:
        return str(uuid.UUID(device_id))
    except ValueError:
        return addr.stable_uuid(f"vm/{device_id}")


def program_ovs(cloud: model.Cloud, plan: HostPlan, plans: dict[str, HostPlan],
                firewall: FirewallFactory | None = None) -> tuple[OvsBridge, ...]:
    """The OVS bridges of ``plan.host`` as neutron-openvswitch-agent leaves them; ``firewall``
    makes the security-group driver that programs br-int (the openvswitch one), None for the
    drivers that program nothing in OVS (iptables_hybrid, noop)."""
    return OVSNeutronAgent(cloud, plan, plans).run(firewall)
