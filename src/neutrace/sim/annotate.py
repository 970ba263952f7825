"""Why a packet was dropped, in Neutron's words (layer 4).

The OpenFlow engine says *where* a copy died (an `OfExit` with its cause, table and flow: "br-tun
table 22: no flow matched"); this module says *why*, as a `DropExplanation` (worded by
``neutrace.render.fates``), from the tables Neutron's OVS agent programs
(``neutrace.agents.constants``) and the host's own state: which local VLANs have a flood entry in
br-tun, which tunnel ids br-tun maps, which VLAN a physical bridge accepts from br-int. The
network behind a local VLAN comes from where Neutron's OVS agent records it: the ``other_config``
(``net_uuid``, ``network_type``, ``physical_network``, ``segmentation_id``, ``tag``) of the ports
it bound on br-int; its name from the cloud's metadata when known, else its id.
"""

from __future__ import annotations

from neutrace.agents import constants as C
from neutrace.dataplane import CloudState, OvsBridge
from neutrace.engines.results import BridgeVisit, OfExit
from neutrace.trace import DropExplanation, DropWhy, ExitCause


class Annotator:
    """Explains drops on a cloud's hosts (built once per cloud, cheap)."""

    def __init__(self, cloud: CloudState) -> None:
        """Read which network is behind each local VLAN and tunnel id from the bound ports."""
        self._hosts = {h.name: h for h in cloud.hosts}
        names = {k.removeprefix("network:"): v for k, v in cloud.metadata
                 if k.startswith("network:")}
        # host -> local VLAN -> "public_net (flat, physnet external)"
        self._lvids: dict[str, dict[str, str]] = {}
        self._tunnels: dict[int, str] = {}  # tunnel id -> the network, from any host
        for h in cloud.hosts:
            br = h.bridge(C.INTEGRATION_BRIDGE)
            for p in br.ports if br is not None else ():
                oc = dict(p.other_config)
                if "tag" in oc and "net_uuid" in oc:
                    words = _network_words(oc, names)
                    self._lvids.setdefault(h.name, {})[oc["tag"]] = words
                    if oc.get("network_type") in C.TUNNEL_NETWORK_TYPES and \
                            "segmentation_id" in oc:
                        self._tunnels[int(oc["segmentation_id"])] = words

    def _network(self, host: str, vlan: int | None) -> str | None:
        """The network on local VLAN ``vlan`` of ``host`` (None: no bound port says)."""
        return self._lvids.get(host, {}).get(str(vlan)) if vlan is not None else None

    def explain_drop(self, host: str, visit: BridgeVisit, ex: OfExit) -> DropExplanation | None:
        """Why Neutron's flows dropped the copy ``ex`` of ``visit`` (None: nothing to add to the
        engine's own reason)."""
        h = self._hosts.get(host)
        if h is None or ex.table is None or ex.cause not in _TABLE_DROPS:
            return None
        bridge = h.bridge(visit.bridge)
        if bridge is None:
            return None
        role = _role(bridge)
        if role == "tun":
            return self._tunnel_drop(host, bridge, visit, ex.table)
        if role == "phys" and ex.table == 0:
            vlan = _last_vlan(visit)
            return DropExplanation(why=DropWhy.PHYSICAL_VLAN, bridge=bridge.name, table=0,
                                   host=host, vlan=vlan, network=self._network(host, vlan),
                                   listed=_vlans_in(bridge, 0))
        if role == "int":
            return _integration_drop(host, bridge, visit, ex)
        return None

    def _tunnel_drop(self, host: str, bridge: OvsBridge, visit: BridgeVisit,
                     table: int) -> DropExplanation | None:
        """br-tun: no flood entry, no tunnel id mapping, or an unexpected input port."""
        pkt = visit.packet
        if table == C.FLOOD_TO_TUN:
            vlan = _last_vlan(visit)
            return DropExplanation(why=DropWhy.NO_FLOOD_ENTRY, bridge=bridge.name, table=table,
                                   host=host, vlan=vlan, network=self._network(host, vlan),
                                   listed=_vlans_in(bridge, C.FLOOD_TO_TUN))
        if table in C.TUN_TABLE.values():
            return DropExplanation(why=DropWhy.NO_TUNNEL_MAPPING, bridge=bridge.name,
                                   table=table, host=host, tun_id=pkt.tun_id,
                                   network=self._tunnels.get(pkt.tun_id),
                                   listed=_tun_ids_in(bridge, table))
        if table == 0:
            return DropExplanation(why=DropWhy.TUNNEL_INGRESS, bridge=bridge.name, table=0,
                                   host=host, in_port=visit.in_port)
        return None


