"""Commands of the real backend (layer 3): ``ip``, ``ip netns exec``, the OVS and netfilter tools,
always as argument lists (never a shell), always aimed at a namespace of the run.

`require` checks that the binaries a build needs are installed before anything is created and
names the Debian package of each missing one.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence

from neutrace.errors import BackendError

# binary -> the Debian package that installs it
PACKAGES: dict[str, str] = {
    "ip": "iproute2",
    "ovsdb-server": "openvswitch-switch",
    "ovs-vswitchd": "openvswitch-switch",
    "ovsdb-tool": "openvswitch-common",
    "ovs-vsctl": "openvswitch-common",
    "ovs-ofctl": "openvswitch-common",
    "ovs-appctl": "openvswitch-common",
    "iptables-restore": "iptables",
    "ip6tables-restore": "iptables",
    "ipset": "ipset",
    "ethtool": "ethtool",
    "sysctl": "procps",
    "conntrack": "conntrack",
    "tcpdump": "tcpdump",
}
BUILD_BINARIES = ("ip", "ovsdb-server", "ovs-vswitchd", "ovsdb-tool", "ovs-vsctl", "ovs-ofctl",
                  "ovs-appctl", "iptables-restore", "ip6tables-restore", "ipset", "ethtool",
                  "sysctl")


class MissingBinaryError(BackendError):
    """A tool the real backend needs is not installed."""


def require(binaries: Iterable[str] = BUILD_BINARIES) -> None:
    """Raise `MissingBinaryError` naming every missing binary and its Debian package."""
    missing = [b for b in binaries if shutil.which(b) is None]
    if missing:
        pkgs = sorted({PACKAGES.get(b, b) for b in missing})
        raise MissingBinaryError(
            f"{', '.join(missing)}: not found on PATH; the real backend needs "
            f"{'it' if len(missing) == 1 else 'them'} (fix: apt-get install {' '.join(pkgs)})")


def run(argv: Sequence[str], *, stdin: str | None = None, env: Mapping[str, str] | None = None,
        timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (no shell); a non-zero exit raises `BackendError` with its stderr."""
    try:
        proc = subprocess.run(list(argv), input=stdin, capture_output=True, text=True,
                              env=dict(env) if env is not None else None, timeout=timeout,
                              check=False)
    except FileNotFoundError:
        require([argv[0]])
        raise
    except subprocess.TimeoutExpired as exc:
        raise BackendError(f"{' '.join(argv[:6])}: timed out after {timeout:g} s") from exc
    if check and proc.returncode != 0:
        raise BackendError(f"{' '.join(argv[:8])}{' ...' if len(argv) > 8 else ''} failed "
                           f"({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def ip(netns: str, *args: str, check: bool = True) -> str:
    """``ip -n NETNS ARGS`` (``ip`` always runs against one of the run's namespaces)."""
    return run(["ip", "-n", netns, *args], check=check).stdout


def ip_batch(netns: str, lines: Sequence[Sequence[str]]) -> None:
    """Many ``ip`` commands in one process: ``ip -n NETNS -batch -`` (each line is the words of
    one command; every word has been validated, none holds a space)."""
    if not lines:
        return
    for words in lines:
        for w in words:
            if not w or any(c.isspace() for c in w) or w.startswith("#") or '"' in w:
                raise BackendError(f"unsafe word {w!r} in an ip command for {netns}")
    text = "".join(" ".join(words) + "\n" for words in lines)
    proc = run(["ip", "-n", netns, "-batch", "-"], stdin=text, check=False)
    if proc.returncode != 0:
        raise BackendError(f"ip -n {netns} -batch failed: {proc.stderr.strip()}\n"
                           f"commands were:\n{text}")


def netns_exec(netns: str, argv: Sequence[str], *, stdin: str | None = None,
               env: Mapping[str, str] | None = None, timeout: float = 60,
               check: bool = True) -> subprocess.CompletedProcess[str]:
    """``ip netns exec NETNS ARGV``."""
    return run(["ip", "netns", "exec", netns, *argv], stdin=stdin, env=env, timeout=timeout,
               check=check)


def netns_list() -> list[str]:
    """The names of the network namespaces that ``ip netns`` knows (``/run/netns``)."""
    out = run(["ip", "netns", "list"]).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def netns_pids(netns: str) -> list[int]:
    """The processes running in ``netns``."""
    proc = run(["ip", "netns", "pids", netns], check=False)
    return [int(x) for x in proc.stdout.split() if x.isdigit()]
