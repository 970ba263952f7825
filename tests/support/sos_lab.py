"""A sosreport of a real host, the way sos makes one: sos's own command lines (from its
``openvswitch``, ``networking``, ``kernel`` and ``conntrack`` plugins, the text forms, not
collect's JSON) run against a `tests.support.capture_lab.MiniHost` with the real tools, written
under sos's file names, in either of sos's namespace layouts (``new``: 4.3+'s
``networking/namespaces/NS/``; ``old``: everything in ``networking/``), with sos's own habits:
stderr kept in the file (a ``version negotiation failed`` dump), a ``hostname`` file at the top,
an optional snap prefix on the OVS commands (``openstack-hypervisor.``).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from neutrace.importers.collect import mangle
from tests.support.capture_lab import MiniHost

OVS_HOST = ("ovs-vsctl -t 5 show", "ovs-vsctl -t 5 list interface", "ovs-vsctl -t 5 list bridge",
            "ovs-vsctl -t 5 list-br")
OVS_BRIDGE = ("ovs-ofctl dump-flows {br}", "ovs-ofctl -O OpenFlow13 dump-flows {br}",
              "ovs-ofctl -O OpenFlow14 dump-flows {br}", "ovs-ofctl show {br}",
              "ovs-ofctl -O OpenFlow13 dump-groups {br}", "ovs-appctl fdb/show {br}")
NET_ROOT = ("ip -d address", "ip route show table all", "ip -6 route show table all",
            "ip -4 rule list", "ip -6 rule list", "ip -s -s neigh show",
            "bridge -s -s -d -t fdb show", "ip netns", "iptables-save", "ip6tables-save")
NET_NS = ("ip -d address show", "ip route show table all", "ip -s -s neigh show",
          "ip -4 rule list", "ip -6 rule list", "sysctl -a", "iptables-save", "ip6tables-save")


def _run(host: MiniHost, words: list[str], ovs: bool) -> bytes:
    assert host.ovs is not None
    argv = list(words)
    env = dict(os.environ)
    if ovs:
        env.update(host.ovs.env)
        if argv[0] == "ovs-vsctl":
            argv.insert(1, f"--db=unix:{host.ovs.db_sock}")
        if argv[0] == "ovs-appctl":
            argv[1:1] = ["-t", str(host.ovs.vswitchd_ctl)]
    p = subprocess.run(["ip", "netns", "exec", host.host_ns, *argv], capture_output=True,
                       env=env, check=False)
    return p.stdout + p.stderr  # sos keeps both


def sos_capture(host: MiniHost, out: Path, layout: str = "new", prefix: str = "",
                hostname: str = "test-cmpt-02") -> Path:
    """A sosreport of ``host`` under ``out`` (the report's top folder); returns ``out``."""
    cmds = out / "sos_commands"

    def put(plugin: str, command: str, data: bytes, sub: str = "") -> None:
        path = cmds / plugin / sub / mangle(command)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    bridges = _run(host, ["ovs-vsctl", "-t", "5", "list-br"], True).decode().split()
    for c in OVS_HOST:
        put("openvswitch", prefix + c, _run(host, c.split(), True))
    for br in bridges:
        for c in OVS_BRIDGE:
            line = c.format(br=br)
            put("openvswitch", prefix + line, _run(host, line.split(), True))
    for c in NET_ROOT:
        put("networking", c, _run(host, c.split(), False))
    put("kernel", "sysctl -a", _run(host, ["sysctl", "-a"], False))
    put("conntrack", "conntrack -L -o extended", _run(host, ["conntrack", "-L", "-o",
                                                              "extended"], False))
    for ns in (n for n in _run(host, ["ip", "netns"], False).decode().split()
               if n.startswith(host.prefix)):
        short = ns[len(host.prefix):]
        sub = f"namespaces/{short}" if layout == "new" else ""
        for c in NET_NS:
            put("networking", f"ip netns exec {short}  {c}",
                _run(host, ["ip", "netns", "exec", ns, *c.split()], False), sub)
        put("conntrack", f"ip netns exec {short} conntrack -L -o extended",
            _run(host, ["ip", "netns", "exec", ns, "conntrack", "-L", "-o", "extended"], False))
    # `ip netns` as the host lists them (the prefix is the test bed's, not the host's)
    listing = "".join(f"{n[len(host.prefix):]}\n" for n in _run(host, ["ip", "netns"], False)
                      .decode().split() if n.startswith(host.prefix))
    put("networking", "ip netns", listing.encode())
    (out / "hostname").write_text(hostname + "\n")
    return out
