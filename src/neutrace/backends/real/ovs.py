"""A host's own Open vSwitch in the real backend (layer 3): ``ovsdb-server`` and
``ovs-vswitchd --disable-system`` running inside the host's namespace, on a private directory.

The directory is ``OVS_RUNDIR``, ``OVS_DBDIR``, ``OVS_LOGDIR`` and ``OVS_SYSCONFDIR`` at once, so
the daemons never meet a system-wide instance, and plain ``ovs-vsctl``/``ovs-ofctl``/``ovs-appctl``
with that environment reach this host's switch (the daemons run without ``--unixctl``: the
control sockets are the default ``$OVS_RUNDIR/<daemon>.<pid>.ctl``). Bridges use the userspace
datapath (``datapath_type=netdev``): no kernel module is needed or loaded.

`HostOvs` is the private sandbox (`neutrace.backends.ovs_sandbox.OvsSandbox`) with the smallest
override: a real datapath instead of the dummy one, inside a namespace.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from neutrace.backends.ovs_load import load_flows, vsctl_argv
from neutrace.backends.ovs_sandbox import SCHEMA_CANDIDATES, OvsSandbox
from neutrace.backends.real.commands import ip, netns_exec
from neutrace.dataplane import OvsBridge
from neutrace.errors import BackendError

DATAPATH = "netdev"


def ovs_env(directory: str | Path) -> dict[str, str]:
    """The environment that points the OVS tools at the private instance in ``directory``."""
    env = dict(os.environ)
    for var in ("OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR", "OVS_PKGDATADIR"):
        env.pop(var, None)
    d = str(directory)
    env.update(OVS_RUNDIR=d, OVS_DBDIR=d, OVS_LOGDIR=d, OVS_SYSCONFDIR=d)
    return env


class HostOvs(OvsSandbox):
    """``with``-less on purpose: the daemons outlive the ``neutrace up`` that started them;
    `neutrace.backends.real.cloud.down` stops them by PID."""

    def __init__(self, directory: str | Path, netns: str) -> None:
        super().__init__(str(directory))
        self.netns = netns

    @property
    def env(self) -> dict[str, str]:
        return ovs_env(self.dir)

    @property
    def vswitchd_ctl(self) -> Path:
        """The daemon's default control socket (``ovs-vswitchd.<pid>.ctl``)."""
        pid = self.read_pid("ovs-vswitchd")
        return self.dir / f"ovs-vswitchd.{pid}.ctl"

    @vswitchd_ctl.setter
    def vswitchd_ctl(self, value: Path) -> None:
        pass  # set by OvsSandbox.__init__; here it follows the pidfile

    def read_pid(self, daemon: str) -> int:
        """The PID in ``<dir>/<daemon>.pid``."""
        return self._read_pid(self.dir / f"{daemon}.pid")

    def start(self) -> HostOvs:
        """Create the database and start both daemons inside the namespace (each detaches once
        ready and writes its pidfile in the directory)."""
        schema = next((p for p in SCHEMA_CANDIDATES if os.path.exists(p)), None)
        if schema is None:
            raise BackendError("vswitch.ovsschema not found (fix: apt-get install "
                               "openvswitch-common)")
        d = self.dir
        d.mkdir(parents=True, exist_ok=True)
        self._run(["ovsdb-tool", "create", str(d / "conf.db"), schema])
        self._in_netns(["ovsdb-server", str(d / "conf.db"), f"--remote=punix:{self.db_sock}",
                        f"--pidfile={d / 'ovsdb-server.pid'}",
                        f"--log-file={d / 'ovsdb-server.log'}", "--detach", "--no-chdir"])
        self._pids.append(self.read_pid("ovsdb-server"))
        self.vsctl("--no-wait", "init")
        self._in_netns(["ovs-vswitchd", f"unix:{self.db_sock}", "--disable-system",
                        f"--pidfile={d / 'ovs-vswitchd.pid'}",
                        f"--log-file={d / 'ovs-vswitchd.log'}", "--detach", "--no-chdir"])
        self._pids.append(self.read_pid("ovs-vswitchd"))
        return self

    def _in_netns(self, argv: Sequence[str]) -> None:
        netns_exec(self.netns, argv, env=self.env)

    def load(self, bridges: Sequence[OvsBridge], hwaddrs: Mapping[str, str]) -> None:
        """Create ``bridges`` (netdev datapath, ports with their ofports, tags, options,
        other_config and external_ids) in one transaction, then each bridge's flows in one
        ``ovs-ofctl --bundle add-flows``. Checks every port got the ofport it asked for."""
        if not bridges:
            return
        self.vsctl(*vsctl_argv(bridges, replace=False, datapath_type=DATAPATH,
                               hwaddrs=hwaddrs))
        for b in bridges:
            # the agents' flows replace OVS's default NORMAL flow
            self.ofctl("del-flows", b.name)
            if b.flows:
                load_flows(self, b.name, b.flows)
        self.check_ofports(bridges)

    def check_ofports(self, bridges: Sequence[OvsBridge]) -> None:
        """Every port has the ofport the `HostState` gives it (``ofport_request`` honoured)."""
        for b in bridges:
            want = {p.name: p.ofport for p in b.ports if p.name != b.name}
            if not want:
                continue
            out = self.vsctl("--columns=name,ofport", "--format=csv", "--data=bare",
                             "--no-headings", "list", "Interface", *want)
            got = {}
            for line in out.splitlines():
                name, _, ofport = line.partition(",")
                got[name.strip()] = int(ofport) if ofport.strip().lstrip("-").isdigit() else -1
            bad = {n: (w, got.get(n)) for n, w in want.items() if got.get(n) != w}
            if bad:
                raise BackendError(f"{self.netns}: {b.name}: ports did not get their ofports "
                                   f"(want, got): {bad}; see {self.dir / 'ovs-vswitchd.log'}")

    def add_phy_bridge(self, name: str, nic: str, mac: str | None) -> None:
        """A ``br-phy``-style bridge carrying the tunnel IP on its internal port, with the
        underlay NIC as its port (OVS's userspace-tunneling how-to): OVS then routes and
        resolves tunnel endpoints itself. It keeps OVS's default NORMAL flow."""
        argv = ["add-br", name, "--", "set", "Bridge", name, f"datapath_type={DATAPATH}"]
        if mac:
            argv.append(f"other_config:hwaddr=\"{mac}\"")
        self.vsctl(*argv, "--", "add-port", name, nic)

    def wait_interfaces(self, names: Sequence[str], timeout: float = 10) -> None:
        """Wait until ovs-vswitchd has created the internal ports ``names`` (its taps)."""
        deadline = time.monotonic() + timeout
        pending = list(names)
        while pending:
            out = ip(self.netns, "-o", "link", "show")
            present = {ln.split(":")[1].strip().split("@")[0] for ln in out.splitlines()
                       if ln.count(":") >= 2}
            pending = [n for n in pending if n not in present]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise BackendError(f"{self.netns}: ovs-vswitchd did not create {pending} "
                                   f"(see {self.dir / 'ovs-vswitchd.log'})")
            time.sleep(0.05)
