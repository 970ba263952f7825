"""``neutrace collect`` (layer 3): a read-only capture of one live host, in a sosreport's layout.

What runs is a fixed allow-list (`COMMANDS`): argument lists, never a shell, each with a
timeout. The only values that reach a command line are names the host itself listed (bridges
from ``ovs-vsctl list-br``, namespaces from ``ip netns list``, libvirt domains from ``virsh
list``), each checked against a strict alphabet first. Commands that would load a kernel module
(``conntrack`` without ``nf_conntrack_netlink``, iptables-nft without ``nf_tables``, ``ipset``
without ``ip_set``) are skipped and the manifest says why, as sos does, so collecting changes
nothing on the host.

Output (``-o DIR``), named as sos names its files (``sos/report/plugins/__init__.py``'s
``_mangle_command``: runs of characters other than letters, digits, ``-``, ``.``, ``/`` become
``_``, ``/`` becomes ``.``):

- ``sos_commands/openvswitch/``: ``ovs-vsctl_-t_5_show``, ``ovs-vsctl_-t_5_list_interface``...
  and the JSON listings ``ovs-vsctl_-t_5_--format_json_list_{Bridge,Port,Interface}``; per
  bridge ``ovs-ofctl_-O_OpenFlow13_{show,dump-flows,dump-groups}_BR`` and
  ``ovs-appctl_fdb.show_BR``;
- ``sos_commands/networking/``: ``ip_-d_-j_address_show``, ``ip_-d_-j_route_show_table_all``,
  ``ip_-6_-d_-j_route_show_table_all``, ``ip_-j_rule_show``, ``ip_-j_neigh_show``,
  ``bridge_-d_-j_fdb_show``, ``iptables-save``, ``ipset_save``..., and per namespace NS (sos
  4.3+'s layout) ``namespaces/NS/ip_netns_exec_NS_ip_-d_-j_address_show`` and so on;
- ``sos_commands/kernel/sysctl_-a``, ``sos_commands/conntrack/conntrack_-L_-o_extended`` (and
  ``ip_netns_exec_NS_conntrack_-L_-o_extended``), ``sos_commands/virsh/virsh_-r_dumpxml_D``;
- files copied at their path: ``etc/neutron/plugins/ml2/*.ini`` (the agents' configuration:
  bridge mappings, local_ip), ``run/libvirt/qemu/*.xml`` and ``etc/libvirt/qemu/*.xml``
  (instances and their taps), ``var/lib/neutron/dhcp/*/{host,opts}`` (the DHCP agent's
  MAC → IP table); never a file that holds secrets (neutron.conf, metadata_agent.ini);
- ``sos_commands/host/hostname`` and ``neutrace-collect.json``, the manifest: host name, time,
  versions, options, and for every command its argument list, file, exit status, duration and
  stderr.

A private Open vSwitch is read with ``ovs_rundir`` (``OVS_RUNDIR``: ``ovs-ofctl`` finds
``BR.mgmt`` there, ``ovs-vsctl`` its ``db.sock``, ``ovs-appctl`` its ``ovs-vswitchd.ctl``) or
explicit ``ovs_db``/``ovs_ctl``; ``netns_prefix`` restricts the namespaces to those whose name
starts with it and records them without it (a test bed whose namespaces are
``nt-1234-ctrl-qrouter-…`` captures as a host whose namespaces are ``qrouter-…``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from neutrace.errors import InputError
from neutrace.syntax.iproute import parse_netns_list, valid_netns_name

MANIFEST = "neutrace-collect.json"
FORMAT = "neutrace-collect"
FORMAT_VERSION = 1
NAME_MAX = 255
DEFAULT_TIMEOUT = 30.0
MAX_COPY_BYTES = 4 * 1024 * 1024

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def mangle(command: str) -> str:
    """sos's file name for a command (``_mangle_command``)."""
    name = re.sub(r"^/(usr/|)(bin|sbin)/", "", command)
    name = re.sub(r"[^\w\-./]+", "_", name)
    name = re.sub(r"/", ".", name).strip(" ._-")
    return name[:NAME_MAX]


@dataclass(frozen=True, slots=True)
class Command:
    """An allowed command. ``argv`` is what sos would run (its file name comes from it);
    ``{bridge}``/``{domain}`` are filled with names the host listed. ``plugin`` is the sos
    plugin folder; ``needs`` kernel modules that must already be loaded (else it is skipped);
    ``per`` says what it runs for: ``host``, ``bridge``, ``netns`` (also run inside each
    namespace with ``ip netns exec``), ``netns-only``, ``domain``."""

    plugin: str
    argv: tuple[str, ...]
    per: str = "host"
    needs: tuple[str, ...] = ()


