"""Where a capture keeps what (layer 3): one host's sosreport or ``neutrace collect`` folder.

A `Capture` finds a command's output by the names sos has given it over the years, so the
importers ask for *what* they need (``ovs-vsctl show``, a namespace's routes) and not for one
file name:

- sos's plugin folders: ``sos_commands/openvswitch/`` (also ``ovn_host/``, where sos puts a few
  OVS dumps for OVN hosts), ``networking/``, ``kernel/``, ``conntrack/``, ``virsh/``, ``host/``;
- snap-packaged Open vSwitch: the same commands prefixed ``openstack-hypervisor.`` (Sunbeam) or
  ``microovn.`` (MicroOVN);
- both namespace layouts: sos 4.3+ ``networking/namespaces/NS/ip_netns_exec_NS_<cmd>``, and
  before it ``networking/ip_netns_exec_NS_<cmd>``;
- copied files at their own path under the root (``etc/neutron/...``, ``run/libvirt/qemu/...``).

`Capture.read` returns a file's text; a file that is not UTF-8 is read with the undecodable
bytes replaced and the capture records a `Note` naming the file and the first bad byte. Every
file read is remembered (`Capture.used`), so a diagnostic can say which file would have answered
a question. The host's name comes from the manifest, ``sos_commands/host/hostname``, the
``hostname`` file of a sosreport, ``etc/hostname``, or the folder's name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from neutrace.errors import InputError
from neutrace.importers.collect import MANIFEST

SNAP_PREFIXES = ("", "openstack-hypervisor.", "microovn.")
OVS_PLUGINS = ("openvswitch", "ovn_host")
_MARKERS = ("sos_commands", MANIFEST)


@dataclass(frozen=True, slots=True)
class Note:
    """Something about a file a reader should know (not a gap in the state)."""

    source: str
    problem: str


@dataclass
class Capture:
    """One host's capture on disk (an extracted sosreport or a collect folder)."""

    root: Path
    label: str = ""
    used: set[str] = field(default_factory=set)
    notes: list[Note] = field(default_factory=list)
    manifest: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        if not self.label:
            self.label = str(self.root)
        if not any((self.root / m).exists() for m in _MARKERS):
            raise InputError(str(self.root), "", "not a sosreport or a `neutrace collect` "
                             "folder (it has no sos_commands/ and no neutrace-collect.json)",
                             "give the folder (or .tar.xz) a sosreport or `neutrace collect` "
                             "made")
        m = self.root / MANIFEST
        if m.is_file():
            try:
                doc = json.loads(m.read_text(encoding="utf-8", errors="replace"))
            except json.JSONDecodeError as exc:
                self.notes.append(Note(self.rel(m), f"the manifest is not valid JSON ({exc.msg})"
                                       ": the host name comes from elsewhere"))
            else:
                if isinstance(doc, dict):
                    self.manifest = doc

    # -- naming ----------------------------------------------------------------------------
    def rel(self, path: Path) -> str:
        """``path`` relative to the capture, as diagnostics name it."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def where(self, rel: str) -> str:
        """A file's name for a message: the capture's label and the path inside it."""
        return f"{self.label}/{rel}"

    @property
    def hostname(self) -> str:
        """The captured host's name."""
        host = self.manifest.get("host")
        if isinstance(host, str) and host.strip():
            return host.strip()
        for rel in ("sos_commands/host/hostname", "hostname", "etc/hostname"):
            p = self.root / rel
            if p.is_file():
                text = self.read(p).strip()
                if text:
                    return text.split()[0]
        name = self.root.name
        m = re.match(r"^sosreport-(?P<host>.+?)-\d{4}-\d{2}-\d{2}-", name)
        return m.group("host") if m else name

    # -- reading ---------------------------------------------------------------------------
    def read(self, path: Path) -> str:
        """The text of ``path`` (remembered as used); undecodable bytes are replaced."""
        self.used.add(self.rel(path))
        data = path.read_bytes()
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.notes.append(Note(self.rel(path), f"not UTF-8 text (byte {exc.start} is "
                                   f"{data[exc.start]:#04x}): undecodable bytes were replaced"))
            return data.decode("utf-8", errors="replace")

    def first(self, candidates: Iterable[Path]) -> Path | None:
        """The first of ``candidates`` that is a non-empty file inside the capture, else the
        first empty one (a command that ran and printed nothing, such as ``iptables-save`` in
        a namespace without rules), else None."""
        empty: Path | None = None
        for p in candidates:
            if not p.is_file() or not _inside(self.root, p):
                continue
            if p.stat().st_size > 0:
                return p
            empty = empty or p
        return empty

    # -- Open vSwitch ----------------------------------------------------------------------
    def ovs_candidates(self, names: Sequence[str]) -> list[Path]:
        """Where an OVS command's output may be: each name, with each snap prefix, in each OVS
        plugin folder (``openvswitch`` first)."""
        out = []
        for name in names:
            for plugin in OVS_PLUGINS:
                for prefix in SNAP_PREFIXES:
                    out.append(self.root / "sos_commands" / plugin / (prefix + name))
        return out

    def ovs(self, *names: str) -> Path | None:
        """The first OVS dump found among ``names`` (sos file names without snap prefix)."""
        return self.first(self.ovs_candidates(names))

    # -- Linux -----------------------------------------------------------------------------
    def net_candidates(self, names: Sequence[str], namespace: str = "",
                       plugin: str = "networking") -> list[Path]:
        """Where a networking command's output may be, for the root namespace (``""``) or a
        namespace (both of sos's layouts)."""
        base = self.root / "sos_commands" / plugin
        out = []
        for name in names:
            if not namespace:
                out.append(base / name)
                continue
            ns_name = f"ip_netns_exec_{namespace}_{name}"
            out += [base / "namespaces" / namespace / ns_name, base / ns_name]
        return out

    def net(self, *names: str, namespace: str = "", plugin: str = "networking") -> Path | None:
        """The first output found among ``names`` for ``namespace``."""
        return self.first(self.net_candidates(names, namespace, plugin))

    def namespaces(self) -> tuple[str, ...]:
        """The namespaces the capture holds: the manifest's list (``neutrace collect`` records
        which namespaces it captured, after ``--netns-prefix``), else those ``ip netns`` lists
        and those it has outputs for."""
        from neutrace.syntax.iproute import parse_netns_list, valid_netns_name

        recorded = self.manifest.get("namespaces")
        if isinstance(recorded, list) and all(isinstance(n, str) for n in recorded):
            return tuple(sorted(n for n in recorded if valid_netns_name(n)))
        listed = self.net("ip_netns", "ip_netns_list")
        names: set[str] = set()
        if listed is not None:
            try:
                names = set(parse_netns_list(self.read(listed), self.where(self.rel(listed))))
            except InputError as exc:
                self.notes.append(Note(self.rel(listed), f"{exc.problem}: namespaces are "
                                       "taken from the per-namespace files instead"))
        base = self.root / "sos_commands" / "networking"
        if (base / "namespaces").is_dir():
            names |= {p.name for p in (base / "namespaces").iterdir() if p.is_dir()}
        if base.is_dir():
            for p in base.iterdir():
                m = re.match(r"^ip_netns_exec_(?P<ns>[A-Za-z0-9_.\-]+?)_(ip|iptables|ip6tables"
                             r"|ipset|sysctl|netstat|ss|nstat|ethtool|bridge)[_-]", p.name)
                if m:
                    names.add(m.group("ns"))
        return tuple(sorted(n for n in names if valid_netns_name(n)))

    def file(self, *rels: str) -> Path | None:
        """A copied file (``etc/neutron/...``) by its path under the captured host's root."""
        return self.first(self.root / r for r in rels)

    def glob(self, pattern: str) -> list[Path]:
        """Copied files matching ``pattern`` under the root (regular files inside only)."""
        return sorted(p for p in self.root.glob(pattern) if p.is_file() and _inside(self.root, p))


def _inside(root: Path, p: Path) -> bool:
    try:
        p.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True
