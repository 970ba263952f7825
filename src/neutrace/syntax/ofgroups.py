"""``ovs-ofctl [-O OpenFlow1x] dump-groups BRIDGE`` (layer 2): the group table, parser and
formatter.

::

    OFPST_GROUP_DESC reply (OF1.3) (xid=0x2):
     group_id=1,type=all,bucket=actions=output:5,bucket=actions=output:6

A `Group` keeps its id, type and each bucket's text (``actions=...`` with any
``weight``/``watch_port``) verbatim. ``parse_groups(format_groups(x)) == x``. Bad input raises
`neutrace.errors.SyntaxParseError` naming the source and the line.
"""

from __future__ import annotations

import re

from neutrace.dataplane import OvsGroup
from neutrace.errors import SyntaxParseError

Group = OvsGroup  # one OpenFlow group: ``type`` is all, select, indirect or ff (fast failover)


_REPLY = re.compile(r"^(OFPST_GROUP_DESC|NXST_GROUP_DESC|OFPST11_GROUP_DESC) reply")


def parse_groups(text: str, source: str = "<ovs-ofctl dump-groups>") -> tuple[Group, ...]:
    """Every group of an ``ovs-ofctl dump-groups`` reply."""
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or _REPLY.match(line):
            continue
        if not line.startswith("group_id="):
            raise SyntaxParseError(source, f"line {n}", f"not a group: {line[:60]!r}",
                                   "give the output of `ovs-ofctl -O OpenFlow13 dump-groups "
                                   "BRIDGE`", n)
        head, *buckets = line.split(",bucket=")
        fields = head.split(",")
        gid = fields[0].partition("=")[2]
        gtype = next((f.partition("=")[2] for f in fields[1:] if f.startswith("type=")), "")
        props = tuple(f for f in fields[1:] if not f.startswith("type="))
        if not (gid.isascii() and gid.isdigit() and len(gid) <= 10) or not gtype:
            raise SyntaxParseError(source, f"line {n}", "a group needs group_id=N and type=T",
                                   "give the unedited output of ovs-ofctl dump-groups", n)
        out.append(Group(int(gid), gtype, tuple(buckets), props))
    return tuple(out)


def format_groups(groups: tuple[Group, ...], version: str = "OF1.3") -> str:
    """The ``ovs-ofctl dump-groups`` text of ``groups``."""
    out = [f"OFPST_GROUP_DESC reply ({version}) (xid=0x2):"]
    for g in groups:
        head = ",".join([f"group_id={g.group_id}", f"type={g.type}", *g.properties])
        out.append(" " + head + "".join(f",bucket={b}" for b in g.buckets))
    return "\n".join(out) + "\n"
