"""`neutrace collect`'s rules (neutrace.importers.collect), without a host: sos's file names,
the allow-list (every command run is one of `COMMANDS`, as an argument list, names checked
first), timeouts and missing tools recorded in the manifest, the private-OVS options. The real
capture of a real OVS and namespaces is tests/functional/ovs/test_collect_live.py."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from neutrace.errors import InputError
from neutrace.importers import collect as C


@pytest.mark.parametrize(("command", "name"), [
    ("ovs-vsctl -t 5 show", "ovs-vsctl_-t_5_show"),
    ("ovs-appctl fdb/show br-int", "ovs-appctl_fdb.show_br-int"),
    ("ovs-ofctl -O OpenFlow13 dump-flows br-tun", "ovs-ofctl_-O_OpenFlow13_dump-flows_br-tun"),
    ("ip netns exec qrouter-1  ip -d address show",  # sos's own double space
     "ip_netns_exec_qrouter-1_ip_-d_address_show"),
    ("/usr/sbin/iptables-save", "iptables-save"),
    ("ovs-vsctl -t 5 --format=json list Port", "ovs-vsctl_-t_5_--format_json_list_Port"),
    ("ip route show table all", "ip_route_show_table_all"),
])
def test_sos_file_names(command: str, name: str) -> None:
    assert C.mangle(command) == name


class FakeHost:
    """Answers the allow-listed commands like a small host would, and records each call."""

    def __init__(self, bridges: str = "br-int\nbr-tun\n", netns: str = "qrouter-1 (id: 0)\n",
                 hang: str = "") -> None:
        self.calls: list[list[str]] = []
        self.bridges, self.netns, self.hang = bridges, netns, hang

    def __call__(self, argv: list[str], **kw: Any) -> subprocess.CompletedProcess[bytes]:
        assert isinstance(argv, list) and all(isinstance(a, str) for a in argv)
        assert "shell" not in kw
        self.calls.append(argv)
        if self.hang and self.hang in argv:
            raise subprocess.TimeoutExpired(argv, kw["timeout"], stderr=b"stuck")
        out = b""
        if argv[-1] == "list-br":
            out = self.bridges.encode()
        elif argv[-2:] == ["ip", "netns"] or argv == ["ip", "netns"]:
            out = self.netns.encode()
        elif argv[-1] == "show" and "fdb/show" not in argv:
            out = b"ok\n"
        return subprocess.CompletedProcess(argv, 0, out, b"")


def _allowed(argv: list[str], opts: C.CollectOptions) -> bool:
    core = list(argv)
    if core[:3] == ["ip", "netns", "exec"]:
        assert core[3].startswith(opts.netns_prefix)
        core = core[4:]
    if core[0] == "ovs-vsctl" and core[1].startswith("--db="):
        core = [core[0], *core[2:]]
    if core[0] == "ovs-appctl" and core[1] == "-t":
        core = [core[0], *core[3:]]
    for cmd in C.COMMANDS:
        if len(cmd.argv) == len(core) and all(
                a == b or a in ("{bridge}", "{domain}") for a, b in zip(cmd.argv, core,
                                                                         strict=True)):
            return True
    return argv[1:2] in (["--version"], ["-V"])


def test_only_allow_listed_argument_lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    monkeypatch.setattr(C.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(C, "_module_loaded", lambda spec: True)
    rundir = tmp_path / "ovs"
    rundir.mkdir()
    (rundir / "db.sock").touch()
    (rundir / "ovs-vswitchd.ctl").touch()
    host = FakeHost(bridges="br-int\nbr;rm -rf /\n../x\n", netns="nt-9-qrouter-1\nother\n")
    opts = C.CollectOptions(tmp_path / "out", ovs_rundir=str(rundir), netns_prefix="nt-9-",
                            hostname="h1")
    C.collect(opts, run=host)
    assert host.calls and all(_allowed(c, opts) for c in host.calls)
    flat = [" ".join(c) for c in host.calls]
    assert not any("rm -rf" in c or "../x" in c for c in flat)      # unsafe names never run
    assert any(c.startswith("ip netns exec nt-9-qrouter-1 ip -d -j address show") for c in flat)
    assert not any("exec other" in c for c in flat)                 # outside the prefix
    assert any(c.startswith(f"ovs-vsctl --db=unix:{rundir}/db.sock") for c in flat)
    assert any(c.startswith(f"ovs-appctl -t {rundir}/ovs-vswitchd.ctl fdb/show br-int")
               for c in flat)
    man = json.loads((tmp_path / "out" / C.MANIFEST).read_text())
    assert man["host"] == "h1" and man["bridges"] == ["br-int"]
    assert man["namespaces"] == ["qrouter-1"]
    assert (tmp_path / "out/sos_commands/networking/namespaces/qrouter-1/"
            "ip_netns_exec_qrouter-1_ip_-d_-j_address_show").is_file()
    assert (tmp_path / "out/sos_commands/host/hostname").read_text() == "h1\n"


def test_timeouts_missing_tools_and_modules_are_recorded(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(C.shutil, "which",
                        lambda name: None if name == "virsh" else "/usr/bin/" + name)
    monkeypatch.setattr(C, "_module_loaded", lambda spec: "conntrack" not in spec)
    host = FakeHost(hang="dump-flows")
    C.collect(C.CollectOptions(tmp_path / "out", timeout=0.5), run=host)
    man = json.loads((tmp_path / "out" / C.MANIFEST).read_text())
    by = {c["command"]: c for c in man["commands"]}
    flows = by["ovs-ofctl -O OpenFlow13 dump-flows br-int"]
    assert flows["timed_out"] and flows["file"] is None and flows["stderr"] == "stuck"
    assert by["virsh -r list --all --name"]["skipped"] == "virsh not found"
    assert "nf_conntrack_netlink not loaded" in by["conntrack -L -o extended"]["skipped"]
    assert not any(c[0] == "conntrack" and c[1] != "--version" for c in host.calls)
    assert by["ovs-vsctl -t 5 show"]["status"] == 0


def test_output_must_be_new_or_empty_and_tar(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").touch()
    with pytest.raises(InputError, match="not empty"):
        C.collect(C.CollectOptions(tmp_path / "full"), run=FakeHost())
    monkeypatch.setattr(C.shutil, "which", lambda name: "/usr/bin/" + name)
    archive = C.collect(C.CollectOptions(tmp_path / "cap", tar=True), run=FakeHost())
    import tarfile
    assert archive.name == "cap.tar.xz"
    with tarfile.open(archive) as t:
        assert "cap/neutrace-collect.json" in t.getnames()


def test_copies_only_listed_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(C.shutil, "which", lambda name: None)
    root = tmp_path / "root"
    for rel, text in (("etc/neutron/plugins/ml2/openvswitch_agent.ini", "[ovs]\n"),
                      ("etc/neutron/neutron.conf", "transport_url = rabbit://u:secret@h\n"),
                      ("run/libvirt/qemu/instance-1.xml", "<domain/>"),
                      ("var/lib/neutron/dhcp/n1/host", "fa:16:3e:00:00:01,h,10.0.0.3\n")):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "run/libvirt/qemu/link.xml").symlink_to("/etc/shadow")
    C.collect(C.CollectOptions(tmp_path / "out", sysroot=str(root)), run=FakeHost())
    out = tmp_path / "out"
    assert (out / "etc/neutron/plugins/ml2/openvswitch_agent.ini").read_text() == "[ovs]\n"
    assert (out / "run/libvirt/qemu/instance-1.xml").exists()
    assert (out / "var/lib/neutron/dhcp/n1/host").exists()
    assert not (out / "etc/neutron/neutron.conf").exists()
    assert not (out / "run/libvirt/qemu/link.xml").exists()
