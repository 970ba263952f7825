"""What a host holds that Neutron's agents would not have programmed, as pure data (layer 2).

`neutrace diff` (`neutrace.verify.drift`) sets the state the agents would program for a cloud
(the expected `HostState`s) beside the state captured on its hosts (imported ones), and reports
each difference as one small frozen class per kind of fact (the closed union `Difference`),
each naming its host and the element it is about, with the Neutron knowledge that explains it
(the network a local VLAN or a port belongs to, the host a tunnel leads to, the table's Neutron
name, the cookie the agent's flows carry). Nothing here is worded: ``neutrace.render.drift``
writes every sentence.

Besides the differences, a comparison lists what it could not compare (`NotCompared`: the
capture lacked it, a `neutrace.dataplane.Gap`) and what differs legitimately (`Tolerated`: a
documented difference that is no fault, e.g. the MAC OVS gave a patch port).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from neutrace.dataplane import Flow, Route, Rule


class Change(enum.StrEnum):
    """How an element differs: the host lacks it, holds one the agents would not program, or
    holds it with other values."""

    MISSING = "missing"
    EXTRA = "extra"
    CHANGED = "changed"


class PortRole(enum.StrEnum):
    """What an OVS port is for, by the names Neutron's agents give ports."""

    VM = "vm"  # qvo (hybrid firewall) or tap (openvswitch firewall) of an instance
    ROUTER = "router"  # qr-, qg-, sg- (the L3 agent's)
    DHCP = "dhcp"  # a qdhcp namespace's tap
    TUNNEL = "tunnel"  # vxlan-/gre-/geneve- on br-tun
    PATCH = "patch"  # patch-tun/patch-int, int-br-X/phy-br-X
    NIC = "nic"  # a physical NIC on a physical bridge
    OTHER = "other"


class RuleRole(enum.StrEnum):
    """What an iptables rule is for, by the chains Neutron's agents write them in."""

    SG_INGRESS = "sg-ingress"  # neutron-openvswi-i<port>: the port's ingress security groups
    SG_EGRESS = "sg-egress"  # neutron-openvswi-o<port>
    ANTISPOOF = "antispoof"  # neutron-openvswi-s<port>: allowed IP/MAC pairs
    SG_DISPATCH = "sg-dispatch"  # sg-chain, FORWARD/INPUT jumps, the conntrack zones
    FLOATING_DNAT = "floating-dnat"  # the L3 agent's DNAT of a floating IP
    FLOATING_SNAT = "floating-snat"  # the L3 agent's SNAT of a floating IP's fixed IP
    ROUTER_SNAT = "router-snat"  # the router's gateway SNAT
    ROUTER = "router"  # the L3 agent's other rules (metadata, marks, scope)
    OTHER = "other"


class Tolerance(enum.StrEnum):
    """Differences that are no fault, each documented in docs/importing.md ("diff")."""

    PORT_MAC = "port-mac"  # OVS chose a port's MAC (patch, tunnel, internal in a namespace)
    LOCAL_PORT = "local-port"  # a bridge's LOCAL port, implicit in the agents' state
    LOOPBACK = "loopback"  # lo: the kernel's, not an agent's
    TUNNEL_IP_ON_BRIDGE = "tunnel-ip-on-bridge"  # userspace tunnelling: the IP on an OVS port
    ROUTE_PROTO = "route-proto"  # proto boot/static: who added the route, not where it leads
    BRIDGE_MTU = "bridge-mtu"  # OVS gives a bridge's own port the least MTU of its ports
    IPTABLES_SPELLING = "iptables-spelling"  # the kernel's spelling (MAC case, comments, order)
    EXTRA_SYSCTL = "extra-sysctl"  # settings no agent writes (only forwarding ones compared)
    LOCAL_VLAN_NUMBERS = "local-vlan-numbers"  # the agent allocated other local VLAN ids
    OFPORT_NUMBERS = "ofport-numbers"  # OVS gave ports other OpenFlow port numbers


# -- the differences --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HostDifference:
    """A whole host: expected but not captured (MISSING) or captured but not in the cloud."""

    host: str
    change: Change


@dataclass(frozen=True, slots=True)
class BridgeDifference:
    """An OVS bridge the host lacks or holds beyond the agents' (``br-ex`` of an unmapped
    physical network)."""

    host: str
    bridge: str
    change: Change


