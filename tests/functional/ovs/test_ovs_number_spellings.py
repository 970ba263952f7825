"""How numbers and addresses are read, against real ovs-ofctl (issue 14): for each odd spelling
(leading zeros, which are octal in some places and decimal in others, a ``+`` sign, Unicode
digits, huge or truncated values, NAT ranges) the flow is added to a private OVS and dumped
back; neutrace must read the spelling as OVS did (the same value as OVS's canonical dump line
gives), or refuse it when OVS refuses it. Where OVS silently wraps a value past its width,
neutrace refuses it (STRICTER, docs/reliability.md)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from neutrace.backends.ovs_sandbox import OvsSandbox
from neutrace.dataplane import Flow
from neutrace.errors import BackendError, SyntaxParseError
from neutrace.syntax import ofactions as A
from neutrace.syntax import offields
from neutrace.syntax.ofctl import parse_flow

BRIDGE = "nt-numbers"


def match(name: str) -> Callable[[Flow], object]:
    def get(flow: Flow) -> object:
        field = offields.lookup(name)
        assert field is not None
        return offields.parse_value(field, dict(flow.match)[name], lambda n: None)
    return get


def action(kind: type, attr: str) -> Callable[[Flow], object]:
    def get(flow: Flow) -> object:
        found = [a for a in A.parse_actions(flow.actions) if isinstance(a, kind)]
        value = getattr(found[0], attr)
        return offields.parse_port(value) if kind is A.Output else value
    return get


def table_of_jump(flow: Flow) -> object:
    """goto_table:N (ours) is printed by OVS 1.0 as resubmit(,N)."""
    (jump,) = A.parse_actions(flow.actions)
    assert isinstance(jump, A.GotoTable | A.Resubmit)
    return jump.table


def loaded_value(flow: Flow) -> object:
    """set_field:V->reg1 (ours) is printed by OVS as load:V->NXM_NX_REG1[]."""
    (act,) = A.parse_actions(flow.actions)
    assert isinstance(act, A.SetField | A.Load)
    return act.value


def nat(flow: Flow) -> object:
    (ct,) = [a for a in A.parse_actions(flow.actions) if isinstance(a, A.Ct)]
    assert ct.nat is not None
    return (ct.nat.ip_min, ct.nat.port_min, ct.nat.port_max)


def head(name: str) -> Callable[[Flow], object]:
    return lambda flow: getattr(flow, name)


HEAD = {k: head(k) for k in ("table", "priority", "cookie", "idle_timeout")}
# (flow text, what to compare); None: both refuse it
SAME: list[tuple[str, Callable[[Flow], object] | None]] = [
    ("reg0=010,actions=drop", match("reg0")),
    ("reg0=+1,actions=drop", match("reg0")),
    ("reg0=0x0000000000000000000000000000000000000001,actions=drop", match("reg0")),
    ("reg0=00000000000000000000000000000000000000001,actions=drop", match("reg0")),
    ("reg0=0x010/07,actions=drop", match("reg0")),
    ("tcp,tp_dst=010,actions=drop", match("tp_dst")),
    ("dl_vlan=010,actions=drop", match("dl_vlan")),
    ("ct_zone=010,actions=drop", match("ct_zone")),
    ("in_port=010,actions=drop", match("in_port")),
    ("in_port=+1,actions=drop", match("in_port")),
    ("ip,nw_src=01.02.03.010,actions=drop", match("nw_src")),
    ("ip,nw_src=1.2.3.4/010,actions=drop", match("nw_src")),
    ("ip,nw_src=1.2.3.4/+8,actions=drop", match("nw_src")),
    ("ipv6,ipv6_src=fe80::1/010,actions=drop", match("ipv6_src")),
    ("dl_src=fa:16:3e:0:0:001,actions=drop", match("dl_src")),
    ("table=010,actions=drop", HEAD["table"]),
    ("table=+1,actions=drop", HEAD["table"]),
    ("priority=010,actions=drop", HEAD["priority"]),
    ("cookie=010,actions=drop", HEAD["cookie"]),
    ("idle_timeout=010,actions=drop", HEAD["idle_timeout"]),
    ("actions=output:07", action(A.Output, "port")),
    ("actions=output:+2", action(A.Output, "port")),
    ("actions=resubmit(,010)", action(A.Resubmit, "table")),
    ("actions=goto_table:010", table_of_jump),
    ("actions=mod_vlan_vid:010", action(A.SetVlanVid, "vid")),
    ("actions=load:010->NXM_NX_REG0[]", action(A.Load, "value")),
    ("actions=set_field:010->reg1", loaded_value),
    ("actions=set_tunnel:010", action(A.SetTunnel, "tun_id")),
    ("actions=conjunction(010,1/2)", action(A.Conjunction, "id")),
    ("actions=controller:010", action(A.Controller, "max_len")),
    ("actions=write_metadata:010/07", action(A.WriteMetadata, "value")),
    ("ip,actions=ct(zone=010,table=010)", action(A.Ct, "zone")),
    ("ip,actions=ct(zone=010,table=010)", action(A.Ct, "table")),
    ("ip,actions=ct(commit,nat(src=1.2.3.4:010-020))", nat),
    ("actions=learn(table=010,priority=010,NXM_OF_VLAN_TCI[0..11])", action(A.Learn, "table")),
    ("actions=learn(table=010,priority=010,NXM_OF_VLAN_TCI[0..11])",
     action(A.Learn, "priority")),
    ("reg0=08,actions=drop", None),
    ("reg0=\u00b2,actions=drop", None),
    ("in_port=\u00b2,actions=drop", None),
    ("reg0=-1,actions=drop", None),
    ("reg0=4294967296,actions=drop", None),
    ("reg0=0x100000000,actions=drop", None),
    ("ip,nw_src=0x7f.1.1.1,actions=drop", None),
    ("ip,nw_src=1.2.3,actions=drop", None),
    ("ip,nw_src=1.2.3.4/33,actions=drop", None),
    ("actions=output:65536", None),
    ("actions=mod_vlan_pcp:010", None),
    ("actions=push_vlan:010", None),
    ("ip,actions=ct(commit,nat(src=1.2.3.4:1-))", None),
    ("ip,actions=ct(commit,nat(src=1.2.3.4:5-1))", None),
    ("ip,actions=ct(commit,nat(src=1.2.3.4-1.2.3.1))", None),
    ("ip,actions=ct(commit,nat(src=1.2.3.4:0x10))", None),
    ("tcp,tcp_flags=+syn+bogus,actions=drop", None),
    ("ct_state=+trk+,actions=drop", None),
]
# OVS accepts these by wrapping (or reading an empty number as 0); neutrace refuses them
STRICTER = [
    "ip,nw_src=1.2.3.256,actions=drop",
    "ip,actions=ct(commit,nat(src=1.2.3.4:99999))",
    "ip,actions=ct(commit,nat(src=1.2.3.4:-5))",
    "reg0=0x,actions=drop",
]


@pytest.fixture(scope="module")
def ovs(ovs_sandbox: OvsSandbox) -> OvsSandbox:
    ovs_sandbox.vsctl("--may-exist", "add-br", BRIDGE, "--", "set", "bridge", BRIDGE,
                      "datapath_type=dummy")
    for n in (1, 2, 7, 10):
        ovs_sandbox.vsctl("--may-exist", "add-port", BRIDGE, f"p{n}", "--", "set", "interface",
                          f"p{n}", "type=internal", f"ofport_request={n}")
    yield ovs_sandbox
    ovs_sandbox.vsctl("--if-exists", "del-br", BRIDGE)


def ovs_reads(ovs: OvsSandbox, text: str) -> str | None:
    """OVS's canonical dump line of ``text``, or None when ovs-ofctl refuses it."""
    ovs.ofctl("del-flows", BRIDGE)
    try:
        ovs.ofctl("add-flow", BRIDGE, text)
    except BackendError:
        return None
    lines = [ln for ln in ovs.ofctl("--no-stats", "dump-flows", BRIDGE).splitlines()
             if "actions=" in ln]
    assert len(lines) == 1, lines
    return lines[0].strip()


