"""Groups and the action set (layer 3): ``xlate_group_action`` and ``xlate_action_set`` of
``ofproto-dpif-xlate.c``, ``ofpacts_execute_action_set`` of ``lib/ofp-actions.c``.

``write_actions(...)`` adds to the visit's action set and ``clear_actions`` empties it; the set
runs when the pipeline ends (in the bridge that holds it: a patch peer and a clone start with
their own copy). It runs as OVS orders it: the last pop_vlan, push_vlan and dec_ttl, every
set/load/move in order, then one final action (the last ct, ct_clear, resubmit, output or
group, a later kind winning); without a final action nothing runs.

A group (``ovs-ofctl dump-groups``) of type ``all`` or ``indirect`` runs every bucket, each on
a copy of the packet (the packet after the group is the one before it); ``ff`` (fast failover)
runs its first live bucket (no watch, or a watched port that exists and is not down, or a
watched group with a live bucket); ``select`` runs its live bucket when it has one (weight > 0):
OVS picks among several by a hash of the packet, which is not modelled (a trace that needs it
stops with an error). A bucket's actions are an action set too.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from neutrace.dataplane import OvsGroup
from neutrace.engines.openflow import xlate
from neutrace.engines.openflow.context import XlateCtx
from neutrace.errors import SyntaxParseError
from neutrace.syntax import ofactions as A
from neutrace.syntax import offields as F
from neutrace.trace import LimitKind

# ofpacts_execute_action_set's slots: only the last of each kind runs, in this order
_SLOTS: tuple[type, ...] = (A.StripVlan, A.PushVlan, A.DecTtl)
_SET_OR_MOVE: tuple[type, ...] = (A.SetField, A.Load, A.Move, A.SetVlanVid, A.SetVlanPcp,
                                  A.SetTunnel)
# the final actions, by increasing priority (output: every output to a port)
_FINAL: tuple[tuple[type, ...], ...] = (
    (A.Ct,), (A.CtClear,), (A.Resubmit,),
    (A.Output, A.InPort, A.Local, A.Normal, A.Flood), (A.Group,))


def action_list(action_set: Sequence[A.Action]) -> tuple[A.Action, ...]:
    """``ofpacts_execute_action_set``: the actions an action set runs, in order."""
    slots: list[A.Action | None] = [None] * len(_SLOTS)
    moves: list[A.Action] = []
    final: A.Action | None = None
    final_class = -1
    for act in action_set:
        for i, kind in enumerate(_SLOTS):
            if isinstance(act, kind):
                slots[i] = act
                break
        else:
            if isinstance(act, _SET_OR_MOVE):
                moves.append(act)
                continue
            for cls, kinds in enumerate(_FINAL):
                if isinstance(act, kinds) and cls >= final_class:
                    final, final_class = act, cls
                    break
    if final is None:
        return ()
    return (*(a for a in slots if a is not None), *moves, final)


def run_action_set(ctx: XlateCtx) -> None:
    """``xlate_action_set``: run (and empty) the visit's action set."""
    acts = action_list(ctx.action_set)
    ctx.action_set.clear()
    if acts:
        xlate.xlate_actions(ctx, acts)


# -- groups -----------------------------------------------------------------------------------


class Bucket:
    """One bucket of a group: its actions (an action set) and liveness settings."""

    __slots__ = ("bucket_id", "weight", "watch_port", "watch_group", "actions")

    def __init__(self, bucket_id: int, weight: int, watch_port: str | None,
                 watch_group: int | None, actions: tuple[A.Action, ...]) -> None:
        """A bucket as `parse_bucket` read it."""
        self.bucket_id = bucket_id
        self.weight = weight
        self.watch_port = watch_port
        self.watch_group = watch_group
        self.actions = actions


