"""Each class of hostile or broken topology file of issue 14 (topology.source): wrong or empty
YAML tags, tags on lists and mappings, non-printable bytes, alias bombs, self-referencing anchors
and merge keys, deep nesting (YAML and JSON), huge integers, NaN/Infinity, duplicate JSON keys,
undecodable bytes, a NUL in the path, files past the size limit: each a `TopologyError` naming
the file, the line and column where there is one, and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from neutrace import topology
from neutrace.errors import TopologyError
from neutrace.limits import limited
from neutrace.topology.source import parse
from tests.support.fuzz import TARGETS, check

BOMB = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 10) + "]\n"
    for i in range(9))


def refused(text: str, source: str = "cloud.yaml") -> TopologyError:
    with pytest.raises(TopologyError) as info:
        parse(text, source)
    message = str(info.value)
    assert message.startswith(source) and "(fix: " in message and len(message) < 500, message
    return info.value


@pytest.mark.parametrize("text, fragment", [
    ("name: !!bool\n", "not a boolean"),
    ("name: !!bool yes\n", "not a boolean"),
    ("name: !!timestamp 2001-12-14\n", "!!timestamp is not allowed"),
    ("name: !!float a\n", "not a finite number"),
    ("name: !!float .nan\n", "not a finite number"),
    ("name: !!int 0x\n", "not an integer"),
    ("name: !!null x\n", "not null"),
    ("name: !!binary aGk=\n", "!!binary is not allowed"),
    ("name: !!python/name:os.system x\n", "is not allowed"),
    ("name: !custom x\n", "!custom is not allowed"),
    ("? !!set {a: 1}\n: x\n", "a mapping key must be a plain value"),
    ("hosts: !!set {a, b}\n", "!!set is not allowed on a mapping"),
    ("hosts: !!omap [a: 1]\n", "!!omap is not allowed on a list"),
])
def test_tags_refused_or_checked(text: str, fragment: str) -> None:
    error = refused(text)
    assert fragment in error.problem
    assert error.line is not None and error.column is not None


def test_explicit_plain_tags_work() -> None:
    data, _ = parse("a: !!str 10\nb: !!int '12'\nc: !!bool true\nd: !!float 1.5\ne: !!null\n"
                    "f: !!seq [1]\ng: !!map {h: 2}\n", "cloud.yaml")  # (the default tags)
    assert data == {"a": "10", "b": 12, "c": True, "d": 1.5, "e": None, "f": [1], "g": {"h": 2}}


def test_a_non_printable_byte() -> None:
    error = refused("name: x\nhosts: [a\x01]\n")
    assert "not allowed in YAML" in error.problem and (error.line, error.column) == (2, 10)


def test_billion_laughs_is_refused_quickly() -> None:
    finding, seconds, was_refused = check(TARGETS["topology.source"], BOMB)
    assert finding is None and was_refused  # within the fuzz time bound (CPU seconds)
    error = refused(BOMB)
    assert "aliases expand to more than" in error.problem and "NEUTRACE_LIMIT_" in error.fix
    with limited(max_yaml_aliases=5):
        assert "more than 5 aliases" in refused(BOMB).problem


def test_self_referencing_anchors_and_merge_keys() -> None:
    assert "contains itself" in refused("a: &a [1, *a]\n").problem
    assert "contains itself" in refused("a: &a {b: *a}\n").problem
    data, _ = parse("a: &a {x: 1, <<: *a}\n", "cloud.yaml")  # a merge of itself adds nothing
    assert data == {"a": {"x": 1}}
    assert "merge key" in refused("a: &a 1\nb: {<<: *a}\n").problem


def test_deep_nesting_yaml_and_json() -> None:
    assert "nested deeper than" in refused("a: " + "[" * 5000 + "]" * 5000 + "\n").problem
    assert "nested deeper than" in refused("a:\n" + "".join(
        " " * i + "- \n" for i in range(1, 300))).problem
    deep_json = '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert "nested" in refused(deep_json, "cloud.json").problem
    with limited(max_yaml_depth=3):
        assert "nested deeper than 3" in refused('{"a": [[[[1]]]]}', "c.json").problem


@pytest.mark.parametrize("text, source", [
    ("vlan: " + "9" * 5000 + "\n", "cloud.yaml"),
    ("vlan: !!int -" + "9" * 50 + "\n", "cloud.yaml"),
    ('{"vlan": ' + "9" * 5000 + "}", "cloud.json"),
])
def test_huge_integers(text: str, source: str) -> None:
    error = refused(text, source)
    assert "40 digits" in error.problem or "not" in error.problem


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_in_json(constant: str) -> None:
    error = refused('{"name": "x",\n "mtu": ' + constant + "}", "cloud.json")
    assert constant in error.problem and (error.line, error.column) == (2, 9)


def test_duplicate_json_keys_are_refused_with_their_line() -> None:
    error = refused('{"name": "a",\n "hosts": [],\n "name": "b"}', "cloud.json")
    assert "duplicate key 'name'" in error.problem and error.line == 3


def test_the_file_itself(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match="NUL"):
        topology.load(str(tmp_path / "a\x00b.yaml"))
    with pytest.raises(TopologyError, match="cannot read the file: File name too long"):
        topology.load(tmp_path / ("x" * 300))
    with pytest.raises(TopologyError, match="cannot read the file"):
        topology.load(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"name: x\nhosts: [caf\xe9]\n")
    with pytest.raises(TopologyError) as info:
        topology.load(bad)
    assert "byte 0xe9 is not UTF-8" in str(info.value) and (info.value.line,
                                                           info.value.column) == (2, 12)
    big = tmp_path / "big.yaml"
    big.write_text("name: x\n" + "#" * 2000 + "\n")
    with limited(max_topology_bytes=1000), pytest.raises(TopologyError,
                                                         match="larger than the limit"):
        topology.load(big)
