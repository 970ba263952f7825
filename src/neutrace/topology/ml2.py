"""The ML2 server's segment allocation: ``[ml2] tenant_network_types``, ``[ml2_type_vlan]
network_vlan_ranges``, and the segmentation ids of networks created without all their provider
attributes, as ML2's ``TypeManager`` and its type drivers give them.

- ``network_vlan_ranges`` entries are ``physnet:min:max`` or a bare ``physnet`` (neutron-lib's
  ``parse_network_vlan_ranges``: the whole range 1..4094); the physnets keep their order.
- A network without ``provider`` is a tenant network: ``_allocate_tenant_net_segment`` tries
  each of ``tenant_network_types`` in turn. The VLAN driver's ``allocate_tenant_segment``
  takes the physnets of ``network_vlan_ranges`` in order and gives the first that has a free
  VLAN; the tunnel drivers a free VNI / GRE key; ``local`` needs nothing.
- A VLAN provider network without a segmentation_id is a partial segment
  (``allocate_partially_specified_segment``), from its physnet's ranges.
- Neutron picks the free id at random (``get_random_unallocated_segment`` orders by the
  database's random function). neutrace takes the lowest free id instead, so the same file
  always gives the same cloud; to match a real cloud, write the id Neutron chose as
  ``provider.segmentation_id`` (``openstack network show``): the data plane does not tell a
  tenant network from a provider network with the same segment.
- Ids given in the file are taken first (the file describes networks that exist), so
  allocation goes around them. Tunnel types have no ``vni_ranges`` here: a tenant VNI or GRE
  key comes from the whole range, starting at 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from neutrace.model import (
    TUNNEL_TYPES,
    TYPE_GENEVE,
    TYPE_GRE,
    TYPE_LOCAL,
    TYPE_VLAN,
    TYPE_VXLAN,
    Ml2Config,
)
from neutrace.topology.checks import MAX_GRE_KEY, MAX_VLAN, MAX_VNI
from neutrace.topology.source import Path_
from neutrace.topology.working import Working

# the highest segmentation id of each tunnel type (Geneve's VNI is 24 bits, as VXLAN's)
MAX_TUNNEL_ID = {TYPE_VXLAN: MAX_VNI, TYPE_GRE: MAX_GRE_KEY, TYPE_GENEVE: MAX_VNI}
DEFAULT_TENANT_NETWORK_TYPES = (TYPE_VXLAN,)  # neutrace's default (Neutron's is local)


def resolve_ml2(w: Working) -> Ml2Config:
    """The ``ml2`` section checked: known network types, well-formed VLAN ranges."""
    m = w.cloud.ml2
    if m is None:
        return Ml2Config()
    types = (tuple(dict.fromkeys(m.tenant_network_types)) if m.tenant_network_types is not None
             else DEFAULT_TENANT_NETWORK_TYPES)
    if not types:
        w.ctx.fail(("ml2", "tenant_network_types"), "tenant_network_types is empty: no network "
                   "could be created without provider attributes",
                   "list at least one type, like [vxlan] or [vlan]")
    ranges = merge_vlan_ranges([_vlan_range(w, ("ml2", "network_vlan_ranges", k), entry)
                                for k, entry in enumerate(m.network_vlan_ranges)])
    if TYPE_VLAN in types and not ranges:
        w.ctx.fail(("ml2", "tenant_network_types"), "tenant_network_types has vlan but "
                   "network_vlan_ranges is empty: the VLAN type driver has no VLAN to give",
                   "add network_vlan_ranges: [physnet1:100:199] (a physnet of the hosts' "
                   "bridge_mappings)")
    return Ml2Config(tenant_network_types=types, network_vlan_ranges=tuple(ranges))


def merge_vlan_ranges(entries: list[tuple[str, int | None, int | None]]
                      ) -> list[tuple[str, int, int]]:
    """``parse_network_vlan_ranges``: the physnets in order of first appearance, each with its
    ranges in order; a bare physnet (no range) is the whole range 1..4094 and replaces the
    ranges before it, and a range after it is dropped."""
    whole = (1, MAX_VLAN)
    nets: dict[str, list[tuple[int, int]]] = {}
    for physnet, low, high in entries:
        if low is None or high is None:
            nets[physnet] = [whole]
        elif nets.get(physnet) != [whole]:
            nets.setdefault(physnet, []).append((low, high))
    return [(physnet, low, high) for physnet, rs in nets.items() for low, high in rs]


def _vlan_range(w: Working, p: Path_, entry: str) -> tuple[str, int | None, int | None]:
    """One ``network_vlan_ranges`` entry (``parse_network_vlan_range``): a bare physnet has no
    range (None, None)."""
    text = entry.strip()
    fix = "write physnet:vlan_min:vlan_max like physnet1:100:199, or the physnet alone"
    if ":" not in text:
        if not text:
            w.ctx.fail(p, "empty network_vlan_ranges entry", fix)
        return text, None, None
    parts = text.split(":")
    if len(parts) != 3:
        w.ctx.fail(p, f"VLAN range {text!r} needs exactly two values for the range", fix)
    physnet, low, high = parts
    if not physnet:
        w.ctx.fail(p, f"VLAN range {text!r} has no physical network name", fix)
    if not (low.isdigit() and high.isdigit()):
        w.ctx.fail(p, f"VLAN range {text!r}: the VLAN ids are not numbers", fix)
    vlan_min, vlan_max = int(low), int(high)
    for v in (vlan_min, vlan_max):
        if not 1 <= v <= MAX_VLAN:
            w.ctx.fail(p, f"VLAN range {text!r}: {v} is not a VLAN id (1..{MAX_VLAN})", fix)
    if vlan_max < vlan_min:
        w.ctx.fail(p, f"VLAN range {text!r} ends before it starts", "swap vlan_min and vlan_max")
    return physnet, vlan_min, vlan_max


@dataclass
class SegmentPool:
    """The segmentation ids in use, per tunnel type and per (physnet, VLAN): the type drivers'
    allocation tables."""

    ml2: Ml2Config
    tunnel_ids: dict[str, set[int]] = field(
        default_factory=lambda: {t: set() for t in TUNNEL_TYPES})
    vlans: set[tuple[str, int]] = field(default_factory=set)

    @classmethod
    def of(cls, w: Working, ml2: Ml2Config) -> SegmentPool:
        """The pool with every id the file gives already taken."""
        pool = cls(ml2)
        for n in w.cloud.networks:
            prov = n.provider
            if prov is None or prov.segmentation_id is None:
                continue
            if prov.network_type in TUNNEL_TYPES:
                pool.tunnel_ids[prov.network_type].add(prov.segmentation_id)
            elif prov.network_type == TYPE_VLAN and prov.physical_network:
                pool.vlans.add((prov.physical_network, prov.segmentation_id))
        return pool

    def tunnel_id(self, ntype: str) -> int:
        """The lowest free VNI / GRE key of a tunnel type."""
        used = self.tunnel_ids[ntype]
        seg = next(v for v in range(1, MAX_TUNNEL_ID[ntype] + 1) if v not in used)
        used.add(seg)
        return seg

    def vlan(self, physnet: str | None) -> tuple[str, int] | None:
        """The first free VLAN of ``physnet``'s ranges, in their order (None: of the first
        physnet that has one); None when every VLAN is taken."""
        for net, low, high in self.ml2.network_vlan_ranges:
            if physnet is not None and net != physnet:
                continue
            for v in range(low, high + 1):
                if (net, v) not in self.vlans:
                    self.vlans.add((net, v))
                    return net, v
        return None

    def tenant_segment(self) -> tuple[str, str | None, int | None] | None:
        """``_allocate_tenant_net_segment``: (network_type, physnet, segmentation id) from the
        first of tenant_network_types that has one left."""
        for ntype in self.ml2.tenant_network_types:
            if ntype == TYPE_LOCAL:
                return ntype, None, None
            if ntype == TYPE_VLAN:
                got = self.vlan(None)
                if got is not None:
                    return ntype, got[0], got[1]
                continue
            return ntype, None, self.tunnel_id(ntype)
        return None
