"""Building large frozen data (layer 0): the cyclic garbage collector paused meanwhile.

Loading, programming and joining a cloud of thousands of ports allocates millions of small
objects that all stay alive and form no reference cycles (frozen dataclasses, tuples, strings).
CPython's collector would still scan them again and again as they pile up (on a 2,000-port cloud
that is 30-50 % of the time, benchmarks/scale.py); `paused_gc` turns it off for such a phase and
back on afterwards (when it was on), so nothing is kept from collection for longer than the phase.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic collector off inside the block (nested blocks: the outermost restores it)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
