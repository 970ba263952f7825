"""Open vSwitch state dumps beyond flows: ``ovs-vsctl --format=json list TABLE``
(neutrace.syntax.ovsdb_json), ``ovs-appctl fdb/show`` (neutrace.syntax.ovsfdb) and
``ovs-ofctl dump-groups`` (neutrace.syntax.ofgroups), on real OVS 3.1 output
(tests/data/ovsdump/) and round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neutrace.errors import SyntaxParseError
from neutrace.syntax.ofgroups import Group, format_groups, parse_groups
from neutrace.syntax.ovsdb_json import Uuid, as_list, format_vsctl_json, parse_vsctl_json, scalar
from neutrace.syntax.ovsfdb import OFPP_LOCAL, MacEntry, format_fdb_show, parse_fdb_show
from tests.support.paths import DATA

OVS = DATA / "ovsdump"


def test_vsctl_json_real_output() -> None:
    ports = {r["name"]: r for r in parse_vsctl_json((OVS / "vsctl-json-port.json").read_text())}
    assert scalar(ports["p1"]["tag"]) == 3 and ports["p1"]["other_config"] == {"net_uuid": "xyz"}
    assert as_list(ports["tr"]["trunks"]) == [1, 2] and ports["tr"]["vlan_mode"] == "trunk"
    assert scalar(ports["br-int"]["tag"]) is None
    assert isinstance(ports["p1"]["_uuid"], Uuid)
    ifaces = {r["name"]: r for r in parse_vsctl_json(
        (OVS / "vsctl-json-interface.json").read_text())}
    assert ifaces["bad"]["ofport"] == -1 and "could not" in scalar(ifaces["bad"]["error"])
    assert ifaces["vx"]["options"] == {"key": "flow", "local_ip": "1.2.3.5",
                                       "remote_ip": "1.2.3.4"}
    assert ifaces["p1"]["external_ids"] == {"iface-id": "abc"}


@pytest.mark.parametrize(("text", "match"), [
    ("nope", "not valid JSON"), ('{"data": []}', "headings"),
    ('{"headings": ["a"], "data": [[1, 2]]}', "2 values for 1 columns"),
    ('{"headings": ["a"], "data": [[["set", 1]]]}', "set whose elements"),
    ('{"headings": ["a"], "data": [[{"x": 1}]]}', "not an OVSDB atom"),
])
def test_vsctl_json_bad(text: str, match: str) -> None:
    with pytest.raises(SyntaxParseError, match=match):
        parse_vsctl_json(text, source="x.json")


atoms = st.one_of(st.text("abc-=:/ 0123", max_size=6), st.integers(-5, 70000), st.booleans(),
                  st.uuids().map(lambda u: Uuid(str(u))))
data = st.one_of(atoms, st.lists(atoms, min_size=2, max_size=3),
                 st.just([]),
                 st.dictionaries(st.text("abcdef_-", min_size=1, max_size=6),
                                 st.text("xyz0123.", max_size=6), max_size=3))


@given(st.lists(st.fixed_dictionaries({"name": st.text("abc", min_size=1, max_size=4),
                                       "value": data}), max_size=4))
def test_vsctl_json_round_trip(rows: list[dict[str, object]]) -> None:
    back = parse_vsctl_json(format_vsctl_json(["name", "value"], rows))
    assert list(back) == rows


def test_fdb_show_real_output() -> None:
    entries = parse_fdb_show((OVS / "fdb-show.txt").read_text())
    assert entries == (MacEntry(5, 3, "fa:16:3e:00:00:01", 0),)
    assert parse_fdb_show(" port  VLAN  MAC                Age\n") == ()
    with pytest.raises(SyntaxParseError, match="not an fdb/show row"):
        parse_fdb_show(" port  VLAN  MAC                Age\n    x 1 2 3\n", source="f")


fdb = st.builds(MacEntry, st.sampled_from([1, 2, 17, OFPP_LOCAL]), st.integers(0, 4095),
                st.lists(st.integers(0, 255), min_size=6, max_size=6).map(
                    lambda b: ":".join(f"{x:02x}" for x in b)),
                st.none() | st.integers(0, 300))


@given(st.lists(fdb, max_size=5).map(tuple))
def test_fdb_show_round_trip(entries: tuple[MacEntry, ...]) -> None:
    assert parse_fdb_show(format_fdb_show(entries)) == entries


def test_groups_real_output() -> None:
    groups = parse_groups((OVS / "dump-groups.txt").read_text())
    assert groups == (Group(1, "all", ("actions=output:5",)),)
    with pytest.raises(SyntaxParseError, match="not a group"):
        parse_groups("bucket=actions=drop\n", source="g")


groups = st.builds(Group, st.integers(0, 99), st.sampled_from(["all", "select", "ff"]),
                   st.lists(st.sampled_from(["actions=output:1", "weight:100,actions=drop",
                                             "actions=mod_vlan_vid:3,output:2"]),
                            max_size=3).map(tuple),
                   st.sampled_from([(), ("selection_method=hash",)]))


@given(st.lists(groups, max_size=4).map(tuple))
def test_groups_round_trip(gs: tuple[Group, ...]) -> None:
    assert parse_groups(format_groups(gs)) == gs
