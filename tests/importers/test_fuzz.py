"""Fuzzing the sos-folder importer (importers.ovs_dumps.load_sos): mutated dumps written as
files (bytes, as a sosreport holds them) load or are refused with a typed error."""

from __future__ import annotations

from tests.support.fuzz import TARGETS, assert_robust


def test_sos_folder_refuses_bad_input_only_with_typed_errors() -> None:
    assert_robust(TARGETS["sos"])
