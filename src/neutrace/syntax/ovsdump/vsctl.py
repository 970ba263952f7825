"""``ovs-vsctl show`` ⇄ `VsctlShow` (bridges, ports with tag/trunks, interfaces with type and
options such as ``peer``/``remote_ip``/``local_ip``/``in_key``/``out_key``), and
``ovs-vsctl list TABLE`` → one dict per record."""

from __future__ import annotations

import re
from dataclasses import dataclass

from neutrace.errors import SyntaxParseError
from neutrace.syntax.ovsdump.values import (
    format_smap,
    parse_smap,
    qstr,
    quote,
    split_top,
    unquote,
)
from neutrace.syntax.text import cut
from neutrace.syntax.text import lines as text_lines


@dataclass(frozen=True, slots=True)
class ShowInterface:
    name: str
    type: str = ""
    options: tuple[tuple[str, str], ...] = ()
    other: tuple[tuple[str, str], ...] = ()  # other "key: value" lines (error, link_state...)


@dataclass(frozen=True, slots=True)
class ShowPort:
    name: str
    tag: int | None = None
    trunks: tuple[int, ...] = ()
    interfaces: tuple[ShowInterface, ...] = ()
    other: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ShowController:
    target: str
    other: tuple[tuple[str, str], ...] = ()  # is_connected, role...


@dataclass(frozen=True, slots=True)
class ShowBridge:
    name: str
    controllers: tuple[ShowController, ...] = ()
    fail_mode: str | None = None
    datapath_type: str | None = None
    ports: tuple[ShowPort, ...] = ()
    other: tuple[tuple[str, str], ...] = ()

    def port(self, name: str) -> ShowPort | None:
        return next((p for p in self.ports if p.name == name), None)


@dataclass(frozen=True, slots=True)
class VsctlShow:
    uuid: str
    bridges: tuple[ShowBridge, ...] = ()
    managers: tuple[ShowController, ...] = ()
    ovs_version: str | None = None

    def bridge(self, name: str) -> ShowBridge | None:
        return next((b for b in self.bridges if b.name == name), None)


_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def parse_vsctl_show(text: str, source: str = "<ovs-vsctl show>") -> VsctlShow:
    """Parse the output of ``ovs-vsctl show``."""
    uuid = ""
    bridges: list[ShowBridge] = []
    managers: list[ShowController] = []
    version: str | None = None
    br: dict[str, object] | None = None
    port: dict[str, object] | None = None
    iface: dict[str, object] | None = None
    ctrl: dict[str, object] | None = None
    ports: list[ShowPort] = []
    ifaces: list[ShowInterface] = []
    ctrls: list[ShowController] = []

    def close_iface() -> None:
        nonlocal iface
        if iface is not None:
            ifaces.append(ShowInterface(**iface))  # type: ignore[arg-type]
            iface = None

    def close_port() -> None:
        nonlocal port, ifaces
        close_iface()
        if port is not None:
            ports.append(ShowPort(interfaces=tuple(ifaces), **port))  # type: ignore[arg-type]
            port = None
            ifaces = []

    def close_ctrl() -> None:
        nonlocal ctrl
        if ctrl is not None:
            target = ctrls if br is not None else managers
            target.append(ShowController(**ctrl))  # type: ignore[arg-type]
            ctrl = None

    def close_bridge() -> None:
        nonlocal br, ports, ctrls
        close_port()
        close_ctrl()
        if br is not None:
            bridges.append(
                ShowBridge(ports=tuple(ports), controllers=tuple(ctrls), **br)  # type: ignore[arg-type]
            )
            br = None
            ports = []
            ctrls = []

    for lineno, raw in enumerate(text_lines(text, source), 1):
        if not raw.strip():
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        line = raw.strip()

        def bad(problem: str, fix: str = "give the unmodified output of `ovs-vsctl show`",
                _n: int = lineno) -> SyntaxParseError:
            return SyntaxParseError(source, f"line {_n}", problem, fix, _n)

        try:
            if indent == 0:
                if not _UUID_RE.match(line) or uuid:
                    raise bad(f"expected the Open_vSwitch UUID line, got {cut(line)!r}")
                uuid = line
            elif indent == 4:
                close_bridge()
                close_ctrl()
                word, _, rest = line.partition(" ")
                if word == "Bridge":
                    br = {"name": unquote(rest), "other": ()}
                elif word == "Manager":
                    ctrl = {"target": unquote(rest), "other": ()}
                elif line.startswith("ovs_version:"):
                    version = unquote(line.partition(":")[2])
                else:
                    raise bad(f"unexpected top-level line {cut(line)!r}",
                              "expected Bridge, Manager or ovs_version")
            elif indent == 8:
                if ctrl is not None and br is None:
                    k, _, v = line.partition(":")
                    ctrl["other"] = (*ctrl["other"], (k.strip(), v.strip()))  # type: ignore[misc]
                    continue
                if br is None:
                    raise bad(f"{cut(line)!r} is outside any Bridge")
                close_port()
                close_ctrl()
                word, _, rest = line.partition(" ")
                if word == "Port":
                    port = {"name": unquote(rest), "other": ()}
                elif word == "Controller":
                    ctrl = {"target": unquote(rest), "other": ()}
                elif ":" in line:
                    k, _, v = line.partition(":")
                    k, v = k.strip(), v.strip()
                    if k == "fail_mode":
                        br["fail_mode"] = v
                    elif k == "datapath_type":
                        br["datapath_type"] = v
                    else:
                        br["other"] = (*br["other"], (k, v))  # type: ignore[misc]
                else:
                    raise bad(f"unexpected bridge line {cut(line)!r}")
            elif indent == 12:
                if ctrl is not None:
                    k, _, v = line.partition(":")
                    ctrl["other"] = (*ctrl["other"], (k.strip(), v.strip()))  # type: ignore[misc]
                    continue
                if port is None:
                    raise bad(f"{cut(line)!r} is outside any Port")
                close_iface()
                word, _, rest = line.partition(" ")
                if word == "Interface":
                    iface = {"name": unquote(rest), "other": ()}
                elif ":" in line:
                    k, _, v = line.partition(":")
                    k, v = k.strip(), v.strip()
                    if k == "tag":
                        port["tag"] = _vlan(v)
                    elif k == "trunks":
                        inner = v.strip("[]").strip()
                        port["trunks"] = tuple(_vlan(x) for x in inner.split(",")) if inner else ()
                    else:
                        port["other"] = (*port["other"], (k, v))  # type: ignore[misc]
                else:
                    raise bad(f"unexpected port line {cut(line)!r}")
            elif indent == 16:
                if iface is None:
                    raise bad(f"{cut(line)!r} is outside any Interface")
                k, sep, v = line.partition(":")
                if not sep:
                    raise bad(f"expected 'key: value', got {cut(line)!r}")
                k, v = k.strip(), v.strip()
                if k == "type":
                    iface["type"] = v
                elif k == "options":
                    iface["options"] = parse_smap(v)
                else:
                    iface["other"] = (*iface["other"], (k, v))  # type: ignore[misc]
            else:
                raise bad(f"unexpected indentation ({indent} spaces)",
                          "ovs-vsctl show indents by 4 spaces per level; do not re-indent it")
        except ValueError as exc:
            raise bad(str(exc)) from exc
    close_bridge()
    close_ctrl()
    if not uuid:
        raise SyntaxParseError(source, "line 1", "no Open_vSwitch UUID line: this is not the "
                               "output of `ovs-vsctl show`", "give the output of `ovs-vsctl show`")
    return VsctlShow(uuid=uuid, bridges=tuple(bridges), managers=tuple(managers),
                     ovs_version=version)


