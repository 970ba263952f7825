"""``ovs-vsctl --format=json list TABLE`` (layer 2): parser and formatter.

ovs-vsctl prints ``{"headings": [columns...], "data": [[value, ...], ...]}`` where each value is
an OVSDB datum in RFC 7047's JSON notation: an atom (string, number, boolean), ``["uuid", "…"]``,
``["set", [atoms]]`` or ``["map", [[key, value], ...]]`` (a set of one is printed as the bare
atom). `parse_vsctl_json` gives one dict per row with Python values: atoms as themselves, UUIDs
as `Uuid` (a ``str``), sets as lists (an empty set, OVSDB's "no value" for an optional column, is
``[]``), maps as dicts. The schema is not needed: a datum's JSON says what it is, which is what
``ovs.db.data.Datum.from_json`` needs a schema type for.

``parse_vsctl_json(format_vsctl_json(columns, rows)) == rows``. Bad input raises
`neutrace.errors.SyntaxParseError` naming the source and the row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from neutrace.errors import SyntaxParseError
from neutrace.syntax.text import load_json


class Uuid(str):
    """An OVSDB UUID (``["uuid", "…"]``), kept apart from a string that looks like one."""

    __slots__ = ()


Value = Any  # str | int | float | bool | Uuid | list[atom] | dict[atom, atom]


def _atom(raw: Any, source: str, where: str) -> Any:
    if isinstance(raw, (str, int, float, bool)):
        return raw
    if isinstance(raw, list) and len(raw) == 2 and raw[0] in ("uuid", "named-uuid"):
        return Uuid(raw[1])
    raise SyntaxParseError(source, where, f"not an OVSDB atom: {json.dumps(raw)[:60]}",
                           "give the output of `ovs-vsctl --format=json list TABLE`")


def _datum(raw: Any, source: str, where: str) -> Value:
    if isinstance(raw, list) and len(raw) == 2 and raw[0] == "set":
        if not isinstance(raw[1], list):
            raise SyntaxParseError(source, where, "a set whose elements are not a list",
                                   "give the output of `ovs-vsctl --format=json list TABLE`")
        return [_atom(a, source, where) for a in raw[1]]
    if isinstance(raw, list) and len(raw) == 2 and raw[0] == "map":
        pairs = raw[1]
        if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2
                                                  for p in pairs):
            raise SyntaxParseError(source, where, "a map whose pairs are not [key, value]",
                                   "give the output of `ovs-vsctl --format=json list TABLE`")
        return {_atom(k, source, where): _atom(v, source, where) for k, v in pairs}
    return _atom(raw, source, where)


def parse_vsctl_json(text: str, source: str = "<ovs-vsctl --format=json list>"
                     ) -> tuple[dict[str, Value], ...]:
    """One dict per row of ``ovs-vsctl --format=json list TABLE`` (columns by name)."""
    doc = load_json(text, source, "ovs-vsctl --format=json list TABLE")
    if not isinstance(doc, dict) or not isinstance(doc.get("headings"), list) or \
            not isinstance(doc.get("data"), list):
        raise SyntaxParseError(source, "", "expected {\"headings\": [...], \"data\": [...]}",
                               "give the output of `ovs-vsctl --format=json list TABLE`")
    heads = [str(h) for h in doc["headings"]]
    rows = []
    for i, row in enumerate(doc["data"]):
        if not isinstance(row, list) or len(row) != len(heads):
            raise SyntaxParseError(source, f"row {i}", f"a row of {len(row) if isinstance(row, list) else '?'} "  # noqa: E501
                                   f"values for {len(heads)} columns",
                                   "give the unedited output of ovs-vsctl")
        rows.append({h: _datum(v, source, f"row {i}, column {h}")
                     for h, v in zip(heads, row, strict=True)})
    return tuple(rows)


def _atom_json(value: Any) -> Any:
    if isinstance(value, Uuid):
        return ["uuid", str(value)]
    return value


def _datum_json(value: Value) -> Any:
    if isinstance(value, dict):
        return ["map", [[_atom_json(k), _atom_json(v)] for k, v in value.items()]]
    if isinstance(value, list):
        if len(value) == 1:
            return _atom_json(value[0])
        return ["set", [_atom_json(a) for a in value]]
    return _atom_json(value)


def format_vsctl_json(columns: Sequence[str], rows: Sequence[dict[str, Value]]) -> str:
    """The ``ovs-vsctl --format=json list`` text of ``rows`` (a one-element list prints as the
    bare atom, as ovs-vsctl prints it, and reads back as that atom)."""
    return json.dumps({"data": [[_datum_json(r[c]) for c in columns] for r in rows],
                       "headings": list(columns)}, separators=(",", ":"))


def scalar(value: Value) -> Any:
    """An optional column's value: ``[]`` (unset) -> None, ``[x]`` -> x, else the value."""
    if isinstance(value, list):
        return value[0] if len(value) == 1 else None if not value else value
    return value


def as_list(value: Value) -> list[Any]:
    """A set column's value as a list (a bare atom is a set of one)."""
    if isinstance(value, list):
        return value
    return [value]
