"""Highly available routers (L3 HA, VRRP), as Neutron's server makes them (``l3_hamode_db``,
``l3_hascheduler_db``): the L3 agents an ``ha`` router is scheduled to, which of them is the
master, the project's HA network with its subnet, one ``network:router_ha_interface`` port per
agent and the router's virtual router id (VRID).

- Hosts (``ha_hosts``): given, else the hosts with role network whose L3 agent runs in legacy or
  dvr_snat mode (``get_number_of_agents_for_scheduling``), at most ``max_l3_agents_per_router``
  (3), in file order.
- Master (``ha_master``): given, else the first of ``ha_hosts``. Which agent keepalived elects
  is a run-time fact (every instance starts as BACKUP with the same priority and ``nopreempt``);
  the topology states it. The router's ``host`` is the master: the server binds the router's
  interface and gateway ports to the host whose HA binding is ``active``
  (``_update_router_port_bindings``).
- HA network (``_create_ha_network``), one per project of the HA routers: named ``HA network
  project <project_id>`` (neutron-lib's ``HA_NETWORK_NAME``; the Networking Guide's older text
  says "tenant"), project ``""``, not shared, a tenant network (``l3_ha_network_type`` unset:
  ML2 allocates its segment from ``tenant_network_types`` as for any network created without
  provider attributes, ``topology.ml2``), the type's default MTU; its subnet ``HA subnet
  project <project_id>``, ``l3_ha_net_cidr`` 169.254.192.0/18, no gateway, DHCP off.
- ``ha-`` ports (``add_ha_port``): one per host of ``ha_hosts``, in that order, named ``HA port
  project <project_id>``, device_id the router, bound to its host, the first free address.
- VRID (``_ensure_vr_id``): given (unique on the HA network), else the lowest free of 1..254 on
  the HA network in router order. Neutron draws a free one at random; neutrace is deterministic.

Not modelled: an HA router that is also distributed (DVR+HA).
"""

from __future__ import annotations

from dataclasses import replace
from ipaddress import ip_network

from neutrace.model import (
    AGENT_MODE_DVR_SNAT,
    AGENT_MODE_LEGACY,
    DEVICE_OWNER_ROUTER_HA_INTF,
    TUNNEL_TYPES,
    TYPE_VLAN,
    AllocationPool,
    Ml2Config,
    Network,
    Router,
    Subnet,
)
from neutrace.topology import schema as s
from neutrace.topology.checks import check_in_range, check_ref
from neutrace.topology.ipam import generate_pools
from neutrace.topology.ml2 import SegmentPool
from neutrace.topology.networks import default_mtu
from neutrace.topology.ports import new_port
from neutrace.topology.source import Path_
from neutrace.topology.working import PortW, SubnetW, Working, new_id

L3_HA_NET_CIDR = "169.254.192.0/18"  # [DEFAULT] l3_ha_net_cidr (neutron_lib L3_HA_NET_CIDR)
MAX_L3_AGENTS_PER_ROUTER = 3  # [DEFAULT] max_l3_agents_per_router
VR_ID_RANGE = range(1, 255)  # l3_hamode_db.VR_ID_RANGE
HA_NETWORK_NAME = "HA network project %s"  # neutron_lib.constants
HA_SUBNET_NAME = "HA subnet project %s"
HA_PORT_NAME = "HA port project %s"
HA_AGENT_MODES = (AGENT_MODE_LEGACY, AGENT_MODE_DVR_SNAT)


def _candidates(w: Working) -> list[str]:
    """The hosts an HA router can be scheduled to: role network, legacy or dvr_snat agent."""
    return [h.name for h in w.cloud.hosts
            if "network" in h.roles and h.agent_mode in HA_AGENT_MODES]


def ha_placement(w: Working, r: s.RouterIn, p: Path_) -> tuple[tuple[str, ...], str]:
    """An HA router's hosts and master (checked)."""
    if r.distributed:
        w.ctx.fail((*p, "distributed"), f"router {r.name} is both distributed and ha: "
                   "DVR+HA routers (DvrEdgeHaRouter) are not modelled yet",
                   "remove distributed or ha")
    if r.host is not None:
        w.ctx.fail((*p, "host"), f"router {r.name} is ha: it lives on several L3 agents, "
                   "not on one host", "name its hosts in ha_hosts and the master in ha_master")
    candidates = _candidates(w)
    if r.ha_hosts is None:
        hosts = candidates[:MAX_L3_AGENTS_PER_ROUTER]
        if not hosts:
            w.ctx.fail(p, f"HA router {r.name} needs a host with role network and an L3 "
                       "agent in legacy or dvr_snat mode", "add network to a host's roles")
    else:
        hosts = []
        if not r.ha_hosts:
            w.ctx.fail((*p, "ha_hosts"), f"HA router {r.name} has no hosts",
                       f"name at least one of: {', '.join(candidates) or 'none'}")
        for k, name in enumerate(r.ha_hosts):
            hp: Path_ = (*p, "ha_hosts", k)
            h = check_ref(w.ctx, hp, w.hosts, name, "host", list(w.hosts))
            if h.name not in candidates:
                w.ctx.fail(hp, f"host {h.name} runs no L3 agent that can host an HA router "
                           f"(role network, agent_mode legacy or dvr_snat; it has roles "
                           f"{list(h.roles)}, agent_mode {h.agent_mode})",
                           f"use one of: {', '.join(candidates) or 'none'}")
            if h.name in hosts:
                w.ctx.fail(hp, f"host {h.name} is named twice", "name each host once")
            hosts.append(h.name)
    master = hosts[0]
    if r.ha_master is not None:
        if r.ha_master not in hosts:
            w.ctx.fail((*p, "ha_master"), f"the master {r.ha_master!r} is not one of the "
                       f"router's hosts", f"use one of: {', '.join(hosts)}")
        master = r.ha_master
    return tuple(hosts), master


