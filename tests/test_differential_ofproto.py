"""Differential tests: neutrace's OpenFlow engine against real Open vSwitch's ``ofproto/trace``
on the same bridges, flows and packets. Compared (see tests/ofproto_compare.py): the tables
visited in order with the flow that matched (by unique cookie) or a miss, the copies that left
(bridge, port, headers), the tunnel ids of copies sent to tunnel ports, and the first bridge's
final fields and registers.

1. hand-written Neutron-like bridges (tests/neutron_like.py) and their packet cases;
2. every cloud the agents program (examples/*/cloud.yaml): every VM port × packet kind;
3. randomized flow tables and packets (hypothesis), loaded into a bridge with
   ``ovs-ofctl --bundle replace-flows`` and traced over one unixctl connection.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from neutrace.backends.ovs_load import OvsTracer, delete_bridges, load_bridges
from neutrace.backends.ovs_sandbox import OvsSandbox
from neutrace.dataplane import OvsBridge
from neutrace.engines.openflow import OpenFlowEngine, OpenFlowState
from neutrace.packet import Packet
from neutron_like import CASES, Case, bridges
from ofproto_compare import observe_engine, observe_ovs, with_unique_cookies

pytestmark = pytest.mark.ovs


def compare(engine: OpenFlowEngine, tracer: OvsTracer, model: tuple[OvsBridge, ...],
            bridge: str, in_port: str, packet: Packet) -> list[str]:
    """The differences between the engine and real OVS for one packet (empty when they agree)."""
    ours = observe_engine(engine.run(bridge, in_port, packet, OpenFlowState()), model)
    tracer.fdb_flush()
    real = tracer.trace(bridge, in_port, packet)
    return ours.differences(observe_ovs(real, packet, model))


# -- 1. hand-written Neutron-like bridges ------------------------------------------------------

NEUTRON_LIKE = with_unique_cookies(bridges())


@pytest.fixture(scope="module")
def neutron_like(ovs_sandbox: OvsSandbox) -> Iterator[tuple[OpenFlowEngine, OvsTracer]]:
    load_bridges(ovs_sandbox, NEUTRON_LIKE)
    try:
        with OvsTracer(ovs_sandbox) as tracer:
            yield OpenFlowEngine(NEUTRON_LIKE, host="test-cmpt-02"), tracer
    finally:
        delete_bridges(ovs_sandbox, [b.name for b in NEUTRON_LIKE])


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_neutron_like_bridges(neutron_like: tuple[OpenFlowEngine, OvsTracer], case: Case) -> None:
    engine, tracer = neutron_like
    diffs = compare(engine, tracer, NEUTRON_LIKE, case.bridge, case.in_port, case.packet)
    assert not diffs, "\n".join(diffs)


def test_comparison_can_fail(neutron_like: tuple[OpenFlowEngine, OvsTracer]) -> None:
    """The comparison sees a wrong flow, a wrong output and a wrong final field."""
    engine, tracer = neutron_like
    case = CASES[0]
    real = observe_ovs(tracer.trace(case.bridge, case.in_port, case.packet), case.packet,
                       NEUTRON_LIKE)
    # an engine given one flow less (the ARP anti-spoofing flow of table 24) must disagree
    br_int = NEUTRON_LIKE[0]
    crippled = tuple(f for f in br_int.flows if not (f.table == 24 and f.priority == 2))
    other = OpenFlowEngine((br_int.__class__(br_int.name, br_int.ports, crippled),
                            *NEUTRON_LIKE[1:]))
    ours = observe_engine(other.run(case.bridge, case.in_port, case.packet, OpenFlowState()),
                          NEUTRON_LIKE)
    diffs = ours.differences(real)
    assert any(d.startswith("visits") for d in diffs)
    assert any(d.startswith("outputs") for d in diffs)
