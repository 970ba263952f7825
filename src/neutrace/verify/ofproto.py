"""Compare a trace of neutrace's OpenFlow engine with real OVS's ``ofproto/trace`` (layer 4): what
the differential tests and ``neutrace ofproto-trace --compare-ovs`` use.

Both sides are reduced to an `Observed`:

- ``visits``: per bridge visit, the table lookups in execution order, ``(table, cookie)`` with
  ``None`` for a miss: the first bridge's visit, then the other bridge visits (reached through
  patch ports) sorted, because the order in which NORMAL floods ports is OVS's hash order, not
  semantics. A recirculation after ct() continues the visit of the bridge it left. Flows are
  identified by cookie: `with_unique_cookies` gives every flow its own cookie before the flows
  go to both sides, so "the same flow matched" is exact;
- ``outputs``: the copies that left, ``(bridge, port, headers)`` sorted; tunnel metadata is not in
  the headers (the dummy datapath prints no ``set(tunnel(...))``), it is compared as
- ``tunnel_ids``: ``(bridge, port, tun_id)`` of copies sent to tunnel ports by an explicit
  ``output`` action, read on the OVS side from the trace's ``load``/``set_field``/``set_tunnel``
  actions of that bridge;
- ``final``: the first bridge's fields after its pipeline (OVS's ``Final flow`` of the first
  pass; OVS restores the flow after a patch port, so the peer bridges' rewrites are not in it),
  as packet fields and registers. After a ct() recirculation the outputs carry the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace

from neutrace.backends.ovs_load import OvsTracer, RealTrace, delete_bridges, load_bridges
from neutrace.backends.ovs_sandbox import OvsSandbox
from neutrace.dataplane import OvsBridge
from neutrace.engines.openflow import OpenFlowEngine, OpenFlowState
from neutrace.engines.results import EXIT_OUTPUT, EXIT_PATCH, BridgeVisit
from neutrace.packet import Packet
from neutrace.syntax import ofactions as A
from neutrace.syntax.microflow import parse_microflow
from neutrace.syntax.offields import ct_state_bits
from neutrace.trace import (
    ActionStep,
    CtResume,
    FdbDecision,
    FdbStep,
    TableLookup,
    TunnelOutput,
    lasting_changes,
)

Lookup = tuple[int, int | None]
Block = tuple[str, tuple[Lookup, ...]]
Visits = tuple[Block, tuple[Block, ...]]
HeaderKey = tuple[object, ...]

_TUNNEL_FIELDS = ("tun_id", "tun_src", "tun_dst", "payload")
_HEADER_FIELDS = tuple(f.name for f in fields(Packet) if f.name not in _TUNNEL_FIELDS)
_TUN_LOAD_RE = re.compile(
    r"^(?:load:(0x[0-9a-f]+|\d+)->(?:NXM_NX_TUN_ID|tun_id)\[\]|set_field:(0x[0-9a-f]+|\d+)->tun_id"
    r"|set_tunnel(?:64)?:(0x[0-9a-f]+|\d+))$"
)


# an address a packet does not give is all zeros in OVS's ``struct flow`` (an ARP frame without
# arp_spa prints ``arp_spa=0.0.0.0``): both spellings compare equal
_ZERO = {"dl_src": "00:00:00:00:00:00", "dl_dst": "00:00:00:00:00:00",
         "arp_sha": "00:00:00:00:00:00", "arp_tha": "00:00:00:00:00:00",
         "nd_sll": "00:00:00:00:00:00", "nd_tll": "00:00:00:00:00:00",
         "arp_spa": "0.0.0.0", "arp_tpa": "0.0.0.0", "nw_src": "0.0.0.0", "nw_dst": "0.0.0.0",
         "ipv6_src": "::", "ipv6_dst": "::", "nd_target": "::"}
_HEADER_ZEROS = tuple(_ZERO.get(f) for f in _HEADER_FIELDS)


def headers(p: Packet) -> HeaderKey:
    """The packet's header fields (the tunnel metadata left out), an address not given as its
    zero (OVS's spelling)."""
    return tuple(z if z is not None and x == "" else x
                 for x, z in zip((getattr(p, f) for f in _HEADER_FIELDS), _HEADER_ZEROS,
                                 strict=True))


def with_unique_cookies(bridges: tuple[OvsBridge, ...] | list[OvsBridge]) -> tuple[OvsBridge, ...]:
    """The bridges with every flow's cookie replaced by a unique one (bridge index << 24 | n)."""
    out = []
    for bi, b in enumerate(bridges):
        flows = tuple(replace(f, cookie=((bi + 1) << 24) | (n + 1)) for n, f in enumerate(b.flows))
        out.append(replace(b, flows=flows))
    return tuple(out)


@dataclass(frozen=True)
class Observed:
    visits: Visits
    outputs: tuple[tuple[str, str, HeaderKey], ...]
    tunnel_ids: tuple[tuple[str, str, int], ...]
    final: tuple[HeaderKey, tuple[tuple[str, int], ...]] | None

    def differences(self, other: Observed) -> list[str]:
        """The parts that differ from other, each as engine vs OVS lines."""
        out = []
        for name in ("visits", "outputs", "tunnel_ids", "final"):
            a, b = getattr(self, name), getattr(other, name)
            if a != b:
                out.append(f"{name}:\n  engine: {a}\n  ovs:    {b}")
        return out


# -- engine side -------------------------------------------------------------------------------


def _engine_blocks(visit: BridgeVisit, out: list[Block]) -> None:
    """The table lookups of each visit, (table, cookie or None), in execution order."""
    lookups: list[Lookup] = [(s.table, s.flow.cookie if s.flow is not None else None)
                             for s in visit.steps if isinstance(s, TableLookup)]
    if lookups or not out:
        # OVS's side is built from its table lines: a peer bridge stopped by the depth limit
        # before its first lookup has none (its header only)
        out.append((visit.bridge, tuple(lookups)))
    for e in visit.exits:
        if e.kind == EXIT_PATCH and e.next is not None:
            _engine_blocks(e.next, out)


def _engine_outputs(visit: BridgeVisit, out: list[tuple[str, str, Packet]]) -> None:
    """The copies that left the switch, by bridge and port."""
    for e in visit.exits:
        if e.kind == EXIT_PATCH and e.next is not None:
            _engine_outputs(e.next, out)
        elif e.kind == EXIT_OUTPUT and e.port is not None and e.packet is not None:
            out.append((visit.bridge, e.port, e.packet))


def _explicit_tunnel_outputs(visit: BridgeVisit, bridges: dict[str, OvsBridge],
                             out: list[tuple[str, str, int]]) -> None:
    """Tunnel-port copies sent by an ``output`` action (not NORMAL): an ``output:`` action step
    directly followed by the engine's tunnel output."""
    steps = visit.steps
    for step, after in zip(steps, steps[1:], strict=False):
        if isinstance(step, ActionStep) and isinstance(step.action, A.Output) \
                and isinstance(after, TunnelOutput):
            out.append((visit.bridge, after.port, after.tun_id))
    for e in visit.exits:
        if e.kind == EXIT_PATCH and e.next is not None:
            _explicit_tunnel_outputs(e.next, bridges, out)


def _engine_final(visit: BridgeVisit) -> tuple[HeaderKey, tuple[tuple[str, int], ...]]:
    """The first bridge's fields and registers at the end of its first pass."""
    packet = visit.packet
    pfields = set(_HEADER_FIELDS)
    regs: dict[str, int] = {}
    steps = visit.steps
    first = next((i for i, s in enumerate(steps) if isinstance(s, CtResume)), len(steps))
    # the first pass ends at the first CtResume (compared with OVS's first Final flow)
    for ch in lasting_changes(steps[:first]):
        if ch.field in pfields:
            packet = packet.with_(**{ch.field: ch.after})
        elif ch.field.startswith(("reg", "metadata")):
            regs[ch.field] = int(ch.after)
    return headers(packet), tuple(sorted((k, v) for k, v in regs.items() if v))


def observe_engine(visit: BridgeVisit, bridges: tuple[OvsBridge, ...] | list[OvsBridge],
                   *, final: bool = True) -> Observed:
    """What the engine did with a packet, reduced for comparison."""
    blocks: list[Block] = []
    _engine_blocks(visit, blocks)
    outs: list[tuple[str, str, Packet]] = []
    _engine_outputs(visit, outs)
    tun: list[tuple[str, str, int]] = []
    _explicit_tunnel_outputs(visit, {b.name: b for b in bridges}, tun)
    return Observed(
        visits=(blocks[0], tuple(sorted(blocks[1:], key=repr))),
        outputs=tuple(sorted(((b, p, headers(pk)) for b, p, pk in outs), key=repr)),
        tunnel_ids=tuple(sorted(tun)),
        final=_engine_final(visit) if final else None,
    )


# -- OVS side ----------------------------------------------------------------------------------


def _ovs_tunnel_ids(real: RealTrace, start: Packet, bridges: dict[str, OvsBridge],
                    resumed: list[str | None]) -> list[tuple[str, str, int]]:
    """``(bridge, port, tun_id)`` of each output to a tunnel port. ``resumed[i]`` is the
    bridge pass ``i`` really resumes in (its first block's header names the first bridge)."""
    out: list[tuple[str, str, int]] = []
    tun: dict[str, int] = {}
    for i, p in enumerate(real.trace.passes):
        lines = p.lines
        blocks = 0
        for n, ln in enumerate(lines):
            if ln.kind == "bridge":
                blocks += 1
                # the first bridge starts with the packet's tunnel id; a patch port clears it
                tun[ln.bridge] = start.tun_id if i == 0 and blocks == 1 else 0
                continue
            bridge = (resumed[i] or ln.bridge) if i and blocks <= 1 else ln.bridge
            if ln.kind != "action" or bridge not in bridges:
                continue
            m = _TUN_LOAD_RE.match(ln.text)
            if m:
                tun[bridge] = int(next(g for g in m.groups() if g is not None), 0)
            elif ln.text.startswith(("output:", "output(port=")):
                nxt = lines[n + 1] if n + 1 < len(lines) else None
                if nxt is not None and nxt.kind == "note" and (
                    "skipping output to input port" in nxt.text or "Nonexistent" in nxt.text
                ):
                    continue
                br = bridges[bridge]
                target = (ln.text[len("output:"):] if ln.text.startswith("output:")
                          else ln.text[len("output(port="):].split(",")[0].rstrip(")"))
                port = br.port(target) or (br.port_by_ofport(int(target)) if target.isdigit()
                                             else None)
                if port is not None and port.is_tunnel:
                    # a port with a fixed key (``key``/``out_key`` not ``flow``) sends that key
                    opts = dict(port.options)
                    key = opts.get("out_key") or opts.get("key") or "0"
                    out.append((bridge, port.name,
                                tun.get(bridge, 0) if key == "flow" else int(key, 0)))
    return out


def observe_ovs(real: RealTrace, start: Packet, bridges: tuple[OvsBridge, ...] | list[OvsBridge],
                *, final: bool = True) -> Observed:
    """What real OVS did with a packet, reduced the same way."""
    blocks: dict[tuple[int, int], tuple[str, list[Lookup]]] = {}
    # bridge -> the key of its first block (a recirculation resumes the visit of the bridge
    # that ran ct(), which may be a patch peer first entered in an earlier recirculation)
    first_key: dict[str, tuple[int, int]] = {}
    fork_keys: list[tuple[int, int]] = []
    # OVS 3.1 heads a recirculation with the first bridge's name even when it resumes in a
    # patch peer: the flows' (unique) cookies tell which bridge it really is
    # (or, when the resumed lookups all miss, the bridge whose ct(table=...) forked it)
    owner = {f.cookie: b.name for b in bridges for f in b.flows}
    forks = [ln.bridge for p in real.trace.passes for ln in p.lines
             if ln.kind == "action" and ln.text.startswith("ct(") and "table=" in ln.text]
    resumed_by_pass: list[str | None] = []
    for i, p in enumerate(real.trace.passes):
        resumed = next((owner[v.cookie] for v in p.visits
                        if v.block == 0 and not v.is_miss and v.cookie in owner), None)
        if resumed is None and 0 < i <= len(forks):
            resumed = forks[i - 1]
        resumed_by_pass.append(resumed)
        # recirculation i resumes the bridge visit of the i-th ct(table=N) fork (OVS runs them
        # in the order they were forked)
        fork_key = fork_keys[i - 1] if 0 < i <= len(fork_keys) else None
        for ln in p.lines:
            if ln.kind == "action" and ln.text.startswith("ct(") and "table=" in ln.text:
                b = max(ln.block, 0)
                fork_keys.append((fork_key or (0, 0)) if i and b == 0 else (i, b))
        for v in p.visits:
            bridge = v.bridge
            if i and v.block == 0:
                # a recirculation resumes the visit of the bridge that ran ct()
                bridge = resumed or v.bridge
                key = fork_key or first_key.get(bridge, (0, 0))
                if key in blocks:
                    bridge = blocks[key][0]
            else:
                key = (i, v.block)
                first_key.setdefault(bridge, key)
            blocks.setdefault(key, (bridge, []))[1].append(
                (v.table, None if v.is_miss else v.cookie))
    root = blocks.pop((0, 0), (real.trace.passes[0].bridges[0], []))
    # bridges the model does not have (the real backend's br-phy, which an encapsulated packet
    # crosses after tnl_push) are not part of the comparison
    model_names = {b.name for b in bridges}
    visits: Visits = ((root[0], tuple(root[1])),
                      tuple(sorted(((b, tuple(lk)) for b, lk in blocks.values()
                                    if b in model_names), key=repr)))
    outs = tuple(sorted(((o.bridge, o.port, headers(o.packet)) for o in real.outputs), key=repr))
    by_name = {b.name: b for b in bridges}
    fin: tuple[HeaderKey, tuple[tuple[str, int], ...]] | None = None
    if final:
        # the first pass (a ct() recirculation forks a clone: the first pass goes on with the
        # actions after the ct(); the engine's final fields are taken at the same point)
        text = real.trace.passes[0].final_flow
        if text == "unchanged":
            fin = (headers(start), ())
        else:
            mf = parse_microflow(text, source="Final flow", strict=False)
            regs = tuple(sorted((k, int(v, 0)) for k, v in mf.fields
                                if k.startswith(("reg", "metadata")) and int(v, 0)))
            fin = (headers(mf.packet), regs)
    return Observed(visits, outs,
                    tuple(sorted(_ovs_tunnel_ids(real, start, by_name, resumed_by_pass))), fin)


def compare(engine: OpenFlowEngine, tracer: OvsTracer,
            model: tuple[OvsBridge, ...] | list[OvsBridge],
            bridge: str, in_port: str, packet: Packet, *,
            state: OpenFlowState | None = None, ovs_options: tuple[str, ...] = (),
            ct_next: tuple[str, ...] = ()) -> list[str]:
    """The differences between the engine (over ``model``) and real OVS (``model`` loaded) for
    one packet, starting cold (empty when they agree). ``state`` (a copy is used) starts the
    engine warm, e.g. with a committed connection; ``ovs_options`` tell OVS the same
    (``--ct-next trk,est,rpl``: what its conntrack would answer at each recirculation);
    ``ct_next`` gives both sides ofproto/trace's ``--ct-next`` flags instead.

    ``ofproto/trace`` has no side effects, so NORMAL learns nothing during it; a real packet (and
    the engine) learns its source MAC at the first NORMAL, and a later NORMAL of the same packet
    (an ARP responder's reply coming back through a patch port) can use it. When the engine used
    a MAC it learned during this very trace, OVS is asked with ``-generate`` (the packet is
    really processed: MAC learning happens; the FDB is flushed before each trace) and the
    engine runs again as the datapath does (``generate``); else as plain ofproto/trace."""
    ct_states = tuple(ct_state_bits(f) for f in ct_next) if ct_next else None
    visit = engine.run(bridge, in_port, packet,
                       state.copy() if state is not None else OpenFlowState(),
                       ct_next=ct_states, generate=False)
    generate = used_mac_learned_in_trace(visit)
    if generate:  # OVS learns as the datapath does: so does the engine
        visit = engine.run(bridge, in_port, packet,
                           state.copy() if state is not None else OpenFlowState(),
                           ct_next=ct_states, generate=True)
    ours = observe_engine(visit, model)
    tracer.fdb_flush()
    options: tuple[str, ...] = ("-generate",) if generate else ()
    options += tuple(x for f in ct_next for x in ("--ct-next", f))
    real = tracer.trace(bridge, in_port, packet, (), *ovs_options, *options)
    return ours.differences(observe_ovs(real, packet, model))


def used_mac_learned_in_trace(visit: BridgeVisit) -> bool:
    """True if NORMAL forwarded (or dropped) by a MAC learned earlier in the same trace (the
    engine starts cold, so any learned-port decision comes from this trace)."""
    for step in visit.steps:
        if isinstance(step, FdbStep) and step.decision in _LEARNED_PORT:
            return True
    return any(used_mac_learned_in_trace(e.next) for e in visit.exits
               if e.kind == EXIT_PATCH and e.next is not None)


_LEARNED_PORT = frozenset({FdbDecision.FORWARD, FdbDecision.INPUT_PORT_DROP})


@dataclass(frozen=True)
class OvsComparison:
    """Real OVS on the same bridges: its ofproto/trace text (flows carry unique cookies, see
    `with_unique_cookies`) and the differences from the engine (empty: they agree)."""

    text: str
    differences: tuple[str, ...]


def compare_in_sandbox(bridges: tuple[OvsBridge, ...] | list[OvsBridge], bridge: str,
                       in_port: str, packet: Packet, host: str = "",
                       ct_next: tuple[str, ...] = ()) -> OvsComparison:
    """Load ``bridges`` into a private ovs-vswitchd (datapath_type=dummy), trace ``packet`` there
    and with the engine, and compare (``ct_next``: ofproto/trace's ``--ct-next`` flags, given to
    both). Needs the Open vSwitch binaries."""
    model = with_unique_cookies(bridges)
    with OvsSandbox() as sandbox:
        load_bridges(sandbox, model)
        try:
            with OvsTracer(sandbox) as tracer:
                engine = OpenFlowEngine(model, host=host)
                diffs = compare(engine, tracer, model, bridge, in_port, packet, ct_next=ct_next)
                text = tracer.trace(bridge, in_port, packet, (), *(
                    x for f in ct_next for x in ("--ct-next", f))).text
        finally:
            delete_bridges(sandbox, [b.name for b in model])
    return OvsComparison(text, tuple(diffs))