def _vlan(text: str) -> int:
    """A VLAN id of ``tag:``/``trunks:`` (decimal 0..4095)."""
    t = text.strip()
    if not (t.isascii() and t.isdigit()) or len(t) > 4 or int(t) > 4095:
        raise ValueError(f"VLAN {cut(t)!r} is not a number in 0..4095")
    return int(t)


def format_vsctl_show(show: VsctlShow) -> str:
    """The text of ``ovs-vsctl show`` for ``show`` (parse_vsctl_show(format(x)) == x)."""
    out = [show.uuid]

    def ctrl_lines(word: str, c: ShowController, indent: int) -> None:
        out.append(" " * indent + f"{word} {qstr(c.target)}")
        out.extend(" " * (indent + 4) + f"{k}: {v}" for k, v in c.other)

    for m in show.managers:
        ctrl_lines("Manager", m, 4)
    for b in show.bridges:
        out.append(f"    Bridge {quote(b.name)}")
        for c in b.controllers:
            ctrl_lines("Controller", c, 8)
        if b.fail_mode is not None:
            out.append(f"        fail_mode: {b.fail_mode}")
        if b.datapath_type is not None:
            out.append(f"        datapath_type: {b.datapath_type}")
        out.extend(f"        {k}: {v}" for k, v in b.other)
        for p in b.ports:
            out.append(f"        Port {quote(p.name)}")
            if p.tag is not None:
                out.append(f"            tag: {p.tag}")
            if p.trunks:
                out.append(f"            trunks: [{', '.join(map(str, p.trunks))}]")
            out.extend(f"            {k}: {v}" for k, v in p.other)
            for i in p.interfaces:
                out.append(f"            Interface {quote(i.name)}")
                if i.type:
                    out.append(f"                type: {i.type}")
                if i.options:
                    out.append(f"                options: {format_smap(i.options)}")
                out.extend(f"                {k}: {v}" for k, v in i.other)
    if show.ovs_version is not None:
        out.append(f"    ovs_version: {qstr(show.ovs_version)}")
    return "\n".join(out) + "\n"


# ovs-vsctl list TABLE


def _parse_value(text: str) -> object:
    """An ovsdb value as ``ovs-vsctl list`` prints it: a map, a set, a string or a number."""
    text = text.strip()
    if text.startswith("{"):
        return dict(parse_smap(text))
    if text.startswith("["):
        inner = text[1:-1].strip()
        return [unquote(x) for x in split_top(inner)] if inner else []
    return unquote(text)


def parse_vsctl_list(text: str, source: str = "<ovs-vsctl list>") -> tuple[dict[str, object], ...]:
    """Parse ``ovs-vsctl list TABLE``: one dict per record (``name``, ``ofport``, ``type``,
    ``options``, ``external_ids``... with maps as dicts and sets as lists)."""
    records: list[dict[str, object]] = []
    cur: dict[str, object] = {}
    for lineno, line in enumerate(text_lines(text, source), 1):
        if not line.strip():
            if cur:
                records.append(cur)
                cur = {}
            continue
        key, sep, value = line.partition(":")
        if not sep or " " in key.strip():
            raise SyntaxParseError(source, f"line {lineno}", f"expected 'column : value', got "
                                   f"{cut(line.strip())!r}", "give the output of `ovs-vsctl list "
                                   "TABLE`", lineno)
        try:
            cur[key.strip()] = _parse_value(value)
        except ValueError as exc:
            raise SyntaxParseError(source, f"line {lineno}", str(exc),
                                   "give the output of `ovs-vsctl list TABLE`", lineno) from exc
    if cur:
        records.append(cur)
    return tuple(records)
