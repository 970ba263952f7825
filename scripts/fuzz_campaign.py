#!/usr/bin/env python3
"""A fuzz campaign over neutrace's parsers and loaders (docs/reliability.md).

Runs every target of `tests.support.fuzz` (or those named) on ``--inputs`` generated inputs
(mutations of the project's own valid files and grammar-aware texts, from hypothesis), and
reports per target: inputs, CPU time, the slowest input, typed refusals and findings (an
exception that is not a `neutrace.errors.NeutraceError`, an input slower than ``--bound``
CPU seconds, a broken round trip). ``--save`` keeps each finding's input under
``tests/data/fuzz-corpus/<target>/`` (replayed by tests/test_fuzz_corpus.py)::

    PYTHONPATH=src python3 scripts/fuzz_campaign.py --inputs 20000            # every target
    PYTHONPATH=src python3 scripts/fuzz_campaign.py ofctl.flow iptables --inputs 2000 --save

Exit status 1 when anything was found.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.fuzz import TARGETS, TIME_BOUND, campaign, relative, save_finding  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", help=f"targets (default all: {', '.join(TARGETS)})")
    parser.add_argument("--inputs", type=int, default=20000, help="inputs per target")
    parser.add_argument("--bound", type=float, default=TIME_BOUND,
                        help="CPU seconds an input may take")
    parser.add_argument("--seed", type=int, default=None,
                        help="random seed (default: derandomized, the same inputs every run)")
    parser.add_argument("--save", action="store_true", help="keep findings in the corpus")
    parser.add_argument("--show", type=int, default=3, help="findings printed per target")
    args = parser.parse_args()
    names = args.targets or list(TARGETS)
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        parser.error(f"unknown targets {unknown}; known: {', '.join(TARGETS)}")
    total = 0
    print(f"{'target':<18} {'inputs':>7} {'refused':>7} {'cpu s':>7} {'slowest s':>9} "
          f"{'findings':>8}")
    for name in names:
        wall = time.monotonic()
        stats = campaign(TARGETS[name], args.inputs, args.bound, args.seed)
        total += len(stats.findings)
        print(f"{name:<18} {stats.inputs:>7} {stats.typed_errors:>7} {stats.seconds:>7.1f} "
              f"{stats.slowest:>9.3f} {len(stats.findings):>8}   "
              f"(wall {time.monotonic() - wall:.0f} s; slowest input {len(stats.slowest_text)} "
              f"chars)", flush=True)
        kinds: dict[str, int] = {}
        for f in stats.findings:
            kinds[f.kind] = kinds.get(f.kind, 0) + 1
            if kinds[f.kind] <= args.show:
                last = f.detail.strip().splitlines()[-1] if f.detail.strip() else ""
                print(f"    {f.kind}: {f.text[:160]!r}\n        {last[:300]}")
            if args.save:
                print(f"    saved {relative(save_finding(f))}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
