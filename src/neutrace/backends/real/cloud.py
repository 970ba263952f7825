"""`up`, `down`, `status` of the real backend (layer 3), and the way in for tools: `host_env`,
`namespace_of`, `exec_argv`.

`up(state, run)` builds a `CloudState` (checked whole by `neutrace.backends.real.plan` first,
then recorded, then built); any failure, Ctrl-C or SIGTERM during the build removes what was
made. `down(run)` removes a run from its record: the daemons by PID (each checked against its
``/proc/<pid>/cmdline``), the namespaces by name and by the run's prefix, the run's directory.
The next `up` of a run whose build was killed (``kill -9``) does the same first.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType

from neutrace.backends.ovs_load import vsctl_argv
from neutrace.backends.real import record
from neutrace.backends.real.commands import (
    ip,
    ip_batch,
    netns_exec,
    netns_list,
    netns_pids,
    require,
    run,
)
from neutrace.backends.real.names import KernelNames, check_run_name, new_prefix, owned_by
from neutrace.backends.real.ovs import DATAPATH, HostOvs, ovs_env
from neutrace.backends.real.plan import CloudPlan, NsPlan, plan_cloud
from neutrace.backends.real.record import Daemon, HostRecord, RunRecord
from neutrace.dataplane import CloudState
from neutrace.errors import BackendError

Progress = Callable[[str], None]
WIRE = "wire"  # the wire namespace's own OVS (segments with VLAN attachments), as a "host"


class AlreadyUp(BackendError):
    """The run is up already (``neutrace down`` it first)."""


class NotUp(BackendError):
    """No run of that name (or no such VM, host or namespace in it)."""


def _quiet(_: str) -> None:
    """Progress that says nothing."""


def cloud_name(state: CloudState) -> str:
    """The cloud's name from the state's metadata (``("cloud", name)``)."""
    return dict(state.metadata).get("cloud", "cloud")


# -- up ----------------------------------------------------------------------------------------


def up(state: CloudState, run_name: str | None = None, *, progress: Progress = _quiet,
       fail_after: str | None = None) -> RunRecord:
    """Build ``state`` as run ``run_name`` (default: the cloud's name). Raises `AlreadyUp` if the
    run is up, `InputError` if the state cannot be built (nothing is created then),
    `BackendError` if a command fails (what was made is removed). ``fail_after`` (tests) names a
    build step after which to fail on purpose."""
    name = check_run_name(run_name or cloud_name(state).lower())
    require()
    names = KernelNames(new_prefix())
    plan = plan_cloud(state, names)
    with record.locked(name):
        old = record.read(name)
        if old is not None:
            if old.status == record.UP:
                raise AlreadyUp(f"run {name!r} (cloud {old.cloud!r}, prefix {old.prefix}) is "
                                f"already up since {time.ctime(old.started)}: "
                                f"`neutrace down {name}` first")
            progress(f"removing what an unfinished run {name!r} left ({old.prefix}*)")
            _teardown(old)
        rdir = record.run_dir(name)
        rec = RunRecord(
            run=name, prefix=names.prefix, dir=str(rdir), cloud=cloud_name(state),
            status=record.BUILDING, builder_pid=os.getpid(), started=record.now(),
            namespaces=plan.netns_names,
            hosts=tuple(HostRecord(h.name, h.netns, str(rdir / h.name),
                                   tuple(b.name for b in h.bridges)
                                   + ((h.phy.name,) if h.phy else ()))
                        for h in plan.hosts)
            + ((HostRecord(WIRE, names.wire, str(rdir / WIRE),
                           tuple(b.name for b in plan.wire_bridges)),)
               if plan.wire_bridges else ()),
            vms=tuple(plan.vms), outside=tuple(plan.outside), segments=tuple(plan.segments),
            wire=names.wire,
            notes=("datapath_type=netdev (userspace) in place of the state's datapath_type",),
        )
        record.write(rec)
        try:
            with _interruptible():
                rec = _build(plan, rec, progress, fail_after)
                rec = replace(rec, status=record.UP)
                record.write(rec)
        except BaseException:
            with _uninterruptible():
                progress("build failed: removing what it made")
                _teardown(record.read(name) or rec)
            raise
    return rec


@contextlib.contextmanager
def _handling(signals: tuple[signal.Signals, ...],
              handler: Callable[[int, FrameType | None], None] | signal.Handlers
              ) -> Iterator[None]:
    """``handler`` for ``signals`` while the block runs (outside the main thread the handlers
    are left alone), the previous handlers again after it."""
    saved = {}
    try:
        for sig in signals:
            saved[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread: leave the handlers alone
        saved = {}
    try:
        yield
    finally:
        for sig, previous in saved.items():
            signal.signal(sig, previous)


def _interruptible() -> contextlib.AbstractContextManager[None]:
    """SIGTERM (and SIGHUP) raise KeyboardInterrupt during the build, as Ctrl-C does."""
    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    return _handling((signal.SIGTERM, signal.SIGHUP), stop)


def _uninterruptible() -> contextlib.AbstractContextManager[None]:
    """Ignore Ctrl-C/SIGTERM while removing a run (a second Ctrl-C must not leave half)."""
    return _handling((signal.SIGINT, signal.SIGTERM, signal.SIGHUP), signal.SIG_IGN)


def _step(name: str, fail_after: str | None) -> None:
    if fail_after == name:
        raise BackendError(f"failing on purpose after step {name!r} (test)")


def _build(plan: CloudPlan, rec: RunRecord, progress: Progress,
           fail_after: str | None) -> RunRecord:
    progress(f"namespaces: {len(plan.namespaces)} ({plan.names.prefix}*)")
    for ns in plan.namespaces:
        run(["ip", "netns", "add", ns.netns])
        _step("netns-first", fail_after)
    _step("netns", fail_after)
    for ns in plan.namespaces:
        ip_batch(ns.netns, ns.create)
    _step("links", fail_after)
    hosts = {h.name: h for h in rec.hosts}
    if plan.wire_bridges:
        progress(f"wire: ovs-vswitchd for segments with VLAN attachments "
                 f"({', '.join(b.name for b in plan.wire_bridges)})")
        ovs, rec = _start_ovs(hosts[WIRE], rec)
        ovs.vsctl(*vsctl_argv(plan.wire_bridges, replace=False, datapath_type=DATAPATH))
        ovs.check_ofports(plan.wire_bridges)
    for hp in plan.hosts:
        progress(f"{hp.name}: ovsdb-server, ovs-vswitchd (netdev), {len(hp.bridges)} bridges")
        ovs, rec = _start_ovs(hosts[hp.name], rec)
        _step("daemons", fail_after)
        if hp.phy is not None:
            ovs.add_phy_bridge(hp.phy.name, hp.phy.nic, hp.phy.mac)
        ovs.load(hp.bridges, hp.hwaddrs)
        ovs.wait_interfaces(hp.internal_ports)
    _step("ovs", fail_after)
    for ns in plan.namespaces:
        for itf, target in ns.moves:
            ip(ns.netns, "link", "set", "dev", itf, "netns", target)
    for ns in plan.namespaces:
        _configure(ns)
    _step("config", fail_after)
    progress("up")
    return rec


def _start_ovs(hr: HostRecord, rec: RunRecord) -> tuple[HostOvs, RunRecord]:
    """Start the OVS daemons of ``hr``, recording their PIDs (also when the start fails)."""
    ovs = HostOvs(hr.dir, hr.netns)
    try:
        ovs.start()
    finally:
        for daemon in ("ovsdb-server", "ovs-vswitchd"):
            if (Path(hr.dir) / f"{daemon}.pid").exists():
                with contextlib.suppress(BackendError):
                    rec = rec.with_daemon(Daemon(ovs.read_pid(daemon), daemon, hr.dir))
        record.write(rec)
    return ovs, rec


def _configure(ns: NsPlan) -> None:
    """Links, addresses, routes, rules, neighbours; sysctls; offloads; ipsets; iptables."""
    ip_batch(ns.netns, ns.config)
    if ns.sysctls:
        netns_exec(ns.netns, ["sysctl", "-q", "-w", *(f"{k}={v}" for k, v in ns.sysctls)])
    for dev in ns.offload_off:
        # a veth hands OVS's AF_PACKET socket packets with checksums left to the NIC: TCP and
        # UDP would be dropped while ping works
        netns_exec(ns.netns, ["ethtool", "-K", dev, "tx", "off"])
    if ns.ipsets.strip():
        netns_exec(ns.netns, ["ipset", "restore"], stdin=ns.ipsets)
    if ns.iptables.strip():
        netns_exec(ns.netns, ["iptables-restore"], stdin=ns.iptables)
    if ns.ip6tables.strip():
        netns_exec(ns.netns, ["ip6tables-restore"], stdin=ns.ip6tables)


# -- down --------------------------------------------------------------------------------------


def down(run_name: str, *, progress: Progress = _quiet) -> bool:
    """Remove run ``run_name``; False if there was nothing to remove."""
    name = check_run_name(run_name)
    with record.locked(name):
        rec = record.read(name)
        if rec is None:
            return False
        with _uninterruptible():
            progress(f"removing run {name!r} ({rec.prefix}*)")
            _teardown(rec)
    return True


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return ""


def _stop(pid: int, marker: str) -> None:
    """Stop ``pid`` if its command line holds ``marker`` (the run's directory)."""
    if pid <= 1 or pid == os.getpid() or marker not in _cmdline(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    for _ in range(150):
        if marker not in _cmdline(pid):
            return
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    for _ in range(100):
        if marker not in _cmdline(pid):
            return
        time.sleep(0.02)


def _teardown(rec: RunRecord) -> None:
    """Remove everything of ``rec``: daemons, namespaces (recorded or with its prefix), dir."""
    rdir = Path(rec.dir)
    if rdir.parent != record.state_root() or rdir.name != rec.run:
        raise BackendError(f"run record of {rec.run!r} points at {rdir}, not under "
                           f"{record.state_root()}: not touching it")
    marker = str(rdir) + "/"
    pids = [d.pid for d in rec.daemons]
    if rdir.is_dir():  # daemons whose PID the record missed (a kill -9 mid-start)
        for pidfile in rdir.glob("*/*.pid"):
            with contextlib.suppress(OSError, ValueError):
                pids.append(int(pidfile.read_text().strip()))
    present = set(netns_list())
    ours = [n for n in rec.namespaces if n in present and owned_by(rec.prefix, n)]
    ours += sorted(n for n in present if owned_by(rec.prefix, n) and n not in ours)
    for n in ours:  # and daemons still starting inside the run's namespaces
        pids += [p for p in netns_pids(n) if p not in pids]
    # ovs-vswitchd before ovsdb-server, each only if its command line names the run's directory
    for pid in sorted(set(pids), key=lambda p: "ovsdb-server" in _cmdline(p)):
        _stop(pid, marker)
    for n in ours:
        run(["ip", "netns", "delete", n], check=False)
    shutil.rmtree(rdir, ignore_errors=True)


# -- status and the way in ---------------------------------------------------------------------


@dataclass(frozen=True)
class RunStatus:
    """What `status` reports of one run."""

    run: str
    cloud: str
    status: str  # "up", "building", "broken", "stale" (a build that was killed)
    prefix: str
    hosts: tuple[tuple[str, str, bool], ...]  # (host, netns, daemons alive)
    namespaces: int
    namespaces_present: int
    vms: tuple[tuple[str, str, str], ...]
    problems: tuple[str, ...]


def list_runs() -> list[str]:
    """The runs that have a record on this machine."""
    return record.runs()


def status(run_name: str | None = None) -> list[RunStatus]:
    """The status of ``run_name`` (or of every run)."""
    names = [check_run_name(run_name)] if run_name else record.runs()
    present = set(netns_list())
    out = []
    for name in names:
        rec = record.read(name)
        if rec is None:
            continue
        problems = []
        hosts = []
        for h in rec.hosts:
            alive = [d for d in rec.daemons if d.marker == h.dir and
                     str(Path(d.marker)) in _cmdline(d.pid)]
            ok = len(alive) == 2
            hosts.append((h.name, h.netns, ok))
            if not ok and rec.status == record.UP:
                problems.append(f"{h.name}: {2 - len(alive)} of its OVS daemons are not running")
        missing = [n for n in rec.namespaces if n not in present]
        if missing and rec.status == record.UP:
            problems.append(f"{len(missing)} namespaces are gone: {', '.join(missing[:3])}...")
        st = rec.status
        if st == record.BUILDING and not _cmdline(rec.builder_pid):
            st = "stale"
            problems.append("its build was killed: `neutrace down` or the next `up` removes it")
        elif st == record.UP and problems:
            st = "broken"
        out.append(RunStatus(name, rec.cloud, st, rec.prefix, tuple(hosts),
                             len(rec.namespaces), len(rec.namespaces) - len(missing), rec.vms,
                             tuple(problems)))
    return out


def _record_of(run_name: str | None, target: str) -> RunRecord:
    """The (up) record of ``run_name``, or the only run that has ``target``."""
    if run_name:
        rec = record.read(check_run_name(run_name))
        if rec is None:
            raise NotUp(f"no run {run_name!r} is up (`neutrace status` lists the runs)")
        return rec
    found = []
    for name in record.runs():
        rec = record.read(name)
        if rec is not None and _find(rec, target) is not None:
            found.append(rec)
    if not found:
        raise NotUp(f"no run that is up has {target!r} (`neutrace status` lists the runs)")
    if len(found) > 1:
        raise NotUp(f"{target!r} is in runs {', '.join(r.run for r in found)}: give --name")
    return found[0]


def _find(rec: RunRecord, target: str) -> str | None:
    """The namespace of ``target`` in ``rec``: a VM, an outside namespace, a host, or
    ``host:namespace`` (a qrouter-/qdhcp- namespace), or ``wire``."""
    for vm, _host, netns in rec.vms:
        if vm == target:
            return netns
    for name, netns in rec.outside:
        if name == target:
            return netns
    host, sep, inner = target.partition(":")
    h = rec.host(host)
    if h is not None:
        if not sep or not inner:
            return h.netns
        netns = KernelNames(rec.prefix).inner(host, inner)
        return netns if netns in rec.namespaces else None
    if target == "wire":
        return rec.wire
    return None


def namespace_of(target: str, run_name: str | None = None) -> str:
    """The kernel namespace of ``target`` (VM, outside host, host, ``host:qrouter-...``) in a
    run that is up."""
    rec = _record_of(run_name, target)
    netns = _find(rec, target)
    if netns is None:
        raise NotUp(f"run {rec.run!r} has no VM, host, namespace or outside host {target!r}")
    return netns


@dataclass(frozen=True)
class HostEnv:
    """How to run tools on a host of a running cloud: inside ``netns`` with ``env`` (the OVS
    tools then reach the host's own ovsdb-server and ovs-vswitchd). ``argv(cmd)`` is the command
    line that does both (``ip netns exec NETNS CMD``; pass ``env`` to subprocess)."""

    run: str
    host: str
    netns: str
    dir: str
    env: dict[str, str]

    def argv(self, cmd: Sequence[str]) -> list[str]:
        """``ip netns exec <netns> <cmd...>``."""
        return ["ip", "netns", "exec", self.netns, *cmd]


def host_env(host: str, run_name: str | None = None) -> HostEnv:
    """The namespace and OVS environment of ``host`` in a run that is up (for ``neutrace ovs``,
    and for tools such as ``neutrace collect`` run inside the host)."""
    rec = _record_of(run_name, host)
    h = rec.host(host)
    if h is None:
        raise NotUp(f"run {rec.run!r} has no host {host!r} (hosts: "
                    f"{', '.join(x.name for x in rec.hosts)})")
    return HostEnv(rec.run, host, h.netns, h.dir, ovs_env(h.dir))


def exec_argv(target: str, cmd: Sequence[str], run_name: str | None = None) -> list[str]:
    """``ip netns exec`` of ``cmd`` in ``target``'s namespace (a VM, outside host, host, or
    ``host:namespace``)."""
    if not cmd:
        raise BackendError("give the command to run after --")
    return ["ip", "netns", "exec", namespace_of(target, run_name), *cmd]
