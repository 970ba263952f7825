"""Distributed routers (DVR), as Neutron's server makes them (``l3_dvr_db``,
``l3_dvrscheduler_db``): the SNAT host of a router (its ``gw_port_host``, a ``dvr_snat`` L3
agent), the hosts a router is instantiated on, its centralized SNAT ports (``sg-``) and the
floating IP agent gateway ports (``fg-``) of the hosts' fip- namespaces.

- SNAT host: the router's ``host`` when given (it must have ``agent_mode: dvr_snat``), else the
  first dvr_snat host in file order (the L3 scheduler's choice is arbitrary); none (``""``) for
  a router without gateway.
- ``dvr_hosts`` (``_get_dvr_hosts_for_router`` + the SNAT host): every host with a DVR
  agent_mode that has a DVR-serviced port (``n_utils.is_dvr_serviced``: ``compute:*``,
  ``network:dhcp``) on one of the router's interface subnets, and the SNAT host when the router
  has a gateway; in ``hosts`` order.
- ``sg-`` ports (``_create_snat_intf_ports_if_not_exists``): one per interface port when the
  router has an external gateway, ``network:router_centralized_snat``, device_id the router,
  bound to the SNAT host, an address of the interface's subnet (first free).
- ``fg-`` ports (``create_fip_agent_gw_port_if_not_exists``, asked by each DVR L3 agent that
  instantiates a router with a gateway, floating IPs or not): one per (host, external network),
  ``network:floatingip_agent_gateway``, device_id the host's L3 agent id, first free address.
"""

from __future__ import annotations

from dataclasses import replace

from neutrace.model import (
    AGENT_MODE_DVR_SNAT,
    DEVICE_OWNER_AGENT_GW,
    DEVICE_OWNER_COMPUTE,
    DEVICE_OWNER_DHCP,
    DEVICE_OWNER_ROUTER_SNAT,
    DVR_AGENT_MODES,
    Router,
)
from neutrace.topology import schema as s
from neutrace.topology.checks import check_ref
from neutrace.topology.ipam import explicit_ips, one_per_family
from neutrace.topology.ports import new_port
from neutrace.topology.source import Path_
from neutrace.topology.working import PortW, Working, new_id


def dvr_snat_hosts(w: Working) -> list[str]:
    """The hosts whose L3 agent runs in dvr_snat mode, in file order."""
    return [h.name for h in w.cloud.hosts if h.agent_mode == AGENT_MODE_DVR_SNAT]


def snat_host(w: Working, r: s.RouterIn, p: Path_) -> str:
    """A distributed router's SNAT host (``gw_port_host``): given, or the first dvr_snat host;
    ``""`` for a router without gateway."""
    if r.host is None:
        hosts = dvr_snat_hosts(w)
        if r.external_gateway is None:
            return ""  # no gateway: no gw_port_host
        if not hosts:
            w.ctx.fail(p, f"distributed router {r.name} has an external gateway but no host "
                       "runs an L3 agent in dvr_snat mode (its SNAT)",
                       "give a network node agent_mode: dvr_snat")
        return hosts[0]
    h = check_ref(w.ctx, (*p, "host"), w.hosts, r.host, "host", list(w.hosts))
    if h.agent_mode != AGENT_MODE_DVR_SNAT:
        w.ctx.fail((*p, "host"), f"host {h.name} runs its L3 agent in {h.agent_mode} mode, "
                   f"so it cannot host the SNAT of distributed router {r.name}",
                   f"set agent_mode: dvr_snat on {h.name} or use one of: "
                   f"{', '.join(dvr_snat_hosts(w)) or 'none'}")
    return h.name


def check_legacy_host(w: Working, r: s.RouterIn, p: Path_, host: str) -> None:
    """A legacy router is never scheduled to an L3 agent in dvr mode."""
    h = w.hosts[host]
    if h.agent_mode in ("dvr",):
        w.ctx.fail((*p, "host"), f"host {host}'s L3 agent runs in dvr mode, which hosts only "
                   f"distributed routers, not the legacy router {r.name}",
                   "set distributed: true on the router, or host it on a legacy or "
                   "dvr_snat agent")


def add_snat_ports(w: Working, routers: list[Router]) -> tuple[list[Router], list[PortW]]:
    """The ``sg-`` ports of every distributed router with a gateway (addresses still to be
    allocated, from the interface's subnets)."""
    out: list[Router] = []
    pending: list[PortW] = []
    by_id = {pw.id: pw for pw in w.ports}
    for i, r in enumerate(routers):
        if not r.distributed or r.external_gateway is None:
            out.append(r)
            continue
        snat_ids = []
        for j, pid in enumerate(r.interface_port_ids):
            itf = by_id[pid]
            network = w.net_by_ref[itf.network_id]
            path: Path_ = ("routers", i, "interfaces", j)
            given = w.cloud.routers[i].interfaces[j]
            port = new_port(
                w, path=path, id_path=(*path, "snat_port_id"), given_id=given.snat_port_id,
                seed=f"port/router_snat/{r.id}/{pid}", name="", network=network,
                mac=given.snat_mac, mac_path=(*path, "snat_mac"),
                owner=DEVICE_OWNER_ROUTER_SNAT, device_id=r.id, host=r.host)
            if given.snat_ip:
                explicit_ips(w, port, (*path, "snat_ip"), [given.snat_ip], None)
            else:
                port.allocate_from = [sid for sid, _ip in itf.ips]
            pending.append(port)
            snat_ids.append(port.id)
        out.append(replace(r, snat_port_ids=tuple(snat_ids)))
    return out, pending


