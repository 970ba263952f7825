"""Value checks of the topology's resolution: one value at a time, each failing with a
``TopologyError`` that names the file, the line, the path and the fix (through ``Ctx``).

Nothing here knows a Neutron noun; the noun modules (``hosts``, ``networks``, ``ports``, ``l3``,
``security_groups``, ``outside``) call these on the values they read.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from typing import NoReturn, TypeVar

from neutrace import addr
from neutrace.errors import TopologyError
from neutrace.topology.source import Lines, Path_, line_of, where

_T = TypeVar("_T")
IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Net = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_VLAN = 4094
MAX_VNI = 2**24 - 1
MAX_GRE_KEY = 2**32 - 1
IFNAMSIZ = 15  # Linux: 16 bytes with the trailing NUL
_DEVNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
HOSTNAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")


class Ctx:
    """Where errors point: the source name and the line of each path."""

    def __init__(self, source: str, lines: Lines) -> None:
        self.source = source
        self.lines = lines

    def fail(self, path: Path_, problem: str, fix: str = "") -> NoReturn:
        """Raise the TopologyError of ``problem`` at ``path`` (with its line)."""
        raise TopologyError(self.source, where(path), problem, fix, line_of(self.lines, path))


def check_ip(ctx: Ctx, path: Path_, text: str, what: str = "IP address") -> IP:
    """``text`` as an IPv4 or IPv6 address."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        label = f"{text!r}" if what == "IP address" else f"{what} {text!r}"
        ctx.fail(path, f"{label} is not an IP address",
                 "write an IPv4 address like 192.0.2.10 or an IPv6 address like 2001:db8::10")


def check_cidr(ctx: Ctx, path: Path_, text: str) -> Net:
    """``text`` as a network with a prefix length and no host bits."""
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        ctx.fail(path, f"{text!r} is not a CIDR", "write a network like 10.0.0.0/24")
    if "/" not in text:
        ctx.fail(path, f"{text!r} has no prefix length",
                 f"write {loose.network_address}/<prefixlen>")
    try:
        return ipaddress.ip_network(text)
    except ValueError:
        ctx.fail(path, f"{text!r} has host bits set", f"write {loose}")


def check_ip_in(ctx: Ctx, path: Path_, text: str, net: Net, what: str) -> IP:
    """``text`` as a host address of ``net`` (not its IPv4 network or broadcast address)."""
    ip = check_ip(ctx, path, text, what)
    if ip not in net:
        ctx.fail(path, f"{what} {ip} is outside subnet {net}", f"use an address inside {net}")
    if net.version == 4 and net.prefixlen < 31 and ip in (net.network_address,
                                                           net.broadcast_address):
        kind = "network" if ip == net.network_address else "broadcast"
        ctx.fail(path, f"{what} {ip} is the {kind} address of {net}",
                 f"use a host address of {net}")
    return ip


def check_mac(ctx: Ctx, path: Path_, text: str) -> str:
    """``text`` as a normalised unicast MAC address."""
    try:
        mac = addr.norm_mac(text)
    except ValueError:
        ctx.fail(path, f"{text!r} is not a MAC address",
                 "write six hex bytes like fa:16:3e:12:34:56")
    if addr.is_multicast_mac(mac):
        ctx.fail(path, f"{mac} is a multicast MAC address",
                 "use a unicast MAC (lowest bit of the first byte clear), like fa:16:3e:12:34:56")
    return mac


def check_uuid(ctx: Ctx, path: Path_, text: str) -> str:
    """``text`` as a lowercase UUID (an id the user gives)."""
    if not _UUID_RE.match(text):
        ctx.fail(path, f"id {text!r} is not a UUID",
                 "write a lowercase UUID like 466214fa-3d8c-4b5e-a1f0-7c2d9e6b5a13, "
                 "or leave the id out to have one generated")
    return text


def check_devname(ctx: Ctx, path: Path_, name: str, what: str) -> str:
    """``name`` as a Linux device name: at most IFNAMSIZ characters, safe characters only."""
    if len(name) > IFNAMSIZ:
        ctx.fail(path, f"{what} name {name!r} is {len(name)} characters, longer than Linux's "
                 f"{IFNAMSIZ}", f"use a name of at most {IFNAMSIZ} characters")
    if not _DEVNAME_RE.match(name):
        ctx.fail(path, f"{what} name {name!r} is not a safe Linux device name",
                 "use letters, digits, '_', '.' and '-' only, starting with a letter or digit")
    return name


def check_in_range(ctx: Ctx, path: Path_, value: int, low: int, high: int, what: str,
                   fix: str) -> int:
    """``value`` within ``low..high``."""
    if not low <= value <= high:
        ctx.fail(path, f"{what} {value} is out of range {low}..{high}", fix)
    return value


def check_unique(ctx: Ctx, items: Iterable[tuple[Path_, str]], what: str) -> None:
    """No two ``(path, key)`` items with the same key."""
    seen: dict[str, Path_] = {}
    for path, key in items:
        if key in seen:
            ctx.fail(path, f"duplicate {what} {key!r} (also at {where(seen[key])})",
                     f"give each a different {what}")
        seen[key] = path


def check_ref(ctx: Ctx, path: Path_, table: dict[str, _T], ref: str, what: str,
              known: Sequence[str]) -> _T:
    """The object ``ref`` names in ``table``, or an error listing the ``known`` names."""
    if ref not in table:
        listed = ", ".join(known) if known else "none are defined"
        ctx.fail(path, f"unknown {what} {ref!r}", f"use one of: {listed}")
    return table[ref]
