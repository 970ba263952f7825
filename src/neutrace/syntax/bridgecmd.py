"""iproute2's ``bridge`` output (layer 2): the Linux bridges' forwarding databases and ports.

- ``bridge [-d] -j fdb show`` and the text of ``bridge [-s -s -d -t] fdb show`` ⇄ `FdbEntry`
  (MAC, device, the bridge it is ``master`` of, VLAN, ``self``/``permanent``/``static``...);
- ``bridge [-d] -j link show`` and ``bridge [-s -s -d] link show`` → `BridgePort` (a bridge
  port: its bridge and STP state).

``parse(format(x)) == x`` for the text and JSON formatters. Bad input raises
`neutrace.errors.SyntaxParseError` naming the source and the line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from neutrace.errors import SyntaxParseError
from neutrace.syntax.text import as_int, load_json


@dataclass(frozen=True, slots=True)
class FdbEntry:
    """One forwarding-database entry. ``master`` is the bridge whose FDB holds it (None for the
    device's own ``self`` entries); ``state`` is ``""`` for a learned entry, else ``permanent``
    or ``static``."""

    mac: str
    dev: str
    master: str | None = None
    vlan: int | None = None
    flags: tuple[str, ...] = ()
    state: str = ""

    @property
    def learned(self) -> bool:
        """A dynamically learned entry of a bridge (what a cold start would not have)."""
        return self.master is not None and "self" not in self.flags and self.state == ""


@dataclass(frozen=True, slots=True)
class BridgePort:
    """A port of a Linux bridge."""

    ifname: str
    master: str
    state: str = "forwarding"
    ifindex: int = 0


def _load(text: str, source: str, what: str) -> list[dict[str, Any]]:
    data = load_json(text, source, what) if text.strip() else []
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise SyntaxParseError(source, "", "expected a JSON list of objects",
                               f"give the output of `{what}`")
    return data


def parse_fdb_json(text: str, source: str = "<bridge -j fdb show>") -> tuple[FdbEntry, ...]:
    """``bridge [-d] -j fdb show``."""
    out = []
    for i, e in enumerate(_load(text, source, "bridge -j fdb show")):
        if "mac" not in e or "ifname" not in e:
            raise SyntaxParseError(source, f"entry {i}", "an fdb entry without mac/ifname",
                                   "give the output of `bridge -j fdb show`")
        vlan = e.get("vlan")
        out.append(FdbEntry(str(e["mac"]).lower(), str(e["ifname"]), e.get("master"),
                            as_int(vlan, source, f"entry {i}", 4095)
                            if vlan is not None else None,
                            tuple(str(f) for f in e.get("flags", ())), str(e.get("state", ""))))
    return tuple(out)


def format_fdb_json(entries: tuple[FdbEntry, ...]) -> str:
    """The ``bridge -j fdb show`` JSON of ``entries``."""
    out = []
    for e in entries:
        d: dict[str, Any] = {"mac": e.mac, "ifname": e.dev}
        if e.vlan is not None:
            d["vlan"] = e.vlan
        d["flags"] = list(e.flags)
        if e.master is not None:
            d["master"] = e.master
        d["state"] = e.state
        out.append(d)
    return json.dumps(out)


def _kv(words: list[str], key: str) -> str | None:
    return words[words.index(key) + 1] if key in words[:-1] else None


_FDB_FLAGS = ("self", "master", "router", "offload", "extern_learn", "sticky", "use")
_FDB_STATES = ("permanent", "static", "stale")
_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


def parse_fdb_text(text: str, source: str = "<bridge fdb show>") -> tuple[FdbEntry, ...]:
    """``bridge [-s -s -d -t] fdb show`` text: ``MAC dev DEV [vlan N] [used a/b] [master BR]
    [self] [permanent|static]``."""
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        words = raw.split()
        if not words:
            continue
        if not _MAC.match(words[0]) or "dev" not in words:
            raise SyntaxParseError(source, f"line {n}",
                                   f"not a `bridge fdb` line: {raw.strip()[:60]!r}",
                                   "give the output of `bridge fdb show`", n)
        vlan = _kv(words, "vlan")
        flags = tuple(w for w in words[1:] if w in _FDB_FLAGS and w != "master")
        state = next((w for w in words[1:] if w in _FDB_STATES), "")
        dev = _kv(words, "dev") or ""
        out.append(FdbEntry(words[0].lower(), dev, _kv(words, "master"),
                            as_int(vlan, source, f"line {n}", 4095) if vlan else None, flags,
                            state))
    return tuple(out)


def format_fdb_text(entries: tuple[FdbEntry, ...]) -> str:
    """``bridge fdb show`` text of ``entries``."""
    out = []
    for e in entries:
        parts = [e.mac, "dev", e.dev]
        if e.vlan is not None:
            parts += ["vlan", str(e.vlan)]
        if e.master is not None:
            parts += ["master", e.master]
        parts += list(e.flags)
        if e.state:
            parts.append(e.state)
        out.append(" ".join(parts))
    return "\n".join(out) + ("\n" if out else "")


def parse_bridge_links_json(text: str, source: str = "<bridge -j link show>"
                            ) -> tuple[BridgePort, ...]:
    """``bridge [-d] -j link show``."""
    out = []
    for i, e in enumerate(_load(text, source, "bridge -j link show")):
        if "ifname" not in e or "master" not in e:
            raise SyntaxParseError(source, f"entry {i}", "a bridge port without ifname/master",
                                   "give the output of `bridge -j link show`")
        out.append(BridgePort(str(e["ifname"]), str(e["master"]), str(e.get("state", "")),
                              as_int(e.get("ifindex", 0), source, f"entry {i}", 0xFFFFFFFF)))
    return tuple(out)


_LINK = re.compile(
    r"^(?P<index>[0-9]{1,10}):\s+(?P<name>[^:@\s]+)(?:@\S+)?:\s+<[^>]*>(?P<rest>.*)$")


def parse_bridge_links_text(text: str, source: str = "<bridge link show>"
                            ) -> tuple[BridgePort, ...]:
    """``bridge [-s -s -d] link show`` text (port lines; the detail lines are skipped)."""
    out = []
    for raw in text.splitlines():
        m = _LINK.match(raw)
        if not m:
            continue
        words = m.group("rest").split()
        master = words[words.index("master") + 1] if "master" in words[:-1] else None
        state = words[words.index("state") + 1] if "state" in words[:-1] else ""
        if master is not None:
            out.append(BridgePort(m.group("name"), master, state, int(m.group("index"))))
    return tuple(out)


def format_bridge_links_json(ports: tuple[BridgePort, ...]) -> str:
    """The ``bridge -j link show`` JSON of ``ports``."""
    return json.dumps([{"ifindex": p.ifindex, "ifname": p.ifname, "master": p.master,
                        "state": p.state} for p in ports])


def format_bridge_links_text(ports: tuple[BridgePort, ...]) -> str:
    """``bridge link show`` text of ``ports``."""
    return "".join(f"{p.ifindex}: {p.ifname}: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 "
                   f"master {p.master} state {p.state} priority 32 cost 2 \n" for p in ports)
