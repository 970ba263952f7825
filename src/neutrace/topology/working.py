"""The working context of one topology's resolution: the tables every noun module reads and
fills (hosts, networks, subnets, ports, used addresses, ids, security group ids), and the
half-built objects kept in them (``SubnetW``, ``PortW``).

One ``Working`` is made per ``resolve()`` call and handed to each noun's functions in the order
``resolve.py`` lists them; nothing else keeps state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from neutrace import addr
from neutrace.model import (
    DEVICE_OWNER_AGENT_GW,
    DEVICE_OWNER_COMPUTE,
    DEVICE_OWNER_DHCP,
    DEVICE_OWNER_DVR_INTERFACE,
    DEVICE_OWNER_FLOATINGIP,
    DEVICE_OWNER_HA_REPLICATED_INT,
    DEVICE_OWNER_ROUTER_GW,
    DEVICE_OWNER_ROUTER_HA_INTF,
    DEVICE_OWNER_ROUTER_INTF,
    DEVICE_OWNER_ROUTER_SNAT,
    ROLE_NETWORK,
    Network,
    Subnet,
)
from neutrace.topology import schema as s
from neutrace.topology.checks import IP, Ctx, Net, check_uuid
from neutrace.topology.source import Path_, where


@dataclass
class SubnetW:
    """A resolved subnet with its parsed cidr, gateway and allocation pools."""

    subnet: Subnet
    net: Net
    gateway: IP | None
    pools: list[tuple[IP, IP]]
    path: Path_


@dataclass
class PortW:
    """A port being built: addresses may still be missing (allocated later)."""

    id: str
    name: str
    network_id: str
    mac: str | None
    device_owner: str
    device_id: str
    host: str
    path: Path_
    ips: list[tuple[str, IP]] = field(default_factory=list)
    allocate_from: list[str] = field(default_factory=list)  # subnet ids still to allocate from
    eui64_from: list[str] = field(default_factory=list)  # auto-address subnets: EUI-64 of the MAC
    security_groups: tuple[str, ...] = ()
    port_security_enabled: bool = True
    pairs: list[tuple[str, str | None]] = field(default_factory=list)


@dataclass
class Working:
    """The shared tables of one resolution (``cloud`` is the schema-checked input)."""

    cloud: s.CloudIn
    ctx: Ctx
    hosts: dict[str, s.HostIn] = field(default_factory=dict)
    networks: list[Network] = field(default_factory=list)
    net_by_ref: dict[str, Network] = field(default_factory=dict)  # name or id -> network
    net_path: dict[str, Path_] = field(default_factory=dict)
    subnets: list[SubnetW] = field(default_factory=list)
    subnet_by_ref: dict[str, SubnetW] = field(default_factory=dict)  # name or id -> subnet
    ports: list[PortW] = field(default_factory=list)
    used_ips: dict[str, dict[IP, str]] = field(default_factory=dict)  # network id -> ip -> owner
    macs: dict[str, dict[str, str]] = field(default_factory=dict)  # network id -> mac -> owner
    sg_by_ref: dict[str, s.SecurityGroupIn] = field(default_factory=dict)  # name or id -> group
    sg_ids: dict[str, str] = field(default_factory=dict)  # sg name -> id
    ids: dict[str, Path_] = field(default_factory=dict)  # every id -> where it was given/made
    cursor: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # subnet id -> pool
    agent_ids: dict[str, str] = field(default_factory=dict)  # host -> its L3 agent's id (DVR)

    @property
    def name(self) -> str:
        """The cloud's name: the seed of every generated id and MAC."""
        return self.cloud.name


def new_id(w: Working, path: Path_, given: str | None, seed: str) -> str:
    """The given id (checked) or a stable one from ``seed``; ids are unique across the cloud."""
    value = check_uuid(w.ctx, path, given) if given is not None else addr.stable_uuid(
        f"{w.name}/{seed}")
    if value in w.ids:
        w.ctx.fail(path, f"duplicate id {value} (also at {where(w.ids[value])})",
                   "give each object its own id")
    w.ids[value] = path
    return value


def network_hosts(w: Working) -> list[str]:
    """The hosts with role network (the L3 and DHCP agents), in file order."""
    return [h.name for h in w.cloud.hosts if ROLE_NETWORK in h.roles]


def owner(port: PortW, with_path: bool = True) -> str:
    """``a port of VM vm1 (vms[0].ports[0])``, ``the DHCP port (networks[1])``..."""
    place = f" ({where(port.path)})" if with_path else ""
    if port.device_owner == DEVICE_OWNER_COMPUTE:
        return f"a port of VM {port.device_id}{place}"
    kind = {DEVICE_OWNER_DHCP: "the DHCP port", DEVICE_OWNER_ROUTER_INTF: "a router interface",
            DEVICE_OWNER_ROUTER_GW: "a router gateway",
            DEVICE_OWNER_FLOATINGIP: "a floating IP",
            DEVICE_OWNER_DVR_INTERFACE: "a distributed router interface",
            DEVICE_OWNER_ROUTER_SNAT: "a router's centralized SNAT port",
            DEVICE_OWNER_AGENT_GW: "a floating IP agent gateway",
            DEVICE_OWNER_HA_REPLICATED_INT: "an HA router interface",
            DEVICE_OWNER_ROUTER_HA_INTF: "an HA router's ha- port"}[port.device_owner]
    return f"{kind}{place}"