@dataclass(frozen=True, slots=True)
class PortDifference:
    """An OVS port missing or extra. ``port_id`` is its Neutron port (``iface-id``),
    ``network`` the network it is bound to (id), ``remote_ip``/``remote_host`` where a tunnel
    port leads."""

    host: str
    bridge: str
    port: str
    change: Change
    role: PortRole
    port_id: str | None = None
    network: str | None = None
    remote_ip: str | None = None
    remote_host: str | None = None


@dataclass(frozen=True, slots=True)
class DeadPort:
    """A port at the dead VLAN (4095, ``DEAD_VLAN_TAG``): the OVS agent marked it dead, it is
    not bound on this host (or its network is unknown to the agent); ``expected_tag`` is the
    local VLAN of its network on the host."""

    host: str
    bridge: str
    port: str
    role: PortRole
    port_id: str | None
    network: str | None
    expected_tag: int | None


@dataclass(frozen=True, slots=True)
class WrongLocalVlan:
    """A port whose tag is not its network's local VLAN on this host: ``tag`` is the port's,
    ``local_vlan`` what the host uses for ``network`` (its other ports' tags and the agent's
    record in other_config), ``recorded`` the port's own other_config tag."""

    host: str
    bridge: str
    port: str
    network: str
    tag: int | None
    local_vlan: int
    recorded: int | None = None


@dataclass(frozen=True, slots=True)
class PortSettingDifference:
    """A port present on both sides whose ``setting`` (``type``, ``trunks``, ``options``,
    ``external_ids``, ``vlan_mode``) differs."""

    host: str
    bridge: str
    port: str
    setting: str
    expected: str
    actual: str


@dataclass(frozen=True, slots=True)
class FlowDifference:
    """A flow the bridge lacks (MISSING), holds beyond the agents' (EXTRA), or holds with other
    actions (CHANGED: ``flow`` is the expected one, ``actual`` the host's). Flows are compared
    without cookies, with OpenFlow port numbers as port names and the host's local VLANs read
    as the agents'. ``table_name`` is Neutron's name of the table (``FLOOD_TO_TUN``).
    ``networks`` are the networks whose local VLAN the flow matches or sets. For an EXTRA flow
    ``cookie`` is its cookie and ``agent_cookie`` the one the agent's other flows carry: a
    different one marks a stale flow an earlier run of the agent left (``stale``). ``port`` is
    the port the flow is for (its ``in_port``, or the openvswitch firewall's ``reg5``),
    ``remote_host`` the host its tunnel output leads to (l2pop's unicast entries)."""

    host: str
    bridge: str
    change: Change
    flow: Flow
    table_name: str = ""
    actual: Flow | None = None
    networks: tuple[str, ...] = ()
    cookie: int = 0
    agent_cookie: int | None = None
    port: str | None = None
    remote_host: str | None = None

    @property
    def stale(self) -> bool:
        """An extra flow whose cookie is not the agent's current one."""
        return (self.change is Change.EXTRA and self.agent_cookie is not None
                and self.cookie != self.agent_cookie)


@dataclass(frozen=True, slots=True)
class FloodEntryMissing:
    """br-tun's FLOOD_TO_TUN (table 22) entry for ``network`` (local VLAN ``vlan``) does not
    output to ``port``, the tunnel to ``remote_host``: l2pop's flood entry (or, without l2pop,
    the tunnel's place in the flood list) is missing; broadcast and unknown unicast of the
    network no longer reach that host."""

    host: str
    bridge: str
    network: str
    vlan: int
    port: str
    remote_ip: str | None
    remote_host: str | None


@dataclass(frozen=True, slots=True)
class NamespaceDifference:
    """A namespace (``qrouter-``, ``qdhcp-``, ``snat-``, ``fip-``, a VM) missing or extra;
    ``kind`` is `neutrace.dataplane.Namespace.kind`."""

    host: str
    namespace: str
    change: Change
    kind: str


@dataclass(frozen=True, slots=True)
class InterfaceDifference:
    """An interface missing from a namespace or extra in one; ``elsewhere`` names the
    namespace of this host that holds it instead (a qr- port left in the root namespace)."""

    host: str
    namespace: str
    interface: str
    change: Change
    kind: str
    elsewhere: str | None = None


