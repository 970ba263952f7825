"""``ml2.network_vlan_ranges`` read as neutron-lib reads ``[ml2_type_vlan] network_vlan_ranges``
(``plugins.utils.parse_network_vlan_ranges``, run in Neutron's virtualenv): the same physnets in
the same order with the same ranges, and the same entries refused."""

from __future__ import annotations

import json
import random
import subprocess

import pytest

from neutrace import topology
from neutrace.errors import TopologyError
from tests.conftest import require
from tests.support.conformance_lib import neutron_python

pytestmark = [pytest.mark.conformance]

SCRIPT = """
import json, sys
from neutron_lib.plugins import utils
out = []
for entries in json.loads(sys.stdin.read()):
    try:
        out.append([[p, a, b] for p, rs in utils.parse_network_vlan_ranges(entries).items()
                    for a, b in rs])
    except Exception as exc:
        out.append(type(exc).__name__)
print(json.dumps(out))
"""

CURATED = [
    ["physnet1:100:199"], ["physnet1"], ["physnet1:100:199", "physnet2:200:299"],
    ["physnet2:5:9", "physnet1:1:2", "physnet2:20:30"], ["physnet1:10:20", "physnet1"],
    ["physnet1", "physnet1:10:20"], ["physnet1:10:20", "physnet1", "physnet1:30:40"],
    [" physnet1:7:8 "], ["physnet1:100"], ["physnet1:200:100"], ["physnet1:0:5"],
    ["physnet1:1:4095"], [":1:2"], ["physnet1:a:b"], ["physnet1:1:2:3"], ["p:4094:4094"],
]


def _random_cases(n: int) -> list[list[str]]:
    """Entries over three physnets: ranges, bare names, and now and then a bad one."""
    rng = random.Random(20261207)
    cases = []
    for _ in range(n):
        entries = []
        for _ in range(rng.randint(1, 5)):
            net = rng.choice(["physnet1", "physnet2", "ext"])
            kind = rng.random()
            if kind < 0.25:
                entries.append(net)
            elif kind < 0.9:
                low = rng.randint(1, 4094)
                entries.append(f"{net}:{low}:{rng.randint(low, 4094)}")
            else:
                entries.append(f"{net}:{rng.randint(0, 4095)}:{rng.randint(0, 4095)}")
        cases.append(entries)
    return cases


def ours(entries: list[str]) -> list[list[object]] | str:
    """neutrace's reading of the entries: the ranges, or "error"."""
    text = ("name: r\nhosts: [{name: h, management_ip: 10.0.0.1}]\n"
            f"ml2: {{network_vlan_ranges: {json.dumps(entries)}}}\n")
    try:
        cloud = topology.loads(text, source="cloud.yaml")
    except TopologyError:
        return "error"
    return [[p, a, b] for p, a, b in cloud.ml2.network_vlan_ranges]


def test_ranges_read_as_neutron_lib_reads_them() -> None:
    python = neutron_python()
    require(python is not None, "neutron in a virtualenv (NEUTRACE_NEUTRON_PYTHON)")
    assert python is not None
    cases = CURATED + _random_cases(300)
    run = subprocess.run([python, "-c", SCRIPT], input=json.dumps(cases), capture_output=True,
                         text=True, check=True)
    theirs = json.loads(run.stdout)
    diffs = []
    for entries, want in zip(cases, theirs, strict=True):
        got = ours(entries)
        if isinstance(want, str):
            want = "error"
        if got != want:
            diffs.append(f"{entries}: neutron {want}, neutrace {got}")
    assert not diffs, "\n".join(diffs[:20])