# the drops annotate explains: what a table of Neutron's did to the packet
_TABLE_DROPS = frozenset({ExitCause.TABLE_MISS, ExitCause.FLOW_DROPS, ExitCause.DROP_ACTION})


def _integration_drop(host: str, bridge: OvsBridge, visit: BridgeVisit,
                      ex: OfExit) -> DropExplanation | None:
    """br-int: ARP or MAC spoofing protection, the dead VLAN, no local VLAN translation."""
    pkt = visit.packet
    table = ex.table
    if table == C.ARP_SPOOF_TABLE:
        return DropExplanation(why=DropWhy.ARP_SPOOF, bridge=bridge.name, table=table, host=host,
                               in_port=visit.in_port, address=pkt.arp_spa or pkt.nd_target)
    if table == C.MAC_SPOOF_TABLE:
        return DropExplanation(why=DropWhy.MAC_SPOOF, bridge=bridge.name, table=table, host=host,
                               in_port=visit.in_port, address=pkt.dl_src)
    if table == C.LOCAL_SWITCHING:
        dead = ex.flow is not None and ("dl_vlan", "4095") in ex.flow.match
        return DropExplanation(why=DropWhy.DEAD_VLAN if dead else DropWhy.NO_LOCAL_VLAN,
                               bridge=bridge.name, table=table, host=host,
                               in_port=visit.in_port)
    return None


def _network_words(oc: dict[str, str], names: dict[str, str]) -> str:
    """A network as ``name (type on physnet X)`` or ``name (vxlan 0x50)``, from a port's
    other_config (its name from the cloud's metadata when known, else its id)."""
    net = oc["net_uuid"]
    kind = oc.get("network_type", "")
    where = ""
    if oc.get("physical_network", "None") != "None":
        where = f" on physnet {oc['physical_network']}"
    elif "segmentation_id" in oc:
        where = f" {int(oc['segmentation_id']):#x}" if kind in C.TUNNEL_NETWORK_TYPES else ""
    return f"{names.get(net, net)} ({kind}{where})"


def _role(bridge: OvsBridge) -> str:
    """What Neutron uses the bridge for: ``tun``, ``int``, ``phys`` (or ``""``)."""
    names = {p.name for p in bridge.ports}
    if C.TUN_PEER_PATCH_PORT in names and bridge.name != C.INTEGRATION_BRIDGE:
        return "tun"
    if bridge.name == C.INTEGRATION_BRIDGE or C.INT_PEER_PATCH_PORT in names:
        return "int"
    if any(n.startswith(C.PEER_PHYSICAL_PREFIX) for n in names):
        return "phys"
    return ""


def _vlans_in(bridge: OvsBridge, table: int) -> tuple[int, ...]:
    """The VLANs the flows of ``table`` match on."""
    out: set[int] = set()
    for f in bridge.flows:
        if f.table != table:
            continue
        v = f.match_value("dl_vlan")
        if v is not None:
            out.add(int(v, 0))
        vid = f.match_value("vlan_vid")
        if vid is not None:
            out.add(int(vid.split("/")[0], 0) & 0xFFF)
    return tuple(sorted(out))


def _tun_ids_in(bridge: OvsBridge, table: int) -> tuple[int, ...]:
    """The tunnel ids the flows of ``table`` match on."""
    out: set[int] = set()
    for f in bridge.flows:
        if f.table == table:
            for key in ("tun_id", "tunnel_id"):
                v = f.match_value(key)
                if v is not None:
                    out.add(int(v.split("/")[0], 0))
    return tuple(sorted(out))


def _last_vlan(visit: BridgeVisit) -> int | None:
    """The packet's VLAN at the time of the drop: the last field change that set it, else the
    VLAN it entered with (None: untagged)."""
    tci = visit.packet.vlan_tci
    for step in visit.steps:
        for change in step.changes:
            if change.field == "vlan_tci" and isinstance(change.after, int):
                tci = change.after
    return tci & 0xFFF if tci & 0x1000 else None
