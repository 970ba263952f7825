"""``sysctl -a`` / ``sysctl KEY...`` output (layer 2): ``key = value`` lines, parser and
formatter. Lines that are not settings (``sysctl: permission denied on key ...``, which sos keeps
since it records stderr too) are skipped. ``parse_sysctl(format_sysctl(x)) == x``.
"""

from __future__ import annotations

from collections.abc import Iterable

# What changes how a namespace forwards (the rest of ``sysctl -a`` is not data-plane state
# neutrace models): IP forwarding, bridge netfilter, reverse-path filter, proxy ARP.
FORWARDING_PREFIXES = ("net.ipv4.ip_forward", "net.ipv4.conf.", "net.ipv6.conf.",
                       "net.bridge.bridge-nf-", "net.ipv4.ip_nonlocal_bind",
                       "net.netfilter.nf_conntrack_tcp_loose")
FORWARDING_SUFFIXES = (".forwarding", ".rp_filter", ".proxy_arp")


def parse_sysctl(text: str) -> tuple[tuple[str, str], ...]:
    """``(key, value)`` pairs in file order (a value keeps its inner spaces/tabs)."""
    out = []
    for raw in text.splitlines():
        key, sep, value = raw.partition(" = ")
        if not sep or not key or " " in key.strip() or key.startswith("sysctl:"):
            continue
        out.append((key.strip(), value.strip()))
    return tuple(out)


def format_sysctl(pairs: Iterable[tuple[str, str]]) -> str:
    """``sysctl -a`` text of ``pairs``."""
    return "".join(f"{k} = {v}\n" for k, v in pairs)


def forwarding_sysctls(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The settings that change forwarding (`FORWARDING_PREFIXES`), sorted by key."""
    keep = {}
    for k, v in pairs:
        if k == "net.ipv4.ip_forward" or k.startswith("net.bridge.bridge-nf-") or \
                k in ("net.ipv4.ip_nonlocal_bind", "net.netfilter.nf_conntrack_tcp_loose") or \
                (k.startswith(("net.ipv4.conf.", "net.ipv6.conf.")) and
                 k.endswith(FORWARDING_SUFFIXES)):
            keep[k] = v
    return tuple(sorted(keep.items()))
