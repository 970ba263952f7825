"""The ``Datapath actions`` list → `DatapathAction`s, and `datapath_outputs`, which applies them
to a packet to find which datapath port got which copy with which headers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from neutrace.addr import norm_mac
from neutrace.errors import SyntaxParseError
from neutrace.packet import VLAN_CFI, Packet
from neutrace.syntax.offields import FieldValueError, ipv4_to_int, ipv6_to_int, read_uint
from neutrace.syntax.ovsdump.values import split_top
from neutrace.syntax.text import cut


@dataclass(frozen=True, slots=True)
class DatapathAction:
    """One datapath action: ``name`` (``output`` for a bare port number, ``drop``, ``push_vlan``,
    ``pop_vlan``, ``set``, ``ct``, ``recirc``, ``clone``, ``userspace``...) and its argument
    text."""

    name: str
    arg: str = ""
    port: int | None = None
    nested: tuple[DatapathAction, ...] = field(default=())


def parse_datapath_actions(
    text: str, source: str = "<datapath actions>"
) -> tuple[DatapathAction, ...]:
    """The actions of a ``Datapath actions:`` line (``drop`` and ``""`` are none)."""
    out: list[DatapathAction] = []
    text = text.strip()
    if not text or text == "drop":
        return ()
    for item in split_top(text):
        if item.isascii() and item.isdigit():
            if len(item) > 10:
                raise SyntaxParseError(source, f"action {cut(item)!r}", "the datapath port "
                                       "number is too large", "give the whole 'Datapath "
                                       "actions:' line as OVS printed it")
            out.append(DatapathAction("output", item, port=int(item)))
            continue
        name, paren, rest = item.partition("(")
        arg = rest[:-1] if paren and rest.endswith(")") else rest
        if paren and not rest.endswith(")") or item.count("(") != item.count(")"):
            raise SyntaxParseError(source, f"action {cut(item)!r}", "unbalanced parentheses",
                                   "give the whole 'Datapath actions:' line")
        nested: tuple[DatapathAction, ...] = ()
        if name == "clone":
            nested = parse_datapath_actions(arg, source)
        out.append(DatapathAction(name, arg, nested=nested))
    return tuple(out)


def _kv(arg: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in split_top(arg):
        k, _, v = item.partition("=")
        out[k.strip()] = v.strip()
    return out


def _masked(value: str) -> str:
    return value.split("/")[0]


class _Bad(ValueError):
    """A datapath action's argument that cannot be applied (turned into SyntaxParseError)."""


def _num(kv: dict[str, str], key: str, maximum: int) -> int:
    """``kv[key]`` (a number as OVS prints it, mask dropped) within ``0..maximum``."""
    text = _masked(kv[key])
    try:
        value = read_uint(text)
    except FieldValueError:
        raise _Bad(f"{key}={cut(text)!r} is not a number") from None
    if value > maximum:
        raise _Bad(f"{key}={cut(text)!r} is past {maximum}")
    return value


def _addr(kv: dict[str, str], key: str, kind: str) -> str:
    """``kv[key]`` (mask dropped) checked as a ``mac``, ``ipv4`` or ``ipv6`` address."""
    text = _masked(kv[key])
    try:
        if kind == "mac":
            return norm_mac(text)
        (ipv4_to_int if kind == "ipv4" else ipv6_to_int)(text)
    except (ValueError, FieldValueError):
        raise _Bad(f"{key}={cut(text)!r} is not an {kind.upper()} address") from None
    return text


def _apply_set(packet: Packet, arg: str) -> Packet:
    """Apply ``set(eth(...))``/``set(ipv4(...))``/... (``masked_set`` too) to ``packet``."""
    name, _, rest = arg.partition("(")
    kv = _kv(rest[:-1] if rest.endswith(")") else rest)
    ch: dict[str, object] = {}
    if name == "eth":
        if "src" in kv:
            ch["dl_src"] = _addr(kv, "src", "mac")
        if "dst" in kv:
            ch["dl_dst"] = _addr(kv, "dst", "mac")
    elif name == "ipv4":
        for k, attr in (("src", "nw_src"), ("dst", "nw_dst")):
            if k in kv:
                ch[attr] = _addr(kv, k, "ipv4")
        if "ttl" in kv:
            ch["nw_ttl"] = _num(kv, "ttl", 0xFF)
        if "tos" in kv:
            ch["nw_tos"] = _num(kv, "tos", 0xFF) & 0xFC
    elif name == "ipv6":
        for k, attr in (("src", "ipv6_src"), ("dst", "ipv6_dst")):
            if k in kv:
                ch[attr] = _addr(kv, k, "ipv6")
    elif name == "arp":
        for k, attr in (("sip", "arp_spa"), ("tip", "arp_tpa")):
            if k in kv:
                ch[attr] = _addr(kv, k, "ipv4")
        for k, attr in (("sha", "arp_sha"), ("tha", "arp_tha")):
            if k in kv:
                ch[attr] = _addr(kv, k, "mac")
        if "op" in kv:
            ch["arp_op"] = _num(kv, "op", 0xFFFF)
    elif name in ("tcp", "udp"):
        if "src" in kv:
            ch["tp_src"] = _num(kv, "src", 0xFFFF)
        if "dst" in kv:
            ch["tp_dst"] = _num(kv, "dst", 0xFFFF)
    elif name == "tunnel":
        if "tun_id" in kv:
            ch["tun_id"] = _num(kv, "tun_id", (1 << 64) - 1)
        if "src" in kv:
            ch["tun_src"] = _addr(kv, "src", "ipv4")
        if "dst" in kv:
            ch["tun_dst"] = _addr(kv, "dst", "ipv4")
    return replace(packet, **ch) if ch else packet  # type: ignore[arg-type]