def _segments(w: Working, ml2: Ml2Config) -> SegmentPool:
    """ML2's allocation tables with every network's segment taken."""
    pool = SegmentPool(ml2)
    for n in w.networks:
        if n.network_type in TUNNEL_TYPES and n.segmentation_id is not None:
            pool.tunnel_ids[n.network_type].add(n.segmentation_id)
        elif n.network_type == TYPE_VLAN and n.physical_network and n.segmentation_id:
            pool.vlans.add((n.physical_network, n.segmentation_id))
    return pool


def _ha_network(w: Working, ml2: Ml2Config, project: str, nets: dict[str, Network],
                p: Path_) -> Network:
    """The project's HA network and subnet (made on first use)."""
    if project in nets:
        return nets[project]
    segment = _segments(w, ml2).tenant_segment()
    if segment is None:
        w.ctx.fail(p, f"no segment left for the HA network of project {project!r}: every "
                   f"type of tenant_network_types {list(ml2.tenant_network_types)} is used up",
                   "widen ml2.network_vlan_ranges or add a tunnel type to tenant_network_types")
    ntype, physnet, seg = segment
    net_id = new_id(w, ("routers",), None, f"network/ha/{project}")
    network = Network(id=net_id, name=HA_NETWORK_NAME % project, network_type=ntype,
                      physical_network=physnet, segmentation_id=seg, mtu=default_mtu(ntype),
                      project_id="")
    w.networks.append(network)
    w.net_by_ref[net_id] = network
    w.net_path[net_id] = ("routers",)
    w.used_ips[net_id] = {}
    cidr = ip_network(L3_HA_NET_CIDR)
    pools = generate_pools(cidr, None)
    sub_id = new_id(w, ("routers",), None, f"subnet/ha/{project}")
    subnet = Subnet(id=sub_id, name=HA_SUBNET_NAME % project, network_id=net_id,
                    cidr=L3_HA_NET_CIDR, ip_version=4, gateway_ip=None, enable_dhcp=False,
                    allocation_pools=tuple(AllocationPool(str(a), str(b)) for a, b in pools))
    sw = SubnetW(subnet, cidr, None, pools, ("routers",))
    w.subnets.append(sw)
    w.subnet_by_ref[sub_id] = sw
    nets[project] = network
    return network


def add_ha_ports(w: Working, ml2: Ml2Config,
                 routers: list[Router]) -> tuple[list[Router], list[PortW]]:
    """The HA networks, ``ha-`` ports (addresses still to be allocated) and VRIDs of every HA
    router."""
    nets: dict[str, Network] = {}
    given: dict[str, dict[int, str]] = {}  # HA network id -> VRID -> router name
    for i, r in enumerate(routers):
        r_in = w.cloud.routers[i]
        if not r.ha:
            continue
        net = _ha_network(w, ml2, r.project_id, nets, ("routers", i))
        if r_in.ha_vr_id is not None:
            vp: Path_ = ("routers", i, "ha_vr_id")
            check_in_range(w.ctx, vp, r_in.ha_vr_id, VR_ID_RANGE.start, VR_ID_RANGE.stop - 1,
                           "VRID", "use a virtual router id between 1 and 254")
            taken = given.setdefault(net.id, {})
            if r_in.ha_vr_id in taken:
                w.ctx.fail(vp, f"VRID {r_in.ha_vr_id} is already router "
                           f"{taken[r_in.ha_vr_id]}'s on {net.name}",
                           "give each HA router of a project its own ha_vr_id")
            taken[r_in.ha_vr_id] = r.name
    out: list[Router] = []
    pending: list[PortW] = []
    for i, r in enumerate(routers):
        r_in = w.cloud.routers[i]
        if not r.ha:
            out.append(r)
            continue
        net = nets[r.project_id]
        taken = given.setdefault(net.id, {})
        vr_id = r_in.ha_vr_id
        if vr_id is None:
            free = [v for v in VR_ID_RANGE if v not in taken]
            if not free:
                w.ctx.fail(("routers", i), f"no VRID left on {net.name} (254 HA routers)",
                           "use fewer HA routers in one project")
            vr_id = free[0]
            taken[vr_id] = r.name
        sub_id = next(sw.subnet.id for sw in w.subnets if sw.subnet.network_id == net.id)
        ids = []
        for h in r.ha_hosts:
            path: Path_ = ("routers", i)
            port = new_port(
                w, path=path, id_path=path, given_id=None, seed=f"port/ha/{r.id}/{h}",
                name=HA_PORT_NAME % r.project_id, network=net, mac=None, mac_path=path,
                owner=DEVICE_OWNER_ROUTER_HA_INTF, device_id=r.id, host=h)
            port.allocate_from = [sub_id]
            pending.append(port)
            ids.append(port.id)
        out.append(replace(r, ha_vr_id=vr_id, ha_port_ids=tuple(ids)))
    return out, pending