def neutrace_reads(text: str) -> Flow | None:
    try:
        return parse_flow(text.replace(",actions=", " actions=", 1)
                          if text.startswith(("reg", "ip", "tcp", "in_", "dl_", "ct_", "tab",
                                              "pri", "coo", "idl")) else text)
    except SyntaxParseError:
        return None


@pytest.mark.ovs
@pytest.mark.parametrize("text, get", SAME, ids=[t for t, _ in SAME])
def test_neutrace_reads_a_spelling_as_ovs_does(ovs: OvsSandbox, text: str,
                                              get: Callable[[Flow], object] | None) -> None:
    theirs = ovs_reads(ovs, text)
    mine = neutrace_reads(text)
    if get is None:
        assert theirs is None, f"OVS accepts {text!r} as {theirs!r}"
        assert mine is None, f"neutrace accepts {text!r}"
        return
    assert theirs is not None, f"OVS refuses {text!r}"
    assert mine is not None, f"neutrace refuses {text!r}, OVS reads {theirs!r}"
    assert get(mine) == get(parse_flow(theirs)), (text, theirs)


@pytest.mark.ovs
@pytest.mark.parametrize("text", STRICTER)
def test_neutrace_refuses_what_ovs_wraps(ovs: OvsSandbox, text: str) -> None:
    assert ovs_reads(ovs, text) is not None
    assert neutrace_reads(text) is None
