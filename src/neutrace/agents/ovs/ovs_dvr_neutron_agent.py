"""neutron-openvswitch-agent's DVR part, re-enacted: ``ovs_dvr_neutron_agent.OVSDVRNeutronAgent``.

With ``enable_distributed_routing`` (a host whose L3 agent runs in dvr or dvr_snat mode):

- ``setup_dvr_flows`` at start: br-int's DVR_TO_SRC_MAC tables drop by default, br-tun sends
  what comes from br-int through DVR_PROCESS (table 1) and what comes from a tunnel with another
  host's DVR MAC through DVR_NOT_LEARN (table 9, unlearned), each physical bridge the same with
  its tables 1-3; then ``setup_dvr_mac_flows_on_all_brs``: per other host's DVR MAC, br-int table
  0 sends frames from it to DVR_TO_SRC_MAC (1, or 2 from a physical bridge) and br-tun table 9 /
  the physical bridge's table 3 output them to br-int; this host's own DVR MAC as destination
  goes to ARP_DVR_MAC_TO_DST_MAC (3, or 4).
- ``bind_port_to_dvr`` per bound port (from ``port_bound``): a distributed router interface
  (``_bind_distributed_router_interface_port``): the DVR_TO_SRC_MAC entries of the local
  DVR-serviced ports of its subnet, the ARP_DVR_MAC_TO_DST_MAC entry of the router port, the
  bridge's DVR_PROCESS entries (ARP for the gateway blocked, the router port's MAC replaced by
  the host's DVR MAC) and the ARP-reply rewrite of table 0; a DVR-serviced port (compute, DHCP)
  on a DVR-owned subnet: its DVR_TO_SRC_MAC entry; a centralized SNAT port: its entry.

The server's answers (``get_dvr_mac_address_by_host``, ``get_dvr_mac_address_list``,
``get_subnet_for_dvr``, ``get_ports_on_host_by_subnet``) come from the cloud model.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from neutrace import addr, model
from neutrace.agents import constants as c
from neutrace.agents.ovs.br_int import OVSIntegrationBridge
from neutrace.agents.ovs.br_phys import OVSPhysicalBridge
from neutrace.agents.ovs.br_tun import OVSTunnelBridge


@dataclass
class SubnetInfo:
    """``get_subnet_for_dvr``'s answer: the subnet and the MAC of its gateway port."""

    id: str
    cidr: str
    ip_version: int
    gateway_ip: str | None
    gateway_mac: str | None


@dataclass
class LocalDVRSubnetMapping:
    """A DVR-routed subnet on this host: its compute ports, router ports, SNAT port."""

    subnet: SubnetInfo
    csnat_ofport: int = -1
    dvr_owned: bool = False
    compute_ports: dict[str, int] = field(default_factory=dict)
    dvr_ports: dict[str, int] = field(default_factory=dict)


@dataclass
class OVSPort:
    """A port the DVR agent knows: id, ofport, MAC, device_owner and its DVR subnets."""

    id: str
    ofport: int
    mac: str
    device_owner: str
    subnets: set[str] = field(default_factory=set)


@dataclass
class VifPort:
    """``ovs_lib.VifPort``: what ``bind_port_to_dvr`` gets of a port on br-int."""

    vif_id: str
    ofport: int
    vif_mac: str


@dataclass
class LocalVlan:
    """The parts of ``LocalVLANMapping`` the DVR agent reads."""

    vlan: int
    network_type: str
    physical_network: str | None
    segmentation_id: int | None


def is_dvr_serviced(device_owner: str) -> bool:
    """``n_utils.is_dvr_serviced`` (host_dvr_for_dhcp on): compute ports and DHCP ports."""
    return (device_owner.startswith(c.DEVICE_OWNER_COMPUTE_PREFIX)
            or device_owner == model.DEVICE_OWNER_DHCP)


