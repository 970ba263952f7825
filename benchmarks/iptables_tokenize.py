#!/usr/bin/env python3
"""The iptables-save rule tokenizer is linear in the length of a quoted value (issue 14: shlex,
which it replaced, was quadratic: a 600 kB --comment took 6 s).

Prints the median CPU time of parsing a rule whose --comment is 60 kB and 600 kB, their ratio
(~10 for a linear parse, ~100 for a quadratic one), and shlex.split's time on the same lines::

    PYTHONPATH=src python3 benchmarks/iptables_tokenize.py
"""

from __future__ import annotations

import shlex
import statistics
import time
from collections.abc import Callable

from neutrace.syntax.iptables import parse_iptables_save


def _text(size: int) -> str:
    return ("*filter\n:INPUT ACCEPT [0:0]\n"
            f'-A INPUT -m comment --comment "{"x" * size}" -j ACCEPT\nCOMMIT\n')


def _median(work: Callable[[], object], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return statistics.median(times)


def main() -> None:
    small, large = _text(60_000), _text(600_000)
    t_small = _median(lambda: parse_iptables_save(small))
    t_large = _median(lambda: parse_iptables_save(large))
    print(f"parse, 60 kB comment:  {t_small * 1000:8.2f} ms")
    print(f"parse, 600 kB comment: {t_large * 1000:8.2f} ms   (ratio {t_large / t_small:.1f}; "
          "linear ~10)")
    line = large.splitlines()[2]
    t_shlex = _median(lambda: shlex.split(line), runs=1)
    print(f"shlex.split, 600 kB:   {t_shlex * 1000:8.2f} ms")


if __name__ == "__main__":
    main()
