#!/usr/bin/env python3
"""N `neutrace up`/`down` cycles of a cloud on the real backend (root), each with a ``kill -9``
of the ``up`` process at a random point, then a fresh `up` (which must remove what the killed
one left) and a `down`; after every cycle nothing of the run may be left: no namespace of its
prefixes, no process naming its directory, no directory. The root namespace's links, routes,
rules and iptables are compared at the start and the end.

Run: ``sudo python scripts/real_cycles.py [--cycles 20] [--cloud examples/eastwest/cloud.yaml]``;
exit status 1 if anything was left.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

from neutrace.app.session import cloud_state
from neutrace.backends.real import cloud as real
from neutrace.backends.real import record

ROOT = Path(__file__).resolve().parents[1]


def netns() -> set[str]:
    """The namespaces ``ip netns`` knows."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {ln.split()[0] for ln in out.splitlines() if ln.strip()}


def root_snapshot() -> str:
    """The root namespace's links, routes, rules and iptables rules, as one text."""
    def out(*argv: str) -> str:
        return subprocess.run(list(argv), capture_output=True, text=True, check=True).stdout

    links = sorted((ln["ifname"], ln.get("address")) for ln in json.loads(out("ip", "-j", "link")))
    rules = [ln.split(" [")[0] for ln in out("iptables-save").splitlines()
             if not ln.startswith("#")]
    return json.dumps([links, json.loads(out("ip", "-j", "route")),
                       json.loads(out("ip", "-j", "rule")), rules])


def leftovers(name: str, prefixes: set[str]) -> list[str]:
    """What run ``name`` left: namespaces of its prefixes, processes, its directory."""
    left = [n for n in netns() if any(n.startswith(p) for p in prefixes)]
    rdir = record.state_root() / name
    if rdir.exists():
        left.append(str(rdir))
    marker = (str(rdir) + "/").encode()
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if marker in p.joinpath("cmdline").read_bytes():
                    left.append(f"pid {p.name}")
            except OSError:
                continue
    return left


def main() -> int:
    """Run the cycles; 0 if nothing was ever left."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--cloud", default=str(ROOT / "examples" / "eastwest" / "cloud.yaml"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    state = cloud_state(args.cloud)
    name = f"cycles{os.getpid()}"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    before = root_snapshot()
    bad = 0
    for i in range(args.cycles):
        delay = rng.uniform(0.0, 1.5)
        proc = subprocess.Popen([sys.executable, "-m", "neutrace.cli", "up", args.cloud,
                                 "--name", name, "-q"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        # the random point is counted from the moment the build starts (its record appears)
        path = record.record_path(name)
        deadline = time.monotonic() + 60
        while not path.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(delay)
        proc.kill()
        proc.wait()
        killed = record.read(name)
        prefixes = {killed.prefix} if killed else set()
        stage = killed.status if killed else "no record yet"
        rec = real.up(state, name)  # removes what the killed build left first
        prefixes.add(rec.prefix)
        old_left = [n for n in netns() if killed and n.startswith(killed.prefix)]
        real.down(name)
        left = leftovers(name, prefixes) + old_left
        print(f"cycle {i + 1:2d}: kill -9 {delay:.2f} s into the build ({stage}); "
              f"{'LEFT: ' + ', '.join(left) if left else 'nothing left'}")
        bad += bool(left)
    after = root_snapshot()
    if after != before:
        print("the root namespace changed")
        bad += 1
    print(f"{args.cycles} cycles, {bad} with leftovers")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
