"""``sysctl -a`` / ``sysctl KEY...`` output (layer 2): ``key = value`` lines, parser and
formatter. Lines that are not settings (``sysctl: permission denied on key ...``, which sos keeps
since it records stderr too) are skipped. ``parse_sysctl(format_sysctl(x)) == x``.
"""

from __future__ import annotations

from collections.abc import Iterable

# What changes how a namespace forwards, among what ``sysctl -a`` lists (the rest is not
# data-plane state neutrace models): IP forwarding, bridge netfilter, ARP answering.
FORWARDING_KEYS = ("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding",
                   "net.ipv4.conf.all.forwarding", "net.ipv4.ip_nonlocal_bind",
                   "net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables",
                   "net.bridge.bridge-nf-call-arptables")
FORWARDING_SUFFIXES = (".arp_ignore",)


def parse_sysctl(text: str) -> tuple[tuple[str, str], ...]:
    """``(key, value)`` pairs in file order (a value keeps its inner spaces/tabs)."""
    out = []
    for raw in text.split("\n"):  # (not splitlines: a value may hold \x0c, NEL...)
        key, sep, value = raw.partition(" = ")
        key = key.strip()
        if not sep or not key or " " in key or key.startswith("sysctl:"):
            continue
        out.append((key, value.strip()))
    return tuple(out)


def format_sysctl(pairs: Iterable[tuple[str, str]]) -> str:
    """``sysctl -a`` text of ``pairs``."""
    return "".join(f"{k} = {v}\n" for k, v in pairs)


def forwarding_sysctls(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The settings that change forwarding (`FORWARDING_KEYS`, each interface's
    ``arp_ignore``), sorted by key."""
    keep = {k: v for k, v in pairs if k in FORWARDING_KEYS or (
        k.startswith("net.ipv4.conf.") and k.endswith(FORWARDING_SUFFIXES))}
    return tuple(sorted(keep.items()))
