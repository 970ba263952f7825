"""The parser against the real iptables: every iptables-save / ip6tables-save text the agents
generate for the seed is loaded with ``iptables-restore`` into a scratch namespace, and what the
kernel's ``iptables-save`` prints back parses to the same rules (iptables-nft only lowercases the
``--mac-source`` MACs Neutron writes in uppercase)."""

from __future__ import annotations

import dataclasses
import subprocess

import pytest

from neutrace.agents import program
from neutrace.dataplane import Namespace
from neutrace.syntax.iptables import IptRule, Match, Option, parse_iptables_save
from neutrace.topology import load
from tests.support.kernel_lab import lab_tag
from tests.support.paths import SEED_YAML

pytestmark = pytest.mark.root

SEED = program(load(str(SEED_YAML)))
CASES = [(f"{h.name}/{ns.name or 'root'}/{tool}", ns, tool)
         for h in SEED.hosts for ns in h.namespaces for tool in ("iptables", "ip6tables")
         if (ns.iptables if tool == "iptables" else ns.ip6tables)]


def normalise(rule: IptRule) -> IptRule:
    def opt(o: Option) -> Option:
        if o.name == "--mac-source":
            return dataclasses.replace(o, values=(o.values[0].lower(),))
        return o

    return dataclasses.replace(rule, counters=None, matches=tuple(
        Match(m.module, tuple(opt(o) for o in m.options)) for m in rule.matches))


@pytest.mark.parametrize(("label", "ns", "tool"), CASES, ids=[c[0] for c in CASES])
def test_kernel_iptables_save_parses_to_the_same_rules(
    netns_root: None, label: str, ns: Namespace, tool: str,
) -> None:
    name = f"nt-{lab_tag()}-ipt"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        run = ["ip", "netns", "exec", name]
        if ns.ipsets:
            subprocess.run([*run, "ipset", "restore"], input=ns.ipsets, text=True, check=True)
        text = ns.iptables if tool == "iptables" else ns.ip6tables
        subprocess.run([*run, f"{tool}-restore"], input=text, text=True, check=True)
        saved = subprocess.run([*run, f"{tool}-save"], capture_output=True, text=True,
                               check=True).stdout
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
    mine = parse_iptables_save(text, label)
    kernel = parse_iptables_save(saved, f"{label} ({tool}-save)")
    for table in mine.tables:
        theirs = kernel.table(table.name)
        if theirs is None:  # iptables-nft prints no table that has no rules
            assert not table.rules, table.name
            continue
        for chain in {c.name for c in table.chains}:
            assert [normalise(r) for r in table.rules_of(chain)] == [
                normalise(r) for r in theirs.rules_of(chain)], (table.name, chain)
