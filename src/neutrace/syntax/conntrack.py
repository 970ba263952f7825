"""``conntrack -L [-o extended]`` output (layer 2): parser and formatter.

A line (``[ipv4 2] icmp 1 29 src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=7 [UNREPLIED]
src=10.0.0.2 dst=10.0.0.1 type=0 code=0 id=7 mark=0 zone=4098 use=1``) becomes a `CtLine`: the
protocol, the TCP state, the original and the reply tuples (their ``key=value`` fields in order),
the flags (``UNREPLIED``, ``ASSURED``...), ``mark`` and ``zone``. conntrack's closing summary
(``conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.``, which sos keeps since it
records stderr too) is not an entry and is skipped.

``parse_conntrack(format_conntrack(x)) == x``. Bad input raises
`neutrace.errors.SyntaxParseError` naming the source and the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from neutrace.errors import SyntaxParseError
from neutrace.syntax.text import as_int, cut

PROTO_NUMBERS = {"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58, "sctp": 132, "dccp": 33,
                 "udplite": 136, "gre": 47, "unknown": 0}
_TUPLE_KEYS = ("src", "dst", "sport", "dport", "type", "code", "id", "srckey", "dstkey")


@dataclass(frozen=True, slots=True)
class CtLine:
    """One connection as ``conntrack -L`` lists it. ``orig``/``reply`` hold the tuples'
    ``(key, value)`` fields in order; ``family`` is ``ipv4``/``ipv6`` (``""`` when the plain
    format left it out)."""

    proto: str
    proto_number: int
    timeout: int
    orig: tuple[tuple[str, str], ...]
    reply: tuple[tuple[str, str], ...]
    family: str = ""
    state: str = ""
    flags: tuple[str, ...] = ()
    mark: int = 0
    zone: int = 0
    use: int = 1

    def field(self, direction: str, key: str) -> str | None:
        """A field of the ``orig`` or ``reply`` tuple."""
        for k, v in (self.orig if direction == "orig" else self.reply):
            if k == key:
                return v
        return None


_SUMMARY = re.compile(r"^conntrack v[\d.]+ \(conntrack-tools\)")
_FLAG = re.compile(r"^\[([A-Z_]+)\]$")


def parse_conntrack(text: str, source: str = "<conntrack -L>") -> tuple[CtLine, ...]:
    """Every entry of ``conntrack -L`` or ``conntrack -L -o extended`` output."""
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or _SUMMARY.match(line):
            continue
        out.append(_line(line.split(), source, n))
    return tuple(out)


def _decimal(word: str) -> bool:
    """ASCII digits only (``str.isdigit`` also takes ``²``), at most 20 of them."""
    return word.isascii() and word.isdigit() and len(word) <= 20


def _line(words: list[str], source: str, n: int) -> CtLine:
    def bad(problem: str) -> SyntaxParseError:
        return SyntaxParseError(source, f"line {n}", problem,
                                "give the output of `conntrack -L [-o extended]`", n)

    family = ""
    if words and words[0] in ("ipv4", "ipv6"):
        if len(words) < 2 or not _decimal(words[1]):
            raise bad("expected the L3 protocol number after " + words[0])
        family, words = words[0], words[2:]
    if len(words) < 3 or not _decimal(words[1]) or not _decimal(words[2]):
        raise bad(f"expected `PROTO NUMBER TIMEOUT ...`, got {cut(' '.join(words[:3]))!r}")
    proto, number, timeout = words[0], int(words[1]), int(words[2])
    rest = words[3:]
    state = ""
    if rest and "=" not in rest[0] and not _FLAG.match(rest[0]):
        state, rest = rest[0], rest[1:]
    orig: list[tuple[str, str]] = []
    reply: list[tuple[str, str]] = []
    flags: list[str] = []
    extra: dict[str, str] = {}
    cur = orig
    for w in rest:
        fm = _FLAG.match(w)
        if fm:
            flags.append(fm.group(1))
            continue
        key, sep, value = w.partition("=")
        if not sep:
            raise bad(f"unexpected word {cut(w)!r}")
        if key in _TUPLE_KEYS:
            if key == "src" and cur is orig and orig:
                cur = reply
            elif key == "src" and cur is reply and reply:
                raise bad("a third tuple")
            cur.append((key, value))
        else:
            extra[key] = value
    if not orig or not reply:
        raise bad("an entry needs an original and a reply tuple (src=... dst=... twice)")
    where = f"line {n}"
    fix = "mark, zone and use must be numbers: give the output of `conntrack -L`"
    zone = as_int(extra.get("zone", extra.get("zone-orig", "0")), source, where, 0xFFFF, fix, n)
    mark_text = extra.get("mark", "0")
    if mark_text[:2] in ("0x", "0X") and len(mark_text) <= 10 and mark_text[2:].isascii() and \
            all(c in "0123456789abcdefABCDEF" for c in mark_text[2:]) and mark_text[2:]:
        mark = int(mark_text, 16)
    else:
        mark = as_int(mark_text, source, where, 0xFFFFFFFF, fix, n)
    use = as_int(extra.get("use", "1"), source, where, 0xFFFFFFFF, fix, n)
    return CtLine(proto, number, timeout, tuple(orig), tuple(reply), family, state,
                  tuple(flags), mark, zone, use)


def format_conntrack(lines: tuple[CtLine, ...]) -> str:
    """``conntrack -L -o extended`` text of ``lines``; ASSURED prints after the reply tuple,
    every other flag (UNREPLIED) before it, as conntrack prints them."""
    out = []
    for c in lines:
        parts: list[str] = []
        if c.family:
            parts += [c.family, "2" if c.family == "ipv4" else "10"]
        parts += [c.proto, str(c.proto_number), str(c.timeout)]
        if c.state:
            parts.append(c.state)
        parts += [f"{k}={v}" for k, v in c.orig]
        parts += [f"[{f}]" for f in c.flags if f != "ASSURED"]
        parts += [f"{k}={v}" for k, v in c.reply]
        parts += [f"[{f}]" for f in c.flags if f == "ASSURED"]
        parts.append(f"mark={c.mark}")
        if c.zone:
            parts.append(f"zone={c.zone}")
        parts.append(f"use={c.use}")
        out.append(" ".join(parts))
    return "\n".join(out) + ("\n" if out else "")
