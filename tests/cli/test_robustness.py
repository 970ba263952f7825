"""The command line on hostile or broken input (issue 14): one ``error: ...`` line and exit
status 2 for what the user can fix, ``warning: ...`` for partial input that still loads, and the
last resort (an unexpected exception: one line, status 4) never needed by bad input: these tests
run with it turned off."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from neutrace import cli
from neutrace.importers.ovs_dumps import write_sos
from tests.support.neutron_like import bridges
from tests.support.paths import SEED_YAML


@pytest.fixture()
def no_last_resort() -> Iterator[None]:
    cli.LAST_RESORT["enabled"] = False
    try:
        yield
    finally:
        cli.LAST_RESORT["enabled"] = True


def main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``neutrace argv...`` through the entry point: exit status, stdout, stderr."""
    old = sys.argv
    sys.argv = ["neutrace", *argv]
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = old
    out = capsys.readouterr()
    return code, out.out, out.err


def _bad_files(tmp: Path) -> list[tuple[str, ...]]:
    """Command lines over broken files, one per class of bad input."""
    cases: list[tuple[str, ...]] = []
    for name, body in {
        "tags.yaml": b"name: !!timestamp 2001-01-01\n",
        "bomb.yaml": b"a: &a [x,x,x,x,x,x,x,x,x,x]\n" + b"".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [".encode() + b",".join(
                [f"*{chr(97 + i)}".encode()] * 10) + b"]\n" for i in range(8)),
        "deep.json": b'{"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        "nan.json": b'{"name": NaN}',
        "dup.json": b'{"name": "a", "name": "b"}',
        "bytes.yaml": b"name: caf\xe9\n",
        "ctrl.yaml": b"name: a\x01\n",
        "huge.yaml": b"name: x\nhosts: [{name: a, vlan: " + b"9" * 5000 + b"}]\n",
    }.items():
        (tmp / name).write_bytes(body)
        cases.append(("show", str(tmp / name)))
    cases.append(("show", str(tmp / "a\x00b.yaml")))
    cases.append(("show", str(tmp / ("x" * 300))))
    flows = tmp / "flows.txt"
    flows.write_bytes(b"priority=1,reg0=" + b"9" * 5000 + b" actions=drop\n")
    ports = tmp / "ports.txt"
    ports.write_bytes(b"OFPT_FEATURES_REPLY (xid=0x2): dpid:01\n LOCAL(br-int): addr:fa:16:3e:0:0:1"
                      b"\n 1(qvo\xff): addr:fa:16:3e:00:00:02\n")
    cases.append(("ofproto-trace", "--flows", f"br-int={flows}", "--ports", f"br-int={ports}",
                  "in_port=1,arp"))
    cases.append(("ofproto-trace", "--sos", str(tmp / ("s" * 5000)), "in_port=1,arp"))
    for microflow in ("in_port=²,arp", "in_port=1,tcp,dl_vlan_pcp=99999",
                      "in_port=1,tcp,tcp_dst=70000", "in_port=1,ip,nw_ttl=256",
                      "in_port=1,arp,arp_op=65536", "in_port=1,ip,tun_id=0x1" + "0" * 16,
                      "in_port=1," + "ip," * 100_000):
        cases.append(("ofproto-trace", "--cloud", str(SEED_YAML), "--host", "test-cmpt-01",
                      microflow))
    for dport in ("-1", "70000"):
        cases.append(("trace", str(SEED_YAML), "--from", "test-01", "--to", "203.0.113.10",
                      "--proto", "tcp", "--dport", dport))
    return cases


def test_bad_input_is_one_line_and_status_2_without_the_last_resort(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], no_last_resort: None) -> None:
    for argv in _bad_files(tmp_path):
        code, out, err = main(capsys, *argv)
        assert code == 2, (argv[:3], err[-500:])
        assert "Traceback" not in err
        if any("\x00" in a for a in argv):  # refused by typer's own Path check: a usage block
            assert "null byte" in err
            continue
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "(fix: " in lines[0], (
            argv[:3], err[:500])
        assert len(lines[0]) < 1200 and "Traceback" not in err


@pytest.mark.parametrize("dport", ["-1", "70000"])
def test_dport_out_of_range(capsys: pytest.CaptureFixture[str], dport: str) -> None:
    code, _, err = main(capsys, "trace", str(SEED_YAML), "--from", "test-01", "--to",
                        "203.0.113.10", "--proto", "tcp", "--dport", dport)
    assert code == 2
    assert err.startswith(f"error: --dport {dport}: not a port number (fix: use 1-65535)")


def test_partial_input_is_a_warning_line(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_sos(bridges(), tmp_path)
    for f in folder.glob("ovs-ofctl_dump-flows_*"):
        f.unlink()
    code, out, err = main(capsys, "ofproto-trace", "--sos", str(tmp_path),
                          "in_port=1,arp", "--bridge", "br-int")
    assert err.startswith("warning: ") and "no dump-flows file for bridge(s)" in err
    assert "Traceback" not in err


def test_the_last_resort_prints_one_line_and_status_4(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr("neutrace.topology.load", broken)
    code, _, err = main(capsys, "show", str(SEED_YAML))
    assert code == 4
    assert err.strip().splitlines() == [
        "error: internal error: KeyError: 'a bug' (this is a bug in neutrace: please report it "
        "with the input that caused it)"]
