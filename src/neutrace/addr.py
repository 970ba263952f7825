"""Address helpers (layer 0): MAC normalisation and tests, deterministic ids and MACs.

Neutron generates port MACs as ``fa:16:3e:xx:xx:xx`` (its ``base_mac``) and UUIDs at random;
neutrace derives both from a stable seed string instead, so the same topology always yields the
same cloud.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import re
import uuid

BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
NEUTRON_BASE_MAC = "fa:16:3e"

_MAC_RE = re.compile(r"^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$")


def is_mac(text: str) -> bool:
    """True if ``text`` is a colon-separated 48-bit MAC address."""
    return bool(_MAC_RE.match(text))


@functools.lru_cache(maxsize=1 << 16)
def norm_mac(text: str) -> str:
    """``FA:16:3E:1:2:3`` -> ``fa:16:3e:01:02:03``; raises ValueError when not a MAC."""
    if not is_mac(text):
        raise ValueError(f"not a MAC address: {text!r}")
    return ":".join(f"{int(part, 16):02x}" for part in text.split(":"))


def mac_to_int(mac: str) -> int:
    return int(norm_mac(mac).replace(":", ""), 16)


def int_to_mac(value: int) -> str:
    raw = f"{value & 0xFFFFFFFFFFFF:012x}"
    return ":".join(raw[i : i + 2] for i in range(0, 12, 2))


def is_multicast_mac(mac: str) -> bool:
    """Group bit set (broadcast included)."""
    return bool(int(mac[0:2], 16) & 1)


def is_broadcast_mac(mac: str) -> bool:
    return mac.lower() == BROADCAST_MAC


def _digest(seed: str) -> bytes:
    return hashlib.sha256(seed.encode()).digest()


def stable_uuid(seed: str) -> str:
    """A UUID (version 4 layout) derived from ``seed``: same seed, same id."""
    return str(uuid.UUID(bytes=_digest(seed)[:16], version=4))


def stable_mac(seed: str, base: str = NEUTRON_BASE_MAC) -> str:
    """A MAC under Neutron's base ``fa:16:3e`` derived from ``seed``."""
    tail = _digest(seed)[:3]
    return base + ":" + ":".join(f"{b:02x}" for b in tail)


def ip_to_hex(ip: str) -> str:
    """``192.168.120.22`` -> ``c0a87816``, as Neutron names tunnel ports (``vxlan-c0a87816``)."""
    return f"{int(ipaddress.IPv4Address(ip)):08x}"


def ipv6_eui64(prefix: str, mac: str) -> str:
    """The EUI-64 address of ``mac`` in the /64 ``prefix`` (``netutils.get_ipv6_addr_by_EUI64``:
    SLAAC addresses and link-local addresses)."""
    b = bytearray(int(x, 16) for x in norm_mac(mac).split(":"))
    b[0] ^= 0x02
    eui = bytes(b[:3]) + b"\xff\xfe" + bytes(b[3:])
    net = ipaddress.IPv6Network(prefix, strict=False)
    return str(ipaddress.IPv6Address(net.network_address.packed[:8] + eui))


def ipv6_lla(mac: str) -> str:
    """The EUI-64 link-local address of ``mac`` (``fe80::/64``)."""
    return ipv6_eui64("fe80::/64", mac)


@functools.lru_cache(maxsize=1 << 16)
def network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """``ipaddress.ip_network(text, strict=False)``, remembered (the objects are immutable and
    the agents ask for the same addresses on every host)."""
    return ipaddress.ip_network(text, strict=False)


@functools.lru_cache(maxsize=1 << 16)
def cidr(text: str) -> str:
    """``str(network(text))``: ``10.0.0.5`` -> ``10.0.0.5/32``, remembered."""
    return str(network(text))


def ip_version(ip: str) -> int:
    return ipaddress.ip_address(ip).version


def in_cidr(ip: str, cidr: str) -> bool:
    return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)