def datapath_outputs(
    actions: tuple[DatapathAction, ...], packet: Packet, source: str = "<datapath actions>"
) -> tuple[tuple[int, Packet], ...]:
    """Each datapath port that gets a copy and the copy's headers, applying the actions in order
    to ``packet`` (the packet as it entered). ct()/recirc() end the pass (the recirculation is
    traced as a pass of its own). An argument that cannot be applied (``push_vlan(vid)``,
    ``set(arp(sha))``) is a `SyntaxParseError`."""
    out: list[tuple[int, Packet]] = []
    p = packet
    inner: list[int] = []  # the tags under the outer one (a Packet shows the outer tag)
    for a in actions:
        try:
            if a.name == "output" and a.port is not None:
                out.append((a.port, p))
            elif a.name == "push_vlan":
                kv = _kv(a.arg)
                vid = _num(kv, "vid", 0xFFF) if "vid" in kv else 0
                pcp = _num(kv, "pcp", 7) if "pcp" in kv else 0
                if p.vlan_tci & VLAN_CFI:
                    inner.append(p.vlan_tci)
                p = replace(p, vlan_tci=VLAN_CFI | vid | (pcp << 13))
            elif a.name == "pop_vlan":
                p = replace(p, vlan_tci=inner.pop() if inner else 0)
            elif a.name in ("set", "masked_set"):
                p = _apply_set(p, a.arg)
            elif a.name == "clone":
                out.extend(datapath_outputs(a.nested, p, source))
            elif a.name == "tnl_push":
                # userspace tunnelling: the copy leaves through the tunnel port (tnl_port) with
                # the header's tunnel metadata; what follows handles the outer packet (br-phy's
                # way out)
                port, pkt = tnl_push_output(a.arg, p)
                out.append((port, pkt))
                break
        except _Bad as exc:
            raise SyntaxParseError(source, f"action {cut(a.name)}({cut(a.arg)})", str(exc),
                                   "give the 'Datapath actions:' line as OVS printed it") from None
    return tuple(out)


_TNL_PORT_RE = re.compile(r"^tnl_port\(([0-9]{1,10})\)")
_TNL_IPV4_RE = re.compile(r"ipv4\(src=([0-9.]{1,15}),dst=([0-9.]{1,15})")
_TNL_VNI_RE = re.compile(r"vni=(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})")


def tnl_push_output(arg: str, packet: Packet) -> tuple[int, Packet]:
    """The tunnel port (datapath number) and the inner ``packet`` with ``tun_id``/``tun_src``/
    ``tun_dst`` from a ``tnl_push(tnl_port(N),header(...),out_port(M))`` action's argument."""
    m = _TNL_PORT_RE.match(arg.strip())
    if m is None:
        raise SyntaxParseError("<datapath actions>", f"tnl_push({arg[:40]}...)",
                               "no tnl_port(N)", "give the whole 'Datapath actions:' line")
    ch: dict[str, object] = {}
    ip4 = _TNL_IPV4_RE.search(arg)
    if ip4:
        kv = {"src": ip4.group(1), "dst": ip4.group(2)}
        ch["tun_src"], ch["tun_dst"] = _addr(kv, "src", "ipv4"), _addr(kv, "dst", "ipv4")
    vni = _TNL_VNI_RE.search(arg)
    if vni:
        ch["tun_id"] = _num({"vni": vni.group(1)}, "vni", (1 << 64) - 1)
    return int(m.group(1)), replace(packet, **ch)  # type: ignore[arg-type]