_VSCTL = ("ovs-vsctl", "-t", "5")
_IPTABLES_NEEDS = ("nf_tables|ip_tables",)
COMMANDS: tuple[Command, ...] = (
    Command("openvswitch", (*_VSCTL, "show")),
    Command("openvswitch", (*_VSCTL, "list-br")),
    Command("openvswitch", (*_VSCTL, "list", "Open_vSwitch")),
    Command("openvswitch", (*_VSCTL, "list", "bridge")),
    Command("openvswitch", (*_VSCTL, "list", "interface")),
    Command("openvswitch", (*_VSCTL, "--format=json", "list", "Open_vSwitch")),
    Command("openvswitch", (*_VSCTL, "--format=json", "list", "Bridge")),
    Command("openvswitch", (*_VSCTL, "--format=json", "list", "Port")),
    Command("openvswitch", (*_VSCTL, "--format=json", "list", "Interface")),
    Command("openvswitch", ("ovs-appctl", "dpif/show")),
    Command("openvswitch", ("ovs-ofctl", "-O", "OpenFlow13", "show", "{bridge}"), "bridge"),
    Command("openvswitch", ("ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "{bridge}"),
            "bridge"),
    Command("openvswitch", ("ovs-ofctl", "-O", "OpenFlow13", "dump-groups", "{bridge}"),
            "bridge"),
    Command("openvswitch", ("ovs-appctl", "fdb/show", "{bridge}"), "bridge"),
    Command("networking", ("ip", "netns")),
    Command("networking", ("ip", "-d", "-j", "address", "show"), "netns"),
    Command("networking", ("ip", "-d", "-j", "link", "show"), "netns"),
    Command("networking", ("ip", "-d", "-j", "route", "show", "table", "all"), "netns"),
    Command("networking", ("ip", "-6", "-d", "-j", "route", "show", "table", "all"), "netns"),
    Command("networking", ("ip", "-j", "rule", "show"), "netns"),
    Command("networking", ("ip", "-6", "-j", "rule", "show"), "netns"),
    Command("networking", ("ip", "-j", "neigh", "show"), "netns"),
    Command("networking", ("ip", "-j", "netns", "list-id"), "netns"),
    Command("networking", ("bridge", "-d", "-j", "fdb", "show"), "netns", ("bridge",)),
    Command("networking", ("bridge", "-d", "-j", "link", "show"), "netns", ("bridge",)),
    Command("networking", ("iptables-save",), "netns", _IPTABLES_NEEDS),
    Command("networking", ("ip6tables-save",), "netns", ("nf_tables|ip6_tables",)),
    Command("networking", ("ipset", "save"), "netns", ("ip_set",)),
    Command("kernel", ("sysctl", "-a"), "host"),
    Command("networking", ("sysctl", "-a"), "netns-only"),
    Command("conntrack", ("conntrack", "-L", "-o", "extended"), "netns",
            ("nf_conntrack_netlink",)),
    Command("virsh", ("virsh", "-r", "list", "--all", "--name")),
    Command("virsh", ("virsh", "-r", "dumpxml", "{domain}"), "domain"),
)

# Files copied (read only) from the host, relative to its root (``sysroot``): the agents'
# configuration, libvirt's domain definitions, the DHCP agent's host tables. Never neutron.conf
# or metadata_agent.ini (they hold passwords and the metadata secret).
COPY_GLOBS: tuple[str, ...] = (
    "etc/neutron/plugins/ml2/openvswitch_agent.ini",
    "etc/neutron/plugins/ml2/ml2_conf.ini",
    "etc/neutron/l3_agent.ini",
    "etc/neutron/dhcp_agent.ini",
    "etc/kolla/neutron-openvswitch-agent/openvswitch_agent.ini",
    "var/snap/openstack-hypervisor/common/etc/neutron/plugins/ml2/openvswitch_agent.ini",
    "run/libvirt/qemu/*.xml",
    "etc/libvirt/qemu/*.xml",
    "var/lib/neutron/dhcp/*/host",
    "var/lib/neutron/dhcp/*/opts",
    "var/lib/neutron/dhcp/*/addn_hosts",
)


@dataclass(frozen=True)
class CollectOptions:
    """How to collect: where to write, which OVS and namespaces to read."""

    output: Path
    ovs_rundir: str | None = None
    ovs_db: str | None = None
    ovs_ctl: str | None = None
    netns_prefix: str = ""
    hostname: str | None = None
    sysroot: str = "/"
    timeout: float = DEFAULT_TIMEOUT
    tar: bool = False


@dataclass
class Ran:
    """One command as run: for the manifest."""

    argv: list[str]
    command: str
    file: str | None
    status: int | None
    seconds: float
    timed_out: bool = False
    stderr: str = ""
    skipped: str = ""


@dataclass
class _Collector:
    opts: CollectOptions
    run: Callable[..., subprocess.CompletedProcess[bytes]] = subprocess.run
    ran: list[Ran] = field(default_factory=list)
    copied: list[dict[str, object]] = field(default_factory=list)

    # -- the OVS side ----------------------------------------------------------------------
    def ovs_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.opts.ovs_rundir:
            env["OVS_RUNDIR"] = self.opts.ovs_rundir
        return env

    def actual(self, argv: Sequence[str], netns: str | None) -> list[str]:
        """The argument list run for the allow-listed ``argv`` (private OVS options added,
        ``ip netns exec`` prefixed)."""
        out = list(argv)
        rundir = self.opts.ovs_rundir or os.environ.get("OVS_RUNDIR")
        if out[0] == "ovs-vsctl":
            db = self.opts.ovs_db
            if db is None and rundir and Path(rundir, "db.sock").exists():
                db = f"unix:{Path(rundir, 'db.sock')}"
            if db:
                out.insert(1, f"--db={db}")
        elif out[0] == "ovs-appctl":
            ctl = self.opts.ovs_ctl
            if ctl is None and rundir and Path(rundir, "ovs-vswitchd.ctl").exists():
                ctl = str(Path(rundir, "ovs-vswitchd.ctl"))
            if ctl:
                out[1:1] = ["-t", ctl]
        if netns is not None:
            out = ["ip", "netns", "exec", self.opts.netns_prefix + netns, *out]
        return out

    def execute(self, cmd: Command, argv: tuple[str, ...], netns: str | None = None,
                subdir: str = "") -> str | None:
        """Run one allowed command; write its stdout where sos would; return the stdout."""
        shown = " ".join(argv) if netns is None else f"ip netns exec {netns} {' '.join(argv)}"
        rel = Path("sos_commands") / cmd.plugin / subdir / mangle(shown)
        missing = [m for m in cmd.needs if not _module_loaded(m)]
        if missing:
            self.ran.append(Ran(list(argv), shown, None, None, 0.0,
                                skipped=f"kernel module {' or '.join(missing[0].split('|'))} "
                                        "not loaded (running it would load it)"))
            return None
        real = self.actual(argv, netns)
        if shutil.which(real[0]) is None:
            self.ran.append(Ran(real, shown, None, None, 0.0, skipped=f"{real[0]} not found"))
            return None
        start = time.monotonic()
        try:
            proc = self.run(real, capture_output=True, timeout=self.opts.timeout,
                            env=self.ovs_env(), stdin=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired as exc:
            self.ran.append(Ran(real, shown, None, None, time.monotonic() - start, True,
                                _text(exc.stderr)[-2000:]))
            return None
        seconds = round(time.monotonic() - start, 3)
        out = proc.stdout or b""
        path = self.opts.output / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(out)
        self.ran.append(Ran(real, shown, str(rel), proc.returncode, seconds, False,
                            _text(proc.stderr)[-2000:]))
        return _text(out)

    # -- the walk over the allow-list ------------------------------------------------------
    def collect(self) -> None:
        out = self.opts.output
        bridges: list[str] = []
        domains: list[str] = []
        namespaces: list[str] = []
        for cmd in COMMANDS:
            if cmd.per in ("bridge", "domain", "netns-only"):
                continue
            text = self.execute(cmd, cmd.argv)
            if cmd.argv[-1] == "list-br" and text is not None and self._ok():
                bridges = _names(text)
            elif cmd.argv[:4] == ("virsh", "-r", "list", "--all") and text is not None \
                    and self._ok():
                domains = _names(text)
            elif cmd.argv == ("ip", "netns") and text is not None and self._ok():
                namespaces = self._namespaces(text)
        for cmd in COMMANDS:
            if cmd.per == "bridge":
                for br in bridges:
                    self.execute(cmd, tuple(a.replace("{bridge}", br) for a in cmd.argv))
            elif cmd.per == "domain":
                for dom in domains:
                    self.execute(cmd, tuple(a.replace("{domain}", dom) for a in cmd.argv))
        for ns in namespaces:
            for cmd in COMMANDS:
                if cmd.per in ("netns", "netns-only"):
                    sub = f"namespaces/{ns}" if cmd.plugin == "networking" else ""
                    self.execute(cmd, cmd.argv, netns=ns, subdir=sub)
        self._copy_files()
        host = self.opts.hostname or socket.gethostname()
        (out / "sos_commands" / "host").mkdir(parents=True, exist_ok=True)
        (out / "sos_commands" / "host" / "hostname").write_text(host + "\n")
        self._manifest(host, bridges, namespaces, domains)

    def _ok(self) -> bool:
        return bool(self.ran) and self.ran[-1].status == 0

    def _namespaces(self, text: str) -> list[str]:
        prefix = self.opts.netns_prefix
        out = []
        for name in parse_netns_list(text, "ip netns"):
            if not name.startswith(prefix):
                continue
            short = name[len(prefix):]
            if short and valid_netns_name(short):
                out.append(short)
        return sorted(out)

    def _copy_files(self) -> None:
        root = Path(self.opts.sysroot)
        for pattern in COPY_GLOBS:
            for src in sorted(root.glob(pattern)):
                rel = src.relative_to(root)
                if src.is_symlink() or not src.is_file():
                    continue
                size = src.stat().st_size
                if size > MAX_COPY_BYTES:
                    self.copied.append({"path": str(rel), "skipped": f"{size} bytes"})
                    continue
                dest = self.opts.output / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)
                self.copied.append({"path": str(rel), "from": str(src), "bytes": size})

    def _manifest(self, host: str, bridges: list[str], namespaces: list[str],
                  domains: list[str]) -> None:
        versions: dict[str, str] = {}
        for tool, argv in (("ovs-vsctl", ["ovs-vsctl", "--version"]), ("ip", ["ip", "-V"]),
                           ("iptables", ["iptables", "-V"]),
                           ("conntrack", ["conntrack", "--version"])):
            if shutil.which(argv[0]) is None:
                continue
            try:
                p = self.run(argv, capture_output=True, timeout=self.opts.timeout, check=False)
                lines = _text(p.stdout or p.stderr).strip().splitlines()
            except (subprocess.TimeoutExpired, OSError):
                continue
            if lines:
                versions[tool] = lines[0]
        versions["kernel"] = os.uname().release
        from neutrace import __version__

        doc = {
            "format": FORMAT, "version": FORMAT_VERSION, "host": host,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "neutrace": __version__, "versions": versions,
            "options": {"ovs_rundir": self.opts.ovs_rundir, "ovs_db": self.opts.ovs_db,
                        "ovs_ctl": self.opts.ovs_ctl, "netns_prefix": self.opts.netns_prefix,
                        "sysroot": self.opts.sysroot, "timeout": self.opts.timeout},
            "bridges": bridges, "namespaces": namespaces, "domains": domains,
            "commands": [{"command": r.command, "argv": r.argv, "file": r.file,
                          "status": r.status, "seconds": r.seconds, "timed_out": r.timed_out,
                          "stderr": r.stderr, **({"skipped": r.skipped} if r.skipped else {})}
                         for r in self.ran],
            "files": self.copied,
        }
        (self.opts.output / MANIFEST).write_text(json.dumps(doc, indent=1) + "\n")


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    return data.decode("utf-8", errors="replace")


def _names(text: str) -> list[str]:
    """Names one per line, each checked against a strict alphabet (others are dropped)."""
    return sorted({n.strip() for n in text.splitlines() if _SAFE_NAME.match(n.strip())})


def _module_loaded(spec: str) -> bool:
    """True if one of the ``|``-separated kernel modules is loaded or built in (so a command
    that needs it loads nothing). A kernel without loadable modules (no ``/proc/modules``)
    cannot load one either."""
    modules = Path("/proc/modules")
    if not modules.exists():
        return True
    loaded = {line.split(" ", 1)[0] for line in modules.read_text().splitlines()}
    builtin = Path("/lib/modules", os.uname().release, "modules.builtin")
    built = set()
    if builtin.exists():
        built = {Path(line).name.removesuffix(".ko").replace("-", "_")
                 for line in builtin.read_text().splitlines()}
    return any(name in loaded or name in built or Path("/sys/module", name).exists()
               for name in spec.split("|"))


def collect(opts: CollectOptions,
            run: Callable[..., subprocess.CompletedProcess[bytes]] = subprocess.run) -> Path:
    """Capture the host into ``opts.output`` (which must not exist or be empty); with
    ``opts.tar`` also pack it as ``<output>.tar.xz``. Returns the folder (or the archive)."""
    out = opts.output
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(str(out), "", "the output folder exists and is not empty",
                         "give a new folder with -o")
    out.mkdir(parents=True, exist_ok=True)
    _Collector(opts, run).collect()
    if not opts.tar:
        return out
    archive = out.with_name(out.name + ".tar.xz")
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(out, arcname=out.name)
    return archive
