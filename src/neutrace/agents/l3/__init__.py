"""neutron-l3-agent's distributed routers (layer 3), laid out as Neutron's files:

- ``dvr_local_router``: ``DvrLocalRouter``, a distributed router's qrouter- namespace on a host
  (agent_mode dvr);
- ``dvr_edge_router``: ``DvrEdgeRouter``, the same on a dvr_snat host, plus the snat- namespace on
  the router's SNAT host;
- ``dvr_fip_ns``: ``FipNamespace``, the fip- namespace of an external network on a host (the
  fg- port, the rfp-/fpr- pairs, the link-local and rule priority allocators);
- ``ha_router``: ``HaRouter``, an HA router's qrouter- namespace on each of its L3 agents (the
  ha- port, keepalived.conf, the VIPs and virtual routes only on the master; ``program_ha``);
- ``keepalived``: keepalived's configuration as Neutron writes it.

``program_dvr(cloud, host)`` processes the distributed routers instantiated on the host in
``Cloud.routers`` order (each ``initialize`` + ``process`` and the metadata driver's
``after_router_added``), with one ``FipNamespace`` per external network (``dvr.AgentMixin.
get_fip_ns``), and returns the qrouter-, snat- and fip- namespaces. Legacy routers stay in
``agents.l3_agent``.
"""

from __future__ import annotations

from neutrace import model
from neutrace.agents.l3.dvr_edge_router import DvrEdgeRouter
from neutrace.agents.l3.dvr_fip_ns import FipNamespace
from neutrace.agents.l3.dvr_local_router import DvrLocalRouter
from neutrace.dataplane import Namespace

__all__ = ["program_dvr"]


def program_dvr(cloud: model.Cloud, host: model.Host) -> list[Namespace]:
    """The namespaces the L3 agent of ``host`` makes for its distributed routers."""
    if host.agent_mode not in model.DVR_AGENT_MODES:
        return []
    fip_namespaces: dict[str, FipNamespace] = {}
    namespaces: list[Namespace] = []
    for router in cloud.routers:
        if not router.distributed or host.name not in router.dvr_hosts:
            continue
        gw = router.external_gateway
        fip_ns = None
        if gw is not None:
            fip_ns = fip_namespaces.setdefault(gw.network_id,
                                               FipNamespace(cloud, host, gw.network_id))
        cls = DvrEdgeRouter if host.agent_mode == model.AGENT_MODE_DVR_SNAT else DvrLocalRouter
        ri = cls(cloud, host, router, fip_ns)
        ri.process()
        ri.after_router_added()
        namespaces.append(ri.namespace())
        if isinstance(ri, DvrEdgeRouter):
            snat = ri.snat_namespace()
            if snat is not None:
                namespaces.append(snat)
    namespaces += [f.namespace() for f in fip_namespaces.values()
                   if f.agent_gateway_port is not None]
    return namespaces
