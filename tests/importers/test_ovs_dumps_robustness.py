"""The sos-folder importer on broken real-world folders (issue 14): bytes that are not UTF-8 in
any dump (refused with the file, line and column, or read in lossy mode with a warning), paths
that cannot be stat-ed (a name past NAME_MAX, a NUL), a bridge whose name makes its dump's file
name impossible, a folder without dump-flows (loads, with a warning that says what it costs),
bad tunnel options."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from neutrace.dataplane import Flow, OvsBridge, OvsPort
from neutrace.errors import InputError, InputWarning, SyntaxParseError
from neutrace.importers.ovs_dumps import load_paths, load_sos, write_sos
from neutrace.limits import limited
from tests.support.neutron_like import bridges


def _folder(tmp_path: Path) -> Path:
    return write_sos(bridges(), tmp_path)


@pytest.mark.parametrize("name", ["ovs-vsctl_-t_5_show", "ovs-ofctl_show_br-int",
                                  "ovs-ofctl_dump-flows_br-int"])
def test_a_byte_that_is_not_utf8_in_any_dump(tmp_path: Path, name: str) -> None:
    folder = _folder(tmp_path)
    path = folder / name
    lines = path.read_bytes().split(b"\n")
    lines[1] = lines[1][:3] + b"\xff" + lines[1][3:]
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(SyntaxParseError) as info:
        load_sos(tmp_path)
    assert str(info.value).startswith(f"{path}:2:4: line 2: byte 0xff (column 4) is not UTF-8")
    assert "lossy" in info.value.fix


def test_lossy_mode_reads_comment_like_bytes_and_warns(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    flows = folder / "ovs-ofctl_dump-flows_br-int"
    flows.write_bytes(b"# caf\xe9 dump\n" + flows.read_bytes())
    with pytest.warns(InputWarning, match=r"ovs-ofctl_dump-flows_br-int:1: byte 0xe9.*lossy"):
        loaded = {b.name: b for b in load_sos(tmp_path, lossy=True)}
    assert loaded["br-int"].flows == next(b for b in bridges() if b.name == "br-int").flows


def test_paths_that_cannot_be_stat_ed(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no `ovs-vsctl show` dump found"):
        load_sos(tmp_path / ("x" * 5000))  # ENAMETOOLONG from every stat
    with pytest.raises(InputError, match="no `ovs-vsctl show` dump found"):
        load_sos(str(tmp_path) + "/a\x00b")
    with pytest.raises(InputError, match="no such file"):
        load_paths([str(tmp_path / ("y" * 300))], [str(tmp_path / "z\x00")])


def test_a_bridge_name_past_name_max(tmp_path: Path) -> None:
    long_name = "br-" + "x" * 300
    model = (OvsBridge(long_name, (OvsPort("p1", 1),), (Flow(0, 1, (), "drop"),)),)
    folder = tmp_path / "sos_commands" / "openvswitch"
    folder.mkdir(parents=True)
    from neutrace.syntax.ovsdump import (
        ShowBridge,
        ShowInterface,
        ShowPort,
        VsctlShow,
        format_vsctl_show,
    )

    show = VsctlShow("00000000-0000-4000-8000-000000000000", (ShowBridge(long_name, ports=(
        ShowPort("p1", interfaces=(ShowInterface("p1"),)),)),))
    (folder / "ovs-vsctl_-t_5_show").write_text(format_vsctl_show(show))
    (folder / "ovs-vsctl_-t_5_list_interface").write_text(
        '_uuid               : 1\nname                : p1\nofport              : 1\n')
    with pytest.warns(InputWarning, match="no dump-flows file for bridge"):
        loaded = load_sos(tmp_path)
    assert [b.name for b in loaded] == [model[0].name] and loaded[0].flows == ()


def test_a_folder_without_dump_flows_warns(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    for f in folder.glob("ovs-ofctl_dump-flows_*"):
        f.unlink()
    with pytest.warns(InputWarning) as record:
        loaded = load_sos(tmp_path)
    message = str(record[0].message)
    assert "no dump-flows file for bridge(s) br-int" in message
    assert "every packet misses their tables" in message
    assert all(b.flows == () for b in loaded)


def test_a_complete_folder_loads_without_warning(tmp_path: Path) -> None:
    _folder(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        load_sos(tmp_path)


@pytest.mark.parametrize("option", ["remote_ip=10.0.0.300", "in_key=٣", "out_key=0x" + "f" * 30,
                                    "local_ip=zz"])
def test_bad_tunnel_options(tmp_path: Path, option: str) -> None:
    folder = _folder(tmp_path)
    show = folder / "ovs-vsctl_-t_5_show"
    key, _, value = option.partition("=")
    text = show.read_text()
    assert "remote_ip=" in text
    show.write_text(text.replace("options: {", f'options: {{{key}="{value}", ', 1))
    with pytest.raises(InputError, match=f"options:{key}="):
        load_sos(tmp_path)


def test_a_dump_past_the_size_limit(tmp_path: Path) -> None:
    _folder(tmp_path)
    with limited(max_file_bytes=100), pytest.raises(InputError, match="larger than the limit"):
        load_sos(tmp_path)
    with limited(max_line_chars=50), pytest.raises(SyntaxParseError, match="past the limit"):
        load_sos(tmp_path)
