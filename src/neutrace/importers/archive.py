"""Sosreport and collect archives (layer 3): ``.tar.xz`` (also ``.tar.gz``, ``.tar.bz2``,
``.tar``) extracted safely into a temporary folder of their own.

Nothing is ever written outside that folder: a member whose path is absolute or climbs out
(``../``), a link (symbolic or hard) whose target lies outside, a device, a FIFO, more than
`MAX_MEMBERS` members, a member larger than `MAX_MEMBER_BYTES` or more than `MAX_TOTAL_BYTES`
in all, is refused with an `InputError` naming the archive and the member, before anything is
extracted; Python's own ``data`` extraction filter (PEP 706) is applied as well. A truncated or
corrupt archive is an `InputError` too. On any error the folder is removed again.
"""

from __future__ import annotations

import lzma
import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath

from neutrace.errors import InputError

MAX_MEMBERS = 200_000
MAX_MEMBER_BYTES = 1 << 30  # 1 GiB
MAX_TOTAL_BYTES = 8 << 30   # 8 GiB
SUFFIXES = (".tar.xz", ".tar.gz", ".tgz", ".tar.bz2", ".tar")


def is_archive(path: str | Path) -> bool:
    """True if ``path`` names a file with an archive suffix neutrace reads."""
    p = Path(path)
    return p.is_file() and p.name.endswith(SUFFIXES)


def _bad(archive: Path, member: str, problem: str) -> InputError:
    return InputError(str(archive), f"member {member!r}", problem,
                      "give an archive made by sos or `neutrace collect --tar`")


def _check(archive: Path, members: list[tarfile.TarInfo]) -> None:
    if len(members) > MAX_MEMBERS:
        raise InputError(str(archive), "", f"more than {MAX_MEMBERS} members",
                         "extract it yourself and give the folder")
    total = 0
    for m in members:
        path = PurePosixPath(m.name)
        if path.is_absolute() or ".." in path.parts:
            raise _bad(archive, m.name, "its path leaves the archive's folder")
        if m.isdev() or m.isfifo():
            raise _bad(archive, m.name, "a device or FIFO")
        if m.issym() or m.islnk():
            target = PurePosixPath(m.linkname)
            base = path.parent if m.issym() else PurePosixPath()
            resolved = _normal(base / target)
            if target.is_absolute() or resolved is None:
                raise _bad(archive, m.name, f"a link to {m.linkname!r}, outside the archive")
        if m.size > MAX_MEMBER_BYTES:
            raise _bad(archive, m.name, f"{m.size} bytes (more than {MAX_MEMBER_BYTES})")
        total += m.size
        if total > MAX_TOTAL_BYTES:
            raise InputError(str(archive), "", f"more than {MAX_TOTAL_BYTES} bytes in all",
                             "extract it yourself and give the folder")


def _normal(path: PurePosixPath) -> PurePosixPath | None:
    """``path`` with ``..`` resolved lexically, or None if it climbs above the top."""
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part not in (".", ""):
            parts.append(part)
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def extract(archive: str | Path, parent: str | Path | None = None) -> tuple[Path, Path]:
    """Extract ``archive`` into a new temporary folder (under ``parent``); returns (the
    temporary folder, the capture's root inside it: its single top folder if it has one).
    The caller removes the temporary folder."""
    archive = Path(archive)
    tmp = Path(tempfile.mkdtemp(prefix="nt-import-", dir=parent))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                members = tar.getmembers()
                _check(archive, members)
                tar.extractall(tmp, members=members, filter="data")
        except (tarfile.TarError, EOFError, lzma.LZMAError, zlib.error, OSError) as exc:
            if isinstance(exc, tarfile.FilterError):
                raise _bad(archive, getattr(exc, "tarinfo", None) and exc.tarinfo.name or "?",
                           str(exc)) from None
            raise InputError(str(archive), "", f"cannot read the archive ({exc}): it is "
                             "truncated, corrupt or not a tar archive",
                             "copy it again, or give the extracted folder") from None
        entries = [p for p in tmp.iterdir()]
        root = entries[0] if len(entries) == 1 and entries[0].is_dir() else tmp
        return tmp, root
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def remove(folder: str | Path) -> None:
    """Remove an extraction folder (made by `extract`)."""
    folder = Path(folder)
    if folder.name.startswith("nt-import-") and folder.is_dir() and not folder.is_symlink():
        shutil.rmtree(folder, ignore_errors=True)
    elif os.path.lexists(folder):
        raise InputError(str(folder), "", "not an extraction folder", "")