@dataclass(frozen=True, slots=True)
class InterfaceSettingDifference:
    """An interface whose ``setting`` (``kind``, ``mac``, ``mtu``, ``peer``, ``master``,
    ``up``, ``vlan``) differs."""

    host: str
    namespace: str
    interface: str
    setting: str
    expected: str
    actual: str


@dataclass(frozen=True, slots=True)
class AddressDifference:
    """An address (CIDR) missing from an interface or extra on it."""

    host: str
    namespace: str
    interface: str
    address: str
    change: Change


@dataclass(frozen=True, slots=True)
class RouteDifference:
    """A route missing or extra (compared without ``proto``)."""

    host: str
    namespace: str
    route: Route
    change: Change


@dataclass(frozen=True, slots=True)
class IpRuleDifference:
    """An ``ip rule`` missing or extra."""

    host: str
    namespace: str
    rule: Rule
    change: Change


@dataclass(frozen=True, slots=True)
class IptablesDifference:
    """An iptables rule missing or extra (``family`` 4 or 6; ``rule`` as iptables-save prints
    it), with what it is for: ``role``, and ``subject`` (the Neutron port id prefix of a
    security-group chain, the floating IP of a DNAT/SNAT rule)."""

    host: str
    namespace: str
    family: int
    table: str
    chain: str
    rule: str
    change: Change
    role: RuleRole
    subject: str = ""


@dataclass(frozen=True, slots=True)
class ChainDifference:
    """An iptables chain missing or extra, or whose policy differs (CHANGED)."""

    host: str
    namespace: str
    family: int
    table: str
    chain: str
    change: Change
    expected_policy: str | None = None
    actual_policy: str | None = None


@dataclass(frozen=True, slots=True)
class IpsetDifference:
    """An ipset member missing or extra (the members of a remote security group)."""

    host: str
    namespace: str
    ipset: str
    member: str
    change: Change


@dataclass(frozen=True, slots=True)
class SysctlDifference:
    """A forwarding setting whose value differs (``actual`` None: not set)."""

    host: str
    namespace: str
    key: str
    expected: str
    actual: str | None


Difference = (HostDifference | BridgeDifference | PortDifference | DeadPort | WrongLocalVlan
              | PortSettingDifference | FlowDifference | FloodEntryMissing | NamespaceDifference
              | InterfaceDifference | InterfaceSettingDifference | AddressDifference
              | RouteDifference | IpRuleDifference | IptablesDifference | ChainDifference
              | IpsetDifference | SysctlDifference)


@dataclass(frozen=True, slots=True)
class NotCompared:
    """What could not be compared: the capture lacked it (a gap of the imported host)."""

    host: str
    element: str
    aspect: str
    problem: str
    source: str = ""


@dataclass(frozen=True, slots=True)
class Tolerated:
    """A difference that is no fault (`Tolerance`), on ``element`` of ``host``; ``detail`` is
    the data (``"vlan 1 -> 3"``, ``"br-phy"``)."""

    host: str
    element: str
    tolerance: Tolerance
    detail: str = ""


@dataclass(frozen=True, slots=True)
class HostDrift:
    """One host's comparison: the differences, what was not compared, what was tolerated, and
    the local VLAN each network has on each side (``vlans``: ``(network, expected, actual)``,
    ``actual`` None where the host has no port of the network)."""

    host: str
    differences: tuple[Difference, ...] = ()
    not_compared: tuple[NotCompared, ...] = ()
    tolerated: tuple[Tolerated, ...] = ()
    vlans: tuple[tuple[str, int, int | None], ...] = ()


@dataclass(frozen=True, slots=True)
class Drift:
    """The whole comparison, host by host; ``networks`` names the networks (id -> name), which
    OVS does not know, for explanations."""

    hosts: tuple[HostDrift, ...]
    networks: tuple[tuple[str, str], ...] = ()
    hosts_by_tunnel_ip: tuple[tuple[str, str], ...] = ()

    @property
    def differences(self) -> tuple[Difference, ...]:
        """Every difference, host by host."""
        return tuple(d for h in self.hosts for d in h.differences)

    @property
    def differs(self) -> bool:
        """True when any host differs."""
        return any(h.differences for h in self.hosts)

    def network_name(self, network: str | None) -> str | None:
        """The name of network ``network`` (its id), if known."""
        return dict(self.networks).get(network or "")
