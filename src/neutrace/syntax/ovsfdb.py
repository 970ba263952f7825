"""``ovs-appctl fdb/show BRIDGE`` (layer 2): the MAC learning table that the NORMAL action keeps
per bridge, parser and formatter.

::

     port  VLAN  MAC                Age
        5     3  fa:16:3e:00:00:01    0
    LOCAL     0  02:00:00:00:00:01  static

``port`` is an OpenFlow port number (``LOCAL`` for 65534), ``Age`` seconds or ``static``.
``parse_fdb_show(format_fdb_show(x)) == x``. Bad input raises
`neutrace.errors.SyntaxParseError` naming the source and the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from neutrace.errors import SyntaxParseError

OFPP_LOCAL = 65534


@dataclass(frozen=True, slots=True)
class MacEntry:
    """A learned (or static) MAC: on OpenFlow port ``port`` in VLAN ``vlan``; ``age`` in seconds,
    None for a static entry."""

    port: int
    vlan: int
    mac: str
    age: int | None = 0


_HEADER = re.compile(r"^\s*port\s+VLAN\s+MAC\s+Age\s*$")
_ROW = re.compile(r"^ *(?P<port>[0-9]{1,5}|LOCAL) +(?P<vlan>[0-9]{1,4}) +"
                  r"(?P<mac>[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}) +(?P<age>[0-9]{1,10}|static) *$")


def parse_fdb_show(text: str, source: str = "<ovs-appctl fdb/show>") -> tuple[MacEntry, ...]:
    """Every entry of an ``ovs-appctl fdb/show`` table."""
    out = []
    seen_header = False
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        if _HEADER.match(raw):
            seen_header = True
            continue
        m = _ROW.match(raw)
        if m is None:
            raise SyntaxParseError(source, f"line {n}",
                                   f"not an fdb/show row: {raw.strip()[:60]!r}",
                                   "give the output of `ovs-appctl fdb/show BRIDGE`", n)
        port = OFPP_LOCAL if m.group("port") == "LOCAL" else int(m.group("port"))
        age = None if m.group("age") == "static" else int(m.group("age"))
        out.append(MacEntry(port, int(m.group("vlan")), m.group("mac").lower(), age))
    if out and not seen_header:
        raise SyntaxParseError(source, "line 1", "no ` port  VLAN  MAC  Age` header",
                               "give the output of `ovs-appctl fdb/show BRIDGE`", 1)
    return tuple(out)


def format_fdb_show(entries: tuple[MacEntry, ...]) -> str:
    """The ``ovs-appctl fdb/show`` text of ``entries``."""
    out = [" port  VLAN  MAC                Age"]
    for e in entries:
        port = "LOCAL" if e.port == OFPP_LOCAL else str(e.port)
        age = "static" if e.age is None else str(e.age)
        out.append(f"{port:>5}  {e.vlan:>4}  {e.mac}  {age:>3}")
    return "\n".join(out) + "\n"
