"""The OVS agent's configuration of a captured host (layer 3): what joins hosts into one cloud.

Read from the copied ``openvswitch_agent.ini`` (``etc/neutron/plugins/ml2/``, Kolla's
``etc/kolla/neutron-openvswitch-agent/``, TripleO's ``var/lib/config-data/puppet-generated/
neutron/...``, Sunbeam's snap path) and, as older deployments did, the ``[ovs]``/``[agent]``
sections of ``ml2_conf.ini``: ``[ovs] bridge_mappings`` (physical network -> bridge),
``local_ip``, ``integration_bridge``, ``tunnel_bridge``, ``[agent] tunnel_types``,
``l2_population``, ``arp_responder``, ``[securitygroup] firewall_driver``.

When no file is there, `infer` derives what the OVS state says: the physical bridges are those
patched to the integration bridge (``int-BR``/``phy-BR``), the tunnel IP is the ``local_ip`` of
the tunnel ports, the tunnel types their types; a physical network's name cannot be seen in OVS,
so it is named after the bridge until another host's configuration names it.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass

from neutrace.dataplane import OvsBridge
from neutrace.importers.diagnostics import Findings
from neutrace.importers.layout import Capture

AGENT_FILES = (
    "etc/neutron/plugins/ml2/openvswitch_agent.ini",
    "etc/kolla/neutron-openvswitch-agent/openvswitch_agent.ini",
    "var/lib/config-data/puppet-generated/neutron/etc/neutron/plugins/ml2/openvswitch_agent.ini",
    "var/snap/openstack-hypervisor/common/etc/neutron/plugins/ml2/openvswitch_agent.ini",
    "etc/neutron/plugins/openvswitch/ovs_neutron_plugin.ini",
    "etc/neutron/plugins/ml2/ml2_conf.ini",
)


@dataclass(frozen=True, slots=True)
class AgentConf:
    """The parts of the OVS agent's configuration that shape the data plane. ``inferred`` is
    True when they come from the OVS state, not from a file."""

    bridge_mappings: tuple[tuple[str, str], ...] = ()
    local_ip: str | None = None
    integration_bridge: str = "br-int"
    tunnel_bridge: str = "br-tun"
    tunnel_types: tuple[str, ...] = ()
    l2_population: bool = False
    arp_responder: bool = False
    firewall_driver: str = ""
    source: str = ""
    inferred: bool = False

    def physnet_of(self, bridge: str) -> str | None:
        """The physical network mapped to ``bridge``."""
        for physnet, br in self.bridge_mappings:
            if br == bridge:
                return physnet
        return None


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.replace("\n", ",").split(",") if v.strip())


def read(cap: Capture, found: Findings) -> AgentConf | None:
    """The configuration found in the capture, or None."""
    for rel in AGENT_FILES:
        path = cap.file(rel)
        if path is None:
            continue
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        try:
            parser.read_string(cap.read(path), source=cap.where(rel))
        except configparser.Error as exc:
            found.warn(cap.where(rel), f"unreadable ({exc.message})",
                       "the agent's configuration is inferred from OVS instead")
            continue
        if not parser.has_section("ovs") and not parser.has_section("OVS"):
            continue
        ovs = parser["ovs"] if parser.has_section("ovs") else parser["OVS"]
        agent = parser["agent"] if parser.has_section("agent") else {}
        sg = parser["securitygroup"] if parser.has_section("securitygroup") else {}
        mappings = []
        for item in _split(ovs.get("bridge_mappings", "")):
            physnet, sep, br = item.partition(":")
            if sep and physnet.strip() and br.strip():
                mappings.append((physnet.strip(), br.strip()))
            else:
                found.warn(cap.where(rel), f"bridge_mappings entry {item!r} is not "
                           "PHYSNET:BRIDGE", "it is ignored")
        return AgentConf(
            bridge_mappings=tuple(mappings), local_ip=ovs.get("local_ip") or None,
            integration_bridge=ovs.get("integration_bridge", "br-int"),
            tunnel_bridge=ovs.get("tunnel_bridge", "br-tun"),
            tunnel_types=_split(agent.get("tunnel_types", "")),
            l2_population=str(agent.get("l2_population", "false")).lower() == "true",
            arp_responder=str(agent.get("arp_responder", "false")).lower() == "true",
            firewall_driver=str(sg.get("firewall_driver", "")), source=cap.where(rel))
    return None


def infer(bridges: tuple[OvsBridge, ...], integration: str = "br-int") -> AgentConf:
    """What the OVS state says of the configuration: physical bridges (patched to the
    integration bridge through ``int-BR``/``phy-BR``, or any other patch peer), each named after
    itself; the tunnel ports' ``local_ip`` and types."""
    by_name = {b.name: b for b in bridges}
    br_int = by_name.get(integration)
    mappings = []
    tunnel_bridge = "br-tun"
    if br_int is not None:
        for p in br_int.ports:
            if p.type != "patch" or p.peer is None:
                continue
            other = next((b for b in bridges if b.port(p.peer) is not None), None)
            if other is None:
                continue
            if any(q.is_tunnel for q in other.ports):
                tunnel_bridge = other.name
            else:
                mappings.append((other.name, other.name))
    local_ips = sorted({q.option("local_ip") or "" for b in bridges for q in b.ports
                        if q.is_tunnel} - {""})
    types = tuple(sorted({q.type for b in bridges for q in b.ports if q.is_tunnel}))
    return AgentConf(bridge_mappings=tuple(sorted(mappings)),
                     local_ip=local_ips[0] if local_ips else None,
                     integration_bridge=integration, tunnel_bridge=tunnel_bridge,
                     tunnel_types=types, inferred=True)
