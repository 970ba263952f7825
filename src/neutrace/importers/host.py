"""One captured host, read whole (layer 3): OVS side, agent configuration, Linux side, VMs.

`read_host` does what can be done from the capture alone (`HostParts`); joining hosts into a
cloud (physical networks named alike, VMs' addresses found on other hosts, tunnels checked)
is `neutrace.importers.cloud`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from neutrace.dataplane import OvsBridge
from neutrace.importers import agent_conf
from neutrace.importers.agent_conf import AgentConf
from neutrace.importers.diagnostics import Findings
from neutrace.importers.layout import Capture
from neutrace.importers.linux_capture import LinuxCapture, load_linux
from neutrace.importers.ovs_capture import OvsCapture, load_ovs
from neutrace.importers.vms import DhcpTables, VmPlan, plans, read_dhcp


@dataclass
class HostParts:
    """What one capture says, before the hosts are joined."""

    cap: Capture
    name: str
    found: Findings
    ovs: OvsCapture
    conf: AgentConf
    linux: LinuxCapture = field(default_factory=LinuxCapture)
    vms: list[VmPlan] = field(default_factory=list)

    @property
    def bridges(self) -> tuple[OvsBridge, ...]:
        return self.ovs.bridges

    @property
    def tunnel_ip(self) -> str | None:
        return self.conf.local_ip


def read_ovs_side(cap: Capture) -> HostParts:
    """The OVS side and the agent's configuration (first pass: physical networks are named
    across hosts before the Linux side is read)."""
    name = cap.hostname
    found = Findings(name)
    ovs = load_ovs(cap, found)
    conf = agent_conf.read(cap, found)
    if conf is None:
        conf = agent_conf.infer(ovs.bridges)
        if ovs.bridges:
            found.note(cap.where("etc/neutron/plugins/ml2/openvswitch_agent.ini"),
                       "no OVS agent configuration: bridge mappings and the tunnel IP are "
                       "inferred from OVS", "each physical network is named after its bridge "
                       "unless another host's configuration names it")
    elif conf.local_ip is None:
        inferred = agent_conf.infer(ovs.bridges)
        conf = replace(conf, local_ip=inferred.local_ip)
    return HostParts(cap, name, found, ovs, conf)


def read_linux_side(parts: HostParts, physnets: dict[str, str], dhcp: DhcpTables) -> None:
    """The Linux side, the VMs found on the host and its DHCP agent's files (second pass)."""
    parts.linux = load_linux(parts.cap, parts.found, parts.bridges, physnets, parts.tunnel_ip)
    root_links = {lk.ifname for lk in parts.linux.links.get("", ())}
    root = next((n for n in parts.linux.namespaces if n.name == ""), None)
    # taps already wired to a captured namespace (a test bed running its VMs as namespaces)
    wired = {i.name for i in (root.interfaces if root is not None else ())
             if i.peer is not None and i.peer_namespace}
    parts.vms = plans(parts.cap, parts.found, parts.bridges, root_links, wired)
    read_dhcp(parts.cap, dhcp)
    for note in parts.cap.notes:
        parts.found.note(parts.cap.where(note.source), note.problem)