@lru_cache(maxsize=4096)
def parse_bucket(text: str, index: int) -> Bucket:
    """A bucket as dump-groups prints it: ``bucket_id:N,weight:W,watch_port:P,watch_group:G,
    actions=...`` (the keys optional; without ``actions=`` the rest is the actions)."""
    bucket_id, weight, port, group = index, 1, None, None
    parts = A.split_top(text)
    actions: list[str] = []
    for n, part in enumerate(parts):
        key, sep, value = part.replace("=", ":", 1).partition(":")
        if key == "actions":
            actions = [value, *parts[n + 1:]] if value else list(parts[n + 1:])
            break
        if sep and key in ("bucket_id", "weight", "watch_port", "watch_group"):
            if key == "bucket_id":
                bucket_id = F.parse_int(value)
            elif key == "weight":
                weight = F.parse_int(value)
            elif key == "watch_port":
                port = value
            else:
                group = F.parse_int(value)
            continue
        actions = list(parts[n:])
        break
    return Bucket(bucket_id, weight, port, group,
                  A.parse_actions(",".join(actions)) if actions else ())


def _buckets(group: OvsGroup) -> list[Bucket]:
    return [parse_bucket(b, i) for i, b in enumerate(group.buckets)]


def _port_alive(ctx: XlateCtx, port: str) -> bool:
    """``odp_port_is_alive``: the watched port exists and is neither down nor without link."""
    ofport = xlate.resolve_port(ctx, port)
    p = ctx.bridge.by_ofport.get(ofport) if ofport is not None else None
    return p is not None and "PORT_DOWN" not in p.config and "LINK_DOWN" not in p.state


def _alive(ctx: XlateCtx, group: OvsGroup, bucket: Bucket, depth: int = 0) -> bool:
    """``bucket_is_alive``."""
    if depth >= 128:
        return False
    if group.type == "select" and bucket.weight == 0:
        return False
    port = bucket.watch_port if bucket.watch_port not in (None, "ANY", "any") else None
    if port is None and bucket.watch_group is None:
        return True
    if port is not None and port.upper() != "CONTROLLER" and _port_alive(ctx, port):
        return True
    if bucket.watch_group is not None:
        watched = ctx.bridge.groups.get(bucket.watch_group)
        if watched is not None and any(_alive(ctx, watched, b, depth + 1)
                                       for b in _buckets(watched)):
            return True
    return False


def xlate_group(ctx: XlateCtx, group_id: int) -> None:
    """``xlate_group_action``: the group's buckets, each on a copy of the packet."""
    if ctx.depth >= xlate.MAX_DEPTH:
        xlate.xlate_limit(ctx, LimitKind.DEPTH, xlate.MAX_DEPTH)
        return
    if ctx.resubmits >= xlate.MAX_RESUBMITS:
        xlate.xlate_limit(ctx, LimitKind.RESUBMITS, xlate.MAX_RESUBMITS)
        return
    group = ctx.bridge.groups.get(group_id)
    if group is None:
        return  # OVS: "output to nonexistent group", nothing happens
    try:
        buckets = _buckets(group)
    except A.ActionParseError as exc:
        raise SyntaxParseError(
            f"bridge {ctx.bridge.name}", f"group_id={group_id}",
            f"the packet hits a group neutrace does not simulate: {exc}",
            "trace a packet that misses it, or check it with --compare-ovs") from None
    if group.type in ("all", "indirect"):
        chosen = buckets
    else:
        live = [b for b in buckets if _alive(ctx, group, b)]
        if group.type == "select" and len(live) > 1:
            raise SyntaxParseError(
                f"bridge {ctx.bridge.name}", f"group_id={group_id}",
                "a select group with several live buckets: OVS picks one by a hash of the "
                "packet, which neutrace does not model", "trace it with --compare-ovs")
        chosen = live[:1]
    for bucket in chosen:
        _bucket(ctx, bucket)


def _bucket(ctx: XlateCtx, bucket: Bucket) -> None:
    """``xlate_group_bucket``: the bucket's action set as an action list, one level deeper;
    the packet is put back afterwards."""
    saved = list(ctx.v)
    ctx.depth += 1
    ctx.sdepth += 1
    xlate.xlate_actions(ctx, action_list(bucket.actions))
    ctx.depth -= 1
    ctx.sdepth -= 1
    ctx.v[:] = saved
    ctx.stopped = False
