"""A reachability matrix in words (layer 3): ``neutrace reach``'s table, CSV and JSON.

One row per (source, destination) pair: whether a copy reached the destination, and for a pair
that did not, the disposition that decides it (a security group's denial first, else the first
copy that ended otherwise) with its reason.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Protocol

from neutrace.render.fates import fate_reason
from neutrace.trace import DENIED, Disposition


class Pair(Protocol):
    """What a row needs (``neutrace.app.reach.PairResult``)."""

    @property
    def source(self) -> str: ...
    @property
    def destination(self) -> str: ...
    @property
    def ip(self) -> str: ...
    @property
    def reached(self) -> bool: ...
    @property
    def dispositions(self) -> tuple[Disposition, ...]: ...


def why(pair: Pair) -> tuple[str, str]:
    """(disposition kind, reason) of a pair that did not reach; ("", "") of one that did."""
    if pair.reached or not pair.dispositions:
        return ("", "") if pair.reached else ("none", "no copy left the source")
    denied = [d for d in pair.dispositions if d.kind == DENIED]
    d = denied[0] if denied else next((d for d in pair.dispositions if not d.success),
                                      pair.dispositions[0])
    where = " ".join(x for x in (d.host, d.element) if x)
    return str(d.kind), f"{fate_reason(d)} (at {where})" if where else fate_reason(d)


def _rows(pairs: Sequence[Pair]) -> list[tuple[str, str, str, str, str, str]]:
    return [(p.source, p.destination, p.ip, "yes" if p.reached else "no", *why(p))
            for p in pairs]


HEADER = ("from", "to", "ip", "reached", "disposition", "reason")


def reach_table(pairs: Sequence[Pair]) -> str:
    """Aligned columns, one pair a line, and a count of the pairs that reached."""
    rows = [HEADER, *_rows(pairs)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER) - 1)]
    lines = ["  ".join([c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)] + [r[-1]])
             .rstrip() for r in rows]
    ok = sum(1 for p in pairs if p.reached)
    lines.append(f"{ok} of {len(pairs)} pairs reached")
    return "\n".join(lines) + "\n"


def reach_csv(pairs: Sequence[Pair]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(_rows(pairs))
    return out.getvalue()


def reach_json(pairs: Sequence[Pair]) -> str:
    rows = [dict(zip(HEADER, r, strict=True)) for r in _rows(pairs)]
    for row, p in zip(rows, pairs, strict=True):
        row["reached"] = p.reached  # type: ignore[assignment]
    return json.dumps({"pairs": rows, "reached": sum(1 for p in pairs if p.reached),
                       "total": len(pairs)}, indent=2) + "\n"