def _serviced(owner: str) -> bool:
    """``n_utils.is_dvr_serviced``: ports a DVR router serves on their host."""
    return owner.startswith(DEVICE_OWNER_COMPUTE.split(":")[0] + ":") or owner == DEVICE_OWNER_DHCP


def schedule_dvr(w: Working, routers: list[Router]) -> tuple[list[Router], list[PortW]]:
    """Each distributed router's ``dvr_hosts``; the ``fg-`` ports (addresses still to be
    allocated) of the hosts that instantiate a router with a gateway; the check that every
    host with a port on a distributed router's subnet runs a DVR L3 agent."""
    by_id = {pw.id: pw for pw in w.ports}
    out: list[Router] = []
    fg: dict[tuple[str, str], PortW] = {}
    order = [h.name for h in w.cloud.hosts]
    for i, r in enumerate(routers):
        if not r.distributed:
            out.append(r)
            continue
        subnets = {sid for pid in r.interface_port_ids for sid, _ip in by_id[pid].ips}
        hosts: set[str] = set()
        for pw in w.ports:
            if not pw.host or not _serviced(pw.device_owner):
                continue
            if not any(sid in subnets for sid in [*(i for i, _ip in pw.ips),
                                                  *pw.allocate_from]):
                continue
            if w.hosts[pw.host].agent_mode not in DVR_AGENT_MODES:
                w.ctx.fail(pw.path, f"host {pw.host} has a port on a subnet of distributed "
                           f"router {r.name} but its L3 agent runs in "
                           f"{w.hosts[pw.host].agent_mode} mode, so nothing routes it there "
                           "(a mixed legacy/DVR cloud is not modelled)",
                           f"set agent_mode: dvr on host {pw.host}")
            hosts.add(pw.host)
        if r.external_gateway is not None and r.host:
            hosts.add(r.host)
        dvr_hosts = tuple(h for h in order if h in hosts)
        if r.external_gateway is not None:
            network = w.net_by_ref[r.external_gateway.network_id]
            pins = _fg_pins(w, network.id)
            for h in dvr_hosts:
                if (h, network.id) in fg:
                    continue
                path: Path_ = ("routers", i, "external_gateway")
                k, pin = pins.get(h, (None, None))
                pp: Path_ = path if k is None else k
                if h not in w.agent_ids:
                    w.agent_ids[h] = new_id(w, path, None, f"agent/l3/{h}")
                port = new_port(
                    w, path=pp, id_path=(*pp, "id") if pin else pp,
                    given_id=pin.id if pin else None,
                    seed=f"port/floatingip_agent_gateway/{h}/{network.id}", name="",
                    network=network, mac=pin.mac if pin else None,
                    mac_path=(*pp, "mac") if pin else pp, owner=DEVICE_OWNER_AGENT_GW,
                    device_id=w.agent_ids[h], host=h)
                if pin is not None and pin.ip:
                    explicit_ips(w, port, (*pp, "ip"), pin.ip, None)
                else:
                    port.allocate_from = one_per_family(
                        [sw for sw in w.subnets if sw.subnet.network_id == network.id])
                fg[(h, network.id)] = port
        out.append(replace(r, dvr_hosts=dvr_hosts))
    for i, n in enumerate(w.cloud.networks):  # a pin no fg- port takes is a mistake
        for j, pinned in enumerate(n.fip_gateway_ports):
            if (pinned.host, w.net_by_ref[n.name].id) not in fg:
                w.ctx.fail(("networks", i, "fip_gateway_ports", j, "host"),
                           f"host {pinned.host} has no fg- port on network {n.name}: no "
                           "distributed router with its gateway there runs on it",
                           "pin only the hosts of a distributed router with that gateway")
    return out, list(fg.values())


def _fg_pins(w: Working, network_id: str) -> dict[str, tuple[Path_, s.DhcpPortIn]]:
    """An external network's pinned ``fip_gateway_ports`` (id/MAC/address per host)."""
    pins: dict[str, tuple[Path_, s.DhcpPortIn]] = {}
    for i, n in enumerate(w.cloud.networks):
        if w.net_by_ref[n.name].id != network_id:
            continue
        for k, pin in enumerate(n.fip_gateway_ports):
            kp: Path_ = ("networks", i, "fip_gateway_ports", k)
            check_ref(w.ctx, (*kp, "host"), w.hosts, pin.host, "host", list(w.hosts))
            if pin.host in pins:
                w.ctx.fail((*kp, "host"), f"two fg- ports pinned on host {pin.host}",
                           "pin one per host")
            pins[pin.host] = (kp, pin)
    return pins