class OVSDVRNeutronAgent:
    """Implements OVS-based DVR (Distributed Virtual Router) agent."""

    def __init__(self, cloud: model.Cloud, host: model.Host, int_br: OVSIntegrationBridge,
                 tun_br: OVSTunnelBridge | None, phys_brs: dict[str, OVSPhysicalBridge],
                 int_ofports: dict[str, int], phys_ofports: dict[str, int],
                 patch_int_ofport: int, patch_tun_ofport: int, enable_tunneling: bool,
                 enable_distributed_routing: bool) -> None:
        """The agent's bridges and ports; the host's DVR MAC from the server."""
        self.cloud = cloud
        self.host = host
        self.int_br = int_br
        self.tun_br = tun_br
        self.phys_brs = phys_brs
        self.bridge_mappings = [physnet for physnet, _br in host.bridge_mappings]
        self.int_ofports = int_ofports
        self.phys_ofports = phys_ofports
        self.patch_int_ofport = patch_int_ofport
        self.patch_tun_ofport = patch_tun_ofport
        self.enable_tunneling = enable_tunneling
        self.enable_distributed_routing = enable_distributed_routing
        self.local_dvr_map: dict[str, LocalDVRSubnetMapping] = {}
        self.local_ports: dict[str, OVSPort] = {}
        self.registered_dvr_macs: set[str] = set()
        self.dvr_mac_address: str | None = None
        if enable_distributed_routing:
            self.dvr_mac_address = addr.norm_mac(host.dvr_mac) if host.dvr_mac else None

    def in_distributed_mode(self) -> bool:
        """The server gave this host a DVR MAC."""
        return self.dvr_mac_address is not None

    # -- server answers ------------------------------------------------------------------------
    def get_dvr_mac_address_list(self) -> list[str]:
        """Every DVR host's MAC (``dvr_host_macs`` rows), in host order."""
        return [addr.norm_mac(h.dvr_mac) for h in self.cloud.hosts if h.dvr_mac]

    def get_subnet_for_dvr(self, subnet_id: str, fixed_ip: str | None) -> SubnetInfo:
        """The subnet and the MAC of the port holding ``fixed_ip`` (else its gateway_ip)."""
        subnet = self.cloud.subnet(subnet_id)
        ip = fixed_ip if fixed_ip is not None else subnet.gateway_ip
        gateway_mac = next((addr.norm_mac(p.mac_address) for p in self.cloud.ports
                            for f in p.fixed_ips
                            if f.subnet_id == subnet_id and f.ip_address == ip), None)
        return SubnetInfo(subnet.id, subnet.cidr, subnet.ip_version, subnet.gateway_ip,
                          gateway_mac)

    def get_ports_on_host_by_subnet(self, subnet_id: str) -> list[model.Port]:
        """The DVR-serviced ports bound to this host with an address on ``subnet_id``."""
        return [p for p in self.cloud.ports_on(self.host.name)
                if is_dvr_serviced(p.device_owner)
                and any(f.subnet_id == subnet_id for f in p.fixed_ips)]

    # -- setup ---------------------------------------------------------------------------------
    def setup_dvr_flows(self) -> None:
        """The DVR tables of every bridge and the DVR MAC entries."""
        self.setup_dvr_flows_on_integ_br()
        self.setup_dvr_flows_on_tun_br()
        self.setup_dvr_flows_on_phys_br()
        self.setup_dvr_mac_flows_on_all_brs()

    def setup_dvr_flows_on_integ_br(self) -> None:
        """br-int: the canary, DVR_TO_SRC_MAC(_PHYSICAL) drop, physical bridges' drop."""
        self.int_br.setup_canary_table()
        self.int_br.install_drop(table_id=c.DVR_TO_SRC_MAC, priority=1)
        self.int_br.install_drop(table_id=c.DVR_TO_SRC_MAC_PHYSICAL, priority=1)
        for physical_network in self.bridge_mappings:
            self.int_br.install_drop(table_id=c.LOCAL_SWITCHING, priority=2,
                                     match=(("in_port",
                                             str(self.int_ofports[physical_network])),))

    def setup_dvr_flows_on_tun_br(self) -> None:
        """br-tun: from br-int to DVR_PROCESS, DVR_NOT_LEARN -> 10, DVR_PROCESS -> 2."""
        if not self.enable_tunneling or self.tun_br is None:
            return
        tun_br = self.tun_br
        tun_br.install_goto(dest_table_id=c.DVR_PROCESS, priority=1,
                            match=(("in_port", str(self.patch_int_ofport)),))
        tun_br.install_goto(table_id=c.DVR_NOT_LEARN, dest_table_id=c.LEARN_FROM_TUN)
        tun_br.install_goto(table_id=c.DVR_PROCESS, dest_table_id=c.PATCH_LV_TO_TUN)

    def setup_dvr_flows_on_phys_br(self) -> None:
        """Each physical bridge: from br-int to DVR_PROCESS_PHYSICAL, the rest to
        DVR_NOT_LEARN_PHYSICAL (NORMAL), DVR_PROCESS -> LOCAL_VLAN_TRANSLATION (drop by
        default from br-int)."""
        for physical_network in self.bridge_mappings:
            br = self.phys_brs[physical_network]
            port = str(self.phys_ofports[physical_network])
            br.install_goto(match=(("in_port", port),), priority=2,
                            dest_table_id=c.DVR_PROCESS_PHYSICAL)
            br.install_goto(priority=1, dest_table_id=c.DVR_NOT_LEARN_PHYSICAL)
            br.install_goto(table_id=c.DVR_PROCESS_PHYSICAL, priority=0,
                            dest_table_id=c.LOCAL_VLAN_TRANSLATION)
            br.install_drop(table_id=c.LOCAL_VLAN_TRANSLATION, match=(("in_port", port),),
                            priority=2)
            br.install_normal(table_id=c.DVR_NOT_LEARN_PHYSICAL, priority=1)

    def _add_dvr_mac(self, mac: str) -> None:
        """Another host's DVR MAC on every bridge."""
        for physical_network in self.bridge_mappings:
            self.int_br.add_dvr_mac_physical(mac=mac, port=self.int_ofports[physical_network])
            self.phys_brs[physical_network].add_dvr_mac_physical(
                mac=mac, port=self.phys_ofports[physical_network])
        if self.enable_tunneling and self.tun_br is not None:
            self.int_br.add_dvr_mac_tun(mac=mac, port=self.patch_tun_ofport)
            self.tun_br.add_dvr_mac_tun(mac=mac, port=self.patch_int_ofport)
        self.registered_dvr_macs.add(mac)

    def _add_dvr_mac_for_arp(self, mac: str) -> None:
        """This host's own DVR MAC as a destination."""
        for physical_network in self.bridge_mappings:
            self.int_br.add_dvr_gateway_mac_arp_vlan(
                mac=mac, port=self.int_ofports[physical_network])
        if self.enable_tunneling:
            self.int_br.add_dvr_gateway_mac_arp_tun(mac=mac, port=self.patch_tun_ofport)

    def setup_dvr_mac_flows_on_all_brs(self) -> None:
        """The DVR MAC of every DVR host."""
        for mac in self.get_dvr_mac_address_list():
            if mac == self.dvr_mac_address:
                self._add_dvr_mac_for_arp(mac)
                continue
            self._add_dvr_mac(mac)

    # -- ports ---------------------------------------------------------------------------------
    def process_tunneled_network(self, network_type: str, lvid: int,
                                 segmentation_id: int) -> None:
        """A tunnelled network's local VLAN, inbound through DVR_NOT_LEARN."""
        assert self.tun_br is not None
        self.tun_br.provision_local_vlan(network_type=network_type, lvid=lvid,
                                         segmentation_id=segmentation_id,
                                         distributed=self.in_distributed_mode())

    def _vlan_to_use(self, lvm: LocalVlan) -> int | None:
        """The segment's VLAN on a physical network, the local VLAN on a tunnel."""
        if lvm.network_type in c.DVR_PHYSICAL_NETWORK_TYPES:
            return lvm.segmentation_id
        return lvm.vlan

    def _process_br(self, lvm: LocalVlan) -> OVSTunnelBridge | OVSPhysicalBridge:
        """The bridge whose DVR_PROCESS table serves the network."""
        if lvm.network_type in c.DVR_PHYSICAL_NETWORK_TYPES:
            return self.phys_brs[lvm.physical_network or ""]
        assert self.tun_br is not None
        return self.tun_br

    def _bind_distributed_router_interface_port(self, port: VifPort, lvm: LocalVlan,
                                                fixed_ips: tuple[model.FixedIp, ...],
                                                device_owner: str) -> None:
        """A local copy of a distributed router's interface."""
        assert self.dvr_mac_address is not None
        fixed_ip = fixed_ips[0]
        subnet_uuid = fixed_ip.subnet_id
        ldm = self.local_dvr_map.get(subnet_uuid)
        if ldm is None:
            info = self.get_subnet_for_dvr(subnet_uuid, fixed_ip.ip_address)
            ldm = self.local_dvr_map[subnet_uuid] = LocalDVRSubnetMapping(info)
        ldm.dvr_owned = True
        vlan_to_use = self._vlan_to_use(lvm)
        subnet_info = ldm.subnet
        gateway_mac = subnet_info.gateway_mac or ""
        for local_port in self.get_ports_on_host_by_subnet(subnet_uuid):
            try:
                ofport = self.int_br.get_port_ofport_by_iface_id(local_port.id)
            except KeyError:
                continue
            ldm.compute_ports[local_port.id] = ofport
            comp = self.local_ports.get(local_port.id)
            if comp is None:
                comp = self.local_ports[local_port.id] = OVSPort(
                    local_port.id, ofport, addr.norm_mac(local_port.mac_address),
                    local_port.device_owner)
            comp.subnets.add(subnet_uuid)
            self.int_br.install_dvr_to_src_mac(
                network_type=lvm.network_type, vlan_tag=vlan_to_use, gateway_mac=gateway_mac,
                dst_mac=comp.mac, dst_port=comp.ofport)
        self.int_br.install_dvr_dst_mac_for_arp(
            lvm.network_type, vlan_tag=lvm.vlan, gateway_mac=port.vif_mac,
            dvr_mac=self.dvr_mac_address, rtr_port=port.ofport)
        br = self._process_br(lvm)
        if subnet_info.ip_version == 4:
            br.install_dvr_process_ipv4(vlan_tag=lvm.vlan, gateway_ip=fixed_ip.ip_address)
        else:
            br.install_dvr_process_ipv6(vlan_tag=lvm.vlan, gateway_mac=port.vif_mac)
        br.install_dvr_process(vlan_tag=lvm.vlan, vif_mac=port.vif_mac,
                               dvr_mac_address=self.dvr_mac_address)
        ovsport = OVSPort(port.vif_id, port.ofport, port.vif_mac, device_owner, {subnet_uuid})
        self.local_ports[port.vif_id] = ovsport
        ldm.dvr_ports[port.vif_id] = port.ofport
        if subnet_info.ip_version == 4 and subnet_info.gateway_mac:
            self.int_br.change_arp_destination_mac(
                target_mac_address=subnet_info.gateway_mac,
                orig_mac_address=self.dvr_mac_address)

    def _bind_port_on_dvr_subnet(self, port: VifPort, lvm: LocalVlan,
                                 fixed_ips: tuple[model.FixedIp, ...], device_owner: str,
                                 pairs: tuple[model.AllowedAddressPair, ...]) -> None:
        """A compute/DHCP port on a DVR-routed subnet: routed frames reach it directly."""
        for ips in fixed_ips:
            ldm = self.local_dvr_map.get(ips.subnet_id)
            if ldm is None or not ldm.dvr_owned:
                continue
            ldm.compute_ports[port.vif_id] = port.ofport
            ovsport = self.local_ports.get(port.vif_id)
            if ovsport is None:
                ovsport = self.local_ports[port.vif_id] = OVSPort(
                    port.vif_id, port.ofport, port.vif_mac, device_owner)
            ovsport.subnets.add(ips.subnet_id)
            vlan_to_use = self._vlan_to_use(lvm)
            gateway_mac = ldm.subnet.gateway_mac or ""
            self.int_br.install_dvr_to_src_mac(
                network_type=lvm.network_type, vlan_tag=vlan_to_use, gateway_mac=gateway_mac,
                dst_mac=ovsport.mac, dst_port=ovsport.ofport)
            for aap in pairs:
                net = ipaddress.ip_network(aap.ip_address, strict=False)
                if net.prefixlen == net.max_prefixlen and \
                        addr.in_cidr(str(net.network_address), ldm.subnet.cidr):
                    self.int_br.install_dvr_to_src_mac(
                        network_type=lvm.network_type, vlan_tag=vlan_to_use,
                        gateway_mac=gateway_mac, dst_mac=addr.norm_mac(aap.mac_address),
                        dst_port=ovsport.ofport)

    def _bind_centralized_snat_port_on_dvr_subnet(self, port: VifPort, lvm: LocalVlan,
                                                  fixed_ips: tuple[model.FixedIp, ...],
                                                  device_owner: str) -> None:
        """A router's centralized SNAT port (sg-) on this dvr_snat host."""
        subnet_uuid = fixed_ips[0].subnet_id
        if port.vif_id in self.local_ports:
            return
        ldm = self.local_dvr_map.get(subnet_uuid)
        if ldm is None:
            ldm = self.local_dvr_map[subnet_uuid] = LocalDVRSubnetMapping(
                self.get_subnet_for_dvr(subnet_uuid, None), port.ofport)
        else:
            ldm.csnat_ofport = port.ofport
        ovsport = OVSPort(port.vif_id, port.ofport, port.vif_mac, device_owner, {subnet_uuid})
        self.local_ports[port.vif_id] = ovsport
        self.int_br.install_dvr_to_src_mac(
            network_type=lvm.network_type, vlan_tag=self._vlan_to_use(lvm),
            gateway_mac=ldm.subnet.gateway_mac or "", dst_mac=ovsport.mac,
            dst_port=ovsport.ofport)

    def bind_port_to_dvr(self, port: VifPort, lvm: LocalVlan, model_port: model.Port) -> None:
        """The DVR flows of one bound port (``port_bound`` calls this)."""
        if not self.in_distributed_mode():
            return
        if lvm.network_type not in (*c.TUNNEL_NETWORK_TYPES, *c.DVR_PHYSICAL_NETWORK_TYPES):
            return
        device_owner = model_port.device_owner
        fixed_ips = model_port.fixed_ips
        if device_owner == model.DEVICE_OWNER_DVR_INTERFACE:
            self._bind_distributed_router_interface_port(port, lvm, fixed_ips, device_owner)
        if device_owner and is_dvr_serviced(device_owner):
            self._bind_port_on_dvr_subnet(port, lvm, fixed_ips, device_owner,
                                          model_port.allowed_address_pairs)
        if device_owner == model.DEVICE_OWNER_ROUTER_SNAT:
            self._bind_centralized_snat_port_on_dvr_subnet(port, lvm, fixed_ips, device_owner)
