#!/usr/bin/env python3
"""Replay Open vSwitch's own testsuite cases (tests/data/ovs-testsuite/) on real ovs-vswitchd (a
private sandbox) and on neutrace's OpenFlow engine; print the agreement per file, per feature
and the reasons of the rest (tests/support/ovs_testsuite.py does the work).

    PYTHONPATH=src python3 scripts/ovs_testsuite_replay.py [--file ofproto-dpif ...]
        [--show differ|load|refused|excluded] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.ovs_testsuite import replay, report  # noqa: E402

from neutrace.backends.ovs_sandbox import OvsSandbox  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--file", action="append", help="a data file's stem (default: all)")
    ap.add_argument("--show", action="append", default=[],
                    help="also list the traces of this status with their detail")
    ap.add_argument("--json", help="write every outcome to this file")
    ns = ap.parse_args(argv)
    with OvsSandbox() as sandbox:
        outcomes = replay(sandbox, ns.file)
    print(report(outcomes))
    for o in outcomes:
        if o.status in ns.show:
            print(f"\n== {o.file}:{o.line} [{o.title}] {o.status} {o.reason}\n{o.detail}")
    if ns.json:
        Path(ns.json).write_text(json.dumps([asdict(o) for o in outcomes], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
