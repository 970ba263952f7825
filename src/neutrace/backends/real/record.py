"""The run record of the real backend (layer 3): ``<root>/<run>/run.json``.

``<root>`` is ``/run/neutrace`` (or ``$NEUTRACE_RUN_DIR``). The record is written *before*
anything is created, with the run's prefix and every namespace the build will make, and rewritten
as daemons start, so that `down` (or the next `up`, after a ``kill -9`` mid-build) can find and
remove everything: the daemons by the PIDs recorded (or found in their pidfiles under the run's
directory), each checked against ``/proc/<pid>/cmdline``; the namespaces by name and by the run's
prefix; then the directory itself.

A run is locked (``fcntl.flock`` on ``<root>/<run>.lock``) while `up` builds it and while `down`
removes it, so a second ``up`` of the same run says so instead of racing it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from neutrace.backends.real.names import check_prefix, check_run_name
from neutrace.errors import BackendError

DEFAULT_ROOT = "/run/neutrace"
BUILDING = "building"
UP = "up"


def state_root() -> Path:
    """Where run records live: ``$NEUTRACE_RUN_DIR`` or ``/run/neutrace``."""
    return Path(os.environ.get("NEUTRACE_RUN_DIR") or DEFAULT_ROOT)


@dataclass(frozen=True)
class Daemon:
    """A process the run started: its PID, what it is, and the text its command line must
    contain (the run's own directory) for `down` to stop it."""

    pid: int
    name: str
    marker: str


@dataclass(frozen=True)
class HostRecord:
    """A host of a run: its namespace and its private OVS directory."""

    name: str
    netns: str
    dir: str
    bridges: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunRecord:
    """What a run made (or is making)."""

    run: str
    prefix: str
    dir: str
    cloud: str = ""
    status: str = BUILDING
    builder_pid: int = 0
    started: float = 0.0
    namespaces: tuple[str, ...] = ()
    hosts: tuple[HostRecord, ...] = ()
    daemons: tuple[Daemon, ...] = ()
    # where things are: VM -> (host, netns); outside namespace -> netns; segment -> wire bridge
    vms: tuple[tuple[str, str, str], ...] = ()
    outside: tuple[tuple[str, str], ...] = ()
    segments: tuple[tuple[str, str], ...] = ()
    wire: str = ""
    notes: tuple[str, ...] = field(default=())

    def host(self, name: str) -> HostRecord | None:
        """The record of host ``name``."""
        return next((h for h in self.hosts if h.name == name), None)

    def with_daemon(self, d: Daemon) -> RunRecord:
        """This record with one more daemon."""
        return replace(self, daemons=(*self.daemons, d))


def run_dir(run: str) -> Path:
    """The directory of run ``run``."""
    return state_root() / check_run_name(run)


def record_path(run: str) -> Path:
    """The record file of run ``run``."""
    return run_dir(run) / "run.json"


def write(rec: RunRecord) -> None:
    """Write ``rec`` atomically (a crash leaves the old record or the new one)."""
    path = record_path(rec.run)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as fh:
        json.dump(asdict(rec), fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read(run: str) -> RunRecord | None:
    """The record of run ``run``, or None if there is none."""
    path = record_path(run)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise BackendError(f"{path}: unreadable run record ({exc}); remove that directory after "
                           "checking `ip netns list` for its namespaces") from exc
    rec = RunRecord(
        run=data["run"], prefix=check_prefix(data["prefix"]), dir=data["dir"],
        cloud=data.get("cloud", ""), status=data.get("status", BUILDING),
        builder_pid=int(data.get("builder_pid", 0)), started=float(data.get("started", 0)),
        namespaces=tuple(data.get("namespaces", ())),
        hosts=tuple(HostRecord(h["name"], h["netns"], h["dir"], tuple(h.get("bridges", ())))
                    for h in data.get("hosts", ())),
        daemons=tuple(Daemon(int(d["pid"]), d["name"], d["marker"])
                      for d in data.get("daemons", ())),
        vms=tuple(tuple(v) for v in data.get("vms", ())),
        outside=tuple(tuple(o) for o in data.get("outside", ())),
        segments=tuple(tuple(s) for s in data.get("segments", ())),
        wire=data.get("wire", ""), notes=tuple(data.get("notes", ())),
    )
    return rec


def runs() -> list[str]:
    """The names of the runs that have a record."""
    root = state_root()
    if not root.is_dir():
        return []
    return sorted(p.parent.name for p in root.glob("*/run.json"))


class RunLocked(BackendError):
    """Another neutrace process is building or removing this run."""


@contextlib.contextmanager
def locked(run: str, wait: float = 3.0) -> Iterator[None]:
    """Hold the run's lock (`RunLocked` if another process still holds it after ``wait``
    seconds)."""
    root = state_root()
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{check_run_name(run)}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        # a few seconds' grace: a killed build's last child can hold the lock a moment longer
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.1)
                    continue
                raise RunLocked(f"run {run!r} is being built or removed by another neutrace "
                                f"process right now (lock {path}): wait for it, or `neutrace "
                                "down` after it") from None
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            if not run_dir(run).exists():
                path.unlink()
        os.close(fd)
        with contextlib.suppress(OSError):
            root.rmdir()  # only if empty


def now() -> float:
    """The wall-clock time (for the record's ``started``)."""
    return time.time()
