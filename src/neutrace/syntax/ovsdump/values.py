"""Values as Open vSwitch's tools print them (layer 2): bare or JSON-quoted strings, top-level
splitting that respects quotes and brackets, string maps (``{a=b, c="d e"}``), and OFPP_LOCAL."""

from __future__ import annotations

import json
import re

from neutrace.syntax.text import cut

OFPP_LOCAL = 65534


def unquote(text: str) -> str:
    """A value as ovs-vsctl prints it: bare, or a JSON string (``"a \\"b\\""``); raises
    ValueError for a quoted one whose escapes are broken."""
    text = text.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        try:
            value = json.loads(text, strict=False)
        except ValueError:
            raise ValueError(f"bad quoting in {cut(text)}") from None
        if not isinstance(value, str):
            raise ValueError(f"bad quoting in {cut(text)}")
        return value
    return text


_BARE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-:]*$")


def qstr(text: str) -> str:
    """``text`` as a JSON string, the way ovsdb quotes strings."""
    return json.dumps(text, ensure_ascii=False)


def quote(text: str) -> str:
    """Quote like ovs-vsctl: bare when it is an identifier-like word, JSON-quoted otherwise."""
    if _BARE_RE.match(text) and text not in ("true", "false"):
        return text
    return qstr(text)


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside parentheses, brackets, braces and double-quoted strings."""
    out: list[str] = []
    depth = 0
    start = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            out.append(text[start:i])
            start = i + 1
        i += 1
    if start < n or out:
        out.append(text[start:])
    return [x.strip() for x in out]


def parse_smap(text: str) -> tuple[tuple[str, str], ...]:
    """``{in_key=flow, local_ip="192.168.120.21"}`` -> sorted ``(key, value)`` pairs."""
    text = text.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError(f"expected a {{key=value, ...}} map, got {cut(text)!r}")
    body = text[1:-1].strip()
    pairs: list[tuple[str, str]] = []
    if body:
        for item in split_top(body):
            k, sep, v = partition_unquoted(item, "=")
            if not sep:
                raise ValueError(f"map entry {cut(item)!r} has no '='")
            pairs.append((unquote(k), unquote(v)))
    return tuple(sorted(pairs))


def partition_unquoted(text: str, sep: str) -> tuple[str, str, str]:
    """``str.partition`` at the first ``sep`` outside a double-quoted string."""
    i, n = 0, len(text)
    while i < n:
        if text[i] == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif text[i] == sep:
            return text[:i], sep, text[i + 1:]
        i += 1
    return text, "", ""


def format_smap(pairs: tuple[tuple[str, str], ...]) -> str:
    return "{" + ", ".join(f"{quote(k)}={quote(v)}" for k, v in pairs) + "}"
