"""Why a packet was dropped, in Neutron's words (layer 4).

The OpenFlow engine says *where* a copy died ("br-tun table 22: no flow matched", "br-ex table 0:
flow ... actions=drop"); this module says *why*, from the tables Neutron's OVS agent programs
(``neutrace.agents.constants``) and the host's own state: which local VLANs have a flood entry in
br-tun, which tunnel ids br-tun maps, which VLAN a physical bridge accepts from br-int. The
network behind a local VLAN comes from where Neutron's OVS agent records it: the ``other_config``
(``net_uuid``, ``network_type``, ``physical_network``, ``segmentation_id``, ``tag``) of the ports
it bound on br-int; its name from the cloud's metadata when known, else its id.
"""

from __future__ import annotations

import re

from neutrace.agents import constants as C
from neutrace.dataplane import CloudState, OvsBridge
from neutrace.engines.results import BridgeVisit, OfExit

_TABLE_RE = re.compile(r"^(?P<bridge>\S+) table (?P<table>\d+): (?P<rest>.*)$")


class Annotator:
    """Explains drops on a cloud's hosts (built once per cloud, cheap)."""

    def __init__(self, cloud: CloudState) -> None:
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

    def _network(self, host: str, vlan: str) -> str:
        return self._lvids.get(host, {}).get(vlan, f"the network on local VLAN {vlan}")

    def explain_drop(self, host: str, visit: BridgeVisit, ex: OfExit) -> str:
        base = ex.reason or f"{visit.bridge}: dropped"
        h = self._hosts.get(host)
        m = _TABLE_RE.match(base)
        if h is None or m is None:
            return base
        bridge = h.bridge(m.group("bridge"))
        if bridge is None:
            return base
        table = int(m.group("table"))
        pkt = visit.packet
        role = _role(bridge)
        why = ""
        vlan = _last_vlan(visit)
        if role == "tun" and table == C.FLOOD_TO_TUN:
            flooded = _vlans_in(bridge, C.FLOOD_TO_TUN)
            why = (f"br-tun table {C.FLOOD_TO_TUN} has no flood entry for VLAN {vlan}: "
                   f"{self._network(host, vlan)} is not a tunnel network on {host}"
                   + (f" (flood entries exist for VLAN {', '.join(map(str, flooded))})"
                      if flooded else " (no tunnel network has a port here)"))
        elif role == "tun" and table in C.TUN_TABLE.values():
            tun_ids = _tun_ids_in(bridge, table)
            net = self._tunnels.get(pkt.tun_id, "that network")
            why = (f"br-tun table {table} has no entry for tunnel id {pkt.tun_id:#x}: {host} has "
                   f"no port on {net}, so no local VLAN was provisioned for it"
                   + (f" (it maps {', '.join(hex(t) for t in tun_ids)})" if tun_ids else ""))
        elif role == "tun" and table == 0:
            why = (f"br-tun table 0 drops what comes from neither patch-int nor a tunnel port "
                   f"({visit.in_port})")
        elif role == "phys" and table == 0:
            accepted = _vlans_in(bridge, 0)
            why = (f"{bridge.name} drops frames from br-int on VLAN {vlan}, "
                   f"{self._network(host, vlan)}: only the local VLAN of a network on its "
                   f"physical network passes"
                   + (f" (it accepts VLAN {', '.join(map(str, accepted))})" if accepted else
                      " (no network on this physical network has a port here)"))
        elif role == "int" and table == C.ARP_SPOOF_TABLE:
            why = (f"br-int table {C.ARP_SPOOF_TABLE} (ARP spoofing protection): "
                   f"{pkt.arp_spa or pkt.nd_target} is not an address of the port on "
                   f"{visit.in_port}")
        elif role == "int" and table == C.MAC_SPOOF_TABLE:
            why = (f"br-int table {C.MAC_SPOOF_TABLE} (MAC spoofing protection): {pkt.dl_src} is "
                   f"not the MAC of the port on {visit.in_port}")
        elif role == "int" and table == C.LOCAL_SWITCHING and "dl_vlan=4095" in base:
            why = f"br-int: port {visit.in_port} is in the dead VLAN 4095 (not bound)"
        elif role == "int" and table == C.LOCAL_SWITCHING:
            why = (f"br-int table 0 drops this frame from {visit.in_port}: no local VLAN "
                   f"translation for it")
        return f"{why} [{base}]" if why else base


def _network_words(oc: dict[str, str], names: dict[str, str]) -> str:
    net = oc["net_uuid"]
    kind = oc.get("network_type", "")
    where = ""
    if oc.get("physical_network", "None") != "None":
        where = f" on physnet {oc['physical_network']}"
    elif "segmentation_id" in oc:
        where = f" {int(oc['segmentation_id']):#x}" if kind in C.TUNNEL_NETWORK_TYPES else ""
    return f"{names.get(net, net)} ({kind}{where})"


def _role(bridge: OvsBridge) -> str:
    names = {p.name for p in bridge.ports}
    if C.TUN_PEER_PATCH_PORT in names and bridge.name != C.INTEGRATION_BRIDGE:
        return "tun"
    if bridge.name == C.INTEGRATION_BRIDGE or C.INT_PEER_PATCH_PORT in names:
        return "int"
    if any(n.startswith(C.PEER_PHYSICAL_PREFIX) for n in names):
        return "phys"
    return ""


def _vlans_in(bridge: OvsBridge, table: int) -> list[int]:
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
    return sorted(out)


def _tun_ids_in(bridge: OvsBridge, table: int) -> list[int]:
    out: set[int] = set()
    for f in bridge.flows:
        if f.table == table:
            for key in ("tun_id", "tunnel_id"):
                v = f.match_value(key)
                if v is not None:
                    out.add(int(v.split("/")[0], 0))
    return sorted(out)


def _last_vlan(visit: BridgeVisit) -> str:
    """The packet's VLAN at the time of the drop: the last field change that set it, else the
    VLAN it entered with."""
    tci = visit.packet.vlan_tci
    for step in visit.steps:
        for change in step.changes:
            if change.field == "vlan_tci" and isinstance(change.after, int):
                tci = change.after
    return str(tci & 0xFFF) if tci & 0x1000 else "none"
