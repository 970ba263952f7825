"""Archives (neutrace.importers.archive): a capture packed by sos or `neutrace collect --tar` is
read directly; a hostile or broken one is refused with a clear error, and nothing is ever written
outside the extraction's own temporary folder, which is removed again."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from neutrace.errors import InputError
from neutrace.importers import archive
from neutrace.importers.cloud import import_cloud


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w:xz"
         ) -> Path:
    with tarfile.open(path, mode) as t:
        for info, data in members:
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def _leftovers() -> set[Path]:
    import tempfile
    return set(Path(tempfile.gettempdir()).glob("nt-import-*"))


@pytest.mark.parametrize(("members", "match"), [
    ([_file("sos/sos_commands/x"), _file("../evil")], "leaves the archive"),
    ([_file("/tmp/evil")], "leaves the archive"),
    ([_file("sos/a/../../evil")], "leaves the archive"),
    ([_link("sos/sos_commands/link", "/etc/passwd")], "outside the archive"),
    ([_link("sos/sos_commands/link", "../../../etc/passwd")], "outside the archive"),
    ([_link("sos/sos_commands/hard", "../outside", tarfile.LNKTYPE)], "outside the archive"),
], ids=["dotdot", "absolute", "dotdot-inside", "symlink-absolute", "symlink-up", "hardlink"])
def test_hostile_members_are_refused(tmp_path: Path, members: list[tuple[tarfile.TarInfo,
                                     bytes | None]], match: str) -> None:
    before = _leftovers()
    bad = _tar(tmp_path / "bad.tar.xz", members)
    with pytest.raises(InputError, match=match) as err:
        import_cloud([bad])
    assert err.value.source == str(bad)
    assert not (tmp_path / "evil").exists() and not Path("/tmp/evil").exists()
    assert _leftovers() == before


def test_devices_and_fifos_are_refused(tmp_path: Path) -> None:
    info = tarfile.TarInfo("sos/dev")
    info.type = tarfile.CHRTYPE
    with pytest.raises(InputError, match="device or FIFO"):
        archive.extract(_tar(tmp_path / "dev.tar", [(info, None)], "w"))


def test_size_caps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "MAX_MEMBER_BYTES", 10)
    with pytest.raises(InputError, match="more than 10"):
        archive.extract(_tar(tmp_path / "big.tar.xz", [_file("sos/big", b"x" * 11)]))
    monkeypatch.setattr(archive, "MAX_MEMBER_BYTES", 100)
    monkeypatch.setattr(archive, "MAX_TOTAL_BYTES", 15)
    with pytest.raises(InputError, match="in all"):
        archive.extract(_tar(tmp_path / "many.tar.xz",
                             [_file("sos/a", b"x" * 8), _file("sos/b", b"x" * 8)]))


def test_truncated_and_not_an_archive(tmp_path: Path) -> None:
    good = _tar(tmp_path / "good.tar.xz", [_file("sos/sos_commands/x", b"y" * 5000)])
    cut = tmp_path / "cut.tar.xz"
    cut.write_bytes(good.read_bytes()[:60])
    before = _leftovers()
    with pytest.raises(InputError, match="truncated, corrupt or not a tar archive"):
        import_cloud([cut])
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"\x00\xff not gzip at all")
    with pytest.raises(InputError, match="truncated, corrupt"):
        import_cloud([junk])
    assert _leftovers() == before


def test_not_a_capture(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="not a sosreport or `neutrace collect` folder"):
        import_cloud([tmp_path])
    with pytest.raises(InputError, match="not a folder and not an archive"):
        import_cloud([tmp_path / "notes.txt"])
    inside = _tar(tmp_path / "x.tar.xz", [_file("stuff/readme", b"hi")])
    with pytest.raises(InputError, match="no sos_commands/ and no neutrace-collect.json"):
        import_cloud([inside])


def test_links_inside_are_kept(tmp_path: Path) -> None:
    """sos links files at the top of a report to their command's output: allowed, inside."""
    a = _tar(tmp_path / "ok.tar.xz", [_file("sos/sos_commands/networking/ip_-o_addr", b"1"),
                                      _link("sos/ip_addr", "sos_commands/networking/ip_-o_addr")])
    tmp, root = archive.extract(a)
    try:
        assert root.name == "sos" and (root / "ip_addr").read_text() == "1"
    finally:
        archive.remove(tmp)
    assert not tmp.exists()
