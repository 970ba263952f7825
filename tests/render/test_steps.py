"""The words of a trace (`neutrace.render.steps`, `fates`, `phrases`): OVS's and the kernel's
own phrases from facts, and a phrase for every fate."""

from __future__ import annotations

import pytest

from neutrace.dataplane import Flow
from neutrace.engines.results import ExitKind, OfExit
from neutrace.render.fates import cause_text, exit_reason, explanation_text
from neutrace.render.phrases import PHRASES
from neutrace.render.steps import step_detail, step_text, step_where
from neutrace.syntax.iptables import parse_iptables_save
from neutrace.trace import (
    Denial,
    DropExplanation,
    DropWhy,
    ExitCause,
    FdbDecision,
    FdbStep,
    FdbSwitch,
    LinuxFate,
    LinuxWhy,
    NetfilterVerdict,
    RuleStep,
    RuleVerdict,
    TableLookup,
    WalkFate,
    WalkWhy,
)

FLOW = Flow(22, 1, (("dl_vlan", "2"),), "strip_vlan,output:2", cookie=0x5)


def test_table_lookup_in_ofproto_trace_words() -> None:
    hit = TableLookup(table=22, flow=FLOW, depth=1)
    assert step_text(hit) == "22. dl_vlan=2, priority 1, cookie 0x5"
    assert step_where(hit) == "22"
    assert step_detail(hit) == ("cookie=0x5, table=22, priority=1,dl_vlan=2 "
                                "actions=strip_vlan,output:2")
    assert step_text(TableLookup(table=5, flow=None)) == "5. No match."


def test_normal_and_linux_bridge_decisions() -> None:
    flood = FdbStep(switch=FdbSwitch.OVS_NORMAL, decision=FdbDecision.FLOOD_UNKNOWN, table=60,
                    mac="fa:16:3e:00:00:01", vlan=2)
    assert step_text(flood) == "-> no learned MAC for destination, flooding"
    assert step_where(flood) == "60"
    bridge = FdbStep(switch=FdbSwitch.LINUX_BRIDGE, decision=FdbDecision.FLOOD_GROUP,
                     element="qbr1", mac="ff:ff:ff:ff:ff:ff", ports=())
    assert step_text(bridge) == "ff:ff:ff:ff:ff:ff is broadcast/multicast: flood to no other port"
    assert step_where(bridge) == "qbr1"


def test_rule_and_its_denial() -> None:
    ruleset = parse_iptables_save("*filter\n:INPUT ACCEPT [0:0]\n"
                                  "-A INPUT -p tcp -j REJECT --reject-with tcp-reset\nCOMMIT\n")
    (rule,) = ruleset.tables[0].rules
    step = RuleStep(table="filter", rule=rule, verdict=RuleVerdict.REJECT)
    assert step_text(step) == "line 3: REJECT"
    assert step_where(step) == "filter/INPUT"
    denial = Denial(verdicts=(NetfilterVerdict(verdict="REJECT", source="qrouter-x",
                                               table="filter", hook="INPUT", rule=rule),))
    assert cause_text(denial) == ("REJECT by qrouter-x filter/INPUT line 3: -A INPUT -p tcp -j "
                                  "REJECT --reject-with tcp-reset (the kernel answers tcp-reset)")


def test_exit_reasons_name_bridge_table_and_flow() -> None:
    miss = OfExit(kind=ExitKind.DROP, cause=ExitCause.TABLE_MISS, table=5)
    assert exit_reason("br-x", miss) == "br-x table 5: no flow matched (table miss): dropped"
    drops = OfExit(kind=ExitKind.DROP, cause=ExitCause.FLOW_DROPS, table=22, flow=FLOW)
    assert exit_reason("br-tun", drops) == (
        'br-tun table 22: flow "priority=1,dl_vlan=2 actions=strip_vlan,output:2" drops the '
        "packet: dropped")
    assert exit_reason("br-x", OfExit(kind=ExitKind.OUTPUT, port="p")) == ""


def test_drop_explanation_in_neutrons_terms() -> None:
    why = DropExplanation(why=DropWhy.NO_FLOOD_ENTRY, bridge="br-tun", table=22, host="cmpt",
                          vlan=2, network="public_net (flat on physnet external)", listed=(1,))
    assert explanation_text(why) == (
        "br-tun table 22 has no flood entry for VLAN 2: public_net (flat on physnet external) "
        "is not a tunnel network on cmpt (flood entries exist for VLAN 1)")


@pytest.mark.parametrize("why", list(LinuxWhy))
def test_every_linux_fate_has_words(why: LinuxWhy) -> None:
    assert cause_text(LinuxFate(why=why))


@pytest.mark.parametrize("why", list(WalkWhy))
def test_every_walk_fate_has_words(why: WalkWhy) -> None:
    assert cause_text(WalkFate(why=why))


def test_every_phrase_fills_in() -> None:
    """No phrase refers to a field its callers do not give (a typo would be a KeyError only
    when that fate happens)."""
    for key, text in PHRASES.items():
        assert text.count("{") == text.count("}"), key
