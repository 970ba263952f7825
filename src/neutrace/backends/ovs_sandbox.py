"""A private Open vSwitch instance (layer 3): ovsdb-server +
``ovs-vswitchd --enable-dummy=override`` on sockets in a directory of its own, as OVS's own
testsuite runs it.

It needs no kernel module and never touches a system-wide ovs-vswitchd: every command it runs gets
``OVS_RUNDIR``/``OVS_DBDIR``/``OVS_LOGDIR``/``OVS_SYSCONFDIR`` pointing at its directory and
``--db=unix:<dir>/db.sock``. It stops only the processes it started, by their PID.

Used by the differential tests against real ``ofproto/trace``, the Neutron conformance harness,
the benchmarks and the real backend.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from neutrace.errors import BackendError

SCHEMA_CANDIDATES = (
    "/usr/share/openvswitch/vswitch.ovsschema",
    "/usr/local/share/openvswitch/vswitch.ovsschema",
)


def ovs_available() -> bool:
    """True if the OVS binaries and schema this sandbox needs are installed."""
    return all(shutil.which(b) for b in ("ovsdb-server", "ovs-vswitchd", "ovsdb-tool")) and any(
        os.path.exists(p) for p in SCHEMA_CANDIDATES
    )


class OvsSandbox:
    """Start with ``with OvsSandbox() as ovs:``; run tools with ``ovs.vsctl(...)``,
    ``ovs.ofctl(...)``, ``ovs.appctl(...)``."""

    def __init__(self, directory: str | None = None) -> None:
        self._own_dir = directory is None
        self.dir = Path(directory or tempfile.mkdtemp(prefix="nt-ovs-"))
        self.db_sock = self.dir / "db.sock"
        self.vswitchd_ctl = self.dir / "ovs-vswitchd.ctl"
        self._pids: list[int] = []

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for var in ("OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR", "OVS_PKGDATADIR"):
            env.pop(var, None)
        d = str(self.dir)
        env.update(OVS_RUNDIR=d, OVS_DBDIR=d, OVS_LOGDIR=d, OVS_SYSCONFDIR=d)
        return env

    def start(self) -> OvsSandbox:
        if not ovs_available():
            raise BackendError("Open vSwitch is not installed (apt-get install openvswitch-switch)")
        schema = next(p for p in SCHEMA_CANDIDATES if os.path.exists(p))
        d = self.dir
        self._run(["ovsdb-tool", "create", str(d / "conf.db"), schema])
        self._run([
            "ovsdb-server", str(d / "conf.db"), f"--remote=punix:{self.db_sock}",
            f"--unixctl={d / 'ovsdb-server.ctl'}", f"--pidfile={d / 'ovsdb-server.pid'}",
            f"--log-file={d / 'ovsdb-server.log'}", "--detach", "--no-chdir",
        ])
        self._pids.append(self._read_pid(d / "ovsdb-server.pid"))
        self.vsctl("--no-wait", "init")
        self._run([
            "ovs-vswitchd", f"unix:{self.db_sock}", "--enable-dummy=override",
            "--disable-system", f"--unixctl={self.vswitchd_ctl}",
            f"--pidfile={d / 'ovs-vswitchd.pid'}", f"--log-file={d / 'ovs-vswitchd.log'}",
            "-vvconn", "-vofproto_dpif", "--detach", "--no-chdir",
        ])
        self._pids.append(self._read_pid(d / "ovs-vswitchd.pid"))
        return self

    def stop(self) -> None:
        for pid in reversed(self._pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            for _ in range(100):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.02)
            else:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self._pids.clear()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> OvsSandbox:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def pids(self) -> tuple[int, ...]:
        return tuple(self._pids)

    # -- tools -----------------------------------------------------------------------------
    def vsctl(self, *args: str) -> str:
        return self._run(["ovs-vsctl", f"--db=unix:{self.db_sock}", "--timeout=10", *args])

    def ofctl(self, *args: str, stdin: str | None = None) -> str:
        return self._run(["ovs-ofctl", *args], stdin=stdin)

    def appctl(self, *args: str) -> str:
        return self._run(["ovs-appctl", "-t", str(self.vswitchd_ctl), *args])

    def bridge_socket(self, bridge: str) -> str:
        """The OpenFlow management socket of ``bridge`` (pass to ovs-ofctl instead of the name)."""
        return f"unix:{self.dir / (bridge + '.mgmt')}"

    def _run(self, argv: Sequence[str], stdin: str | None = None) -> str:
        proc = subprocess.run(
            list(argv), input=stdin, capture_output=True, text=True, env=self.env, check=False
        )
        if proc.returncode != 0:
            raise BackendError(
                f"{' '.join(argv[:3])}... failed ({proc.returncode}): {proc.stderr.strip()}"
            )
        return proc.stdout

    @staticmethod
    def _read_pid(path: Path) -> int:
        for _ in range(200):
            try:
                return int(path.read_text().strip())
            except (FileNotFoundError, ValueError):
                time.sleep(0.01)
        raise BackendError(f"{path} did not appear")
