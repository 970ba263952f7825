"""The openvswitch firewall's rule helpers against Neutron's own functions, on the same inputs:
``port_rule_masking`` (neutron.common.utils), ``merge_port_ranges``, ``merge_common_rules``,
``flow_priority_offset`` and ``create_flows_from_rule_and_port`` (neutron.agent.linux.
openvswitch_firewall.rules), run in the virtualenv that has neutron."""

from __future__ import annotations

import json
import random
import subprocess
from typing import Any

import pytest

from neutrace.agents.openvswitch_firewall import rules
from tests.conftest import require
from tests.support.conformance_lib import neutron_python

pytestmark = [pytest.mark.conformance]

NEUTRON_SIDE = r"""
import json, sys
from neutron.common import utils
from neutron.agent.linux.openvswitch_firewall import rules
data = json.load(sys.stdin)

class Port:
    ofport = 7

out = {"masks": [utils.port_rule_masking(a, b) for a, b in data["ranges"]],
       "merged": [rules.merge_port_ranges([(r, c) for r, c in case]) for case in data["merges"]],
       "common": [rules.merge_common_rules([(r, c) for r, c in case]) for case in data["common"]],
       "offsets": [rules.flow_priority_offset(r) for r in data["rules"]],
       "flows": [rules.create_flows_from_rule_and_port(r, Port()) for r in data["rules"]]}
print(json.dumps(out, sort_keys=True))
"""


def _inputs() -> dict[str, Any]:
    rnd = random.Random(29)
    ranges = [(5, 12), (20, 130), (4501, 33057), (22, 22), (1, 65535), (1, 127), (8, 15)]
    ranges += [tuple(sorted((rnd.randint(1, 65535), rnd.randint(1, 65535)))) for _ in range(300)]
    base = {"direction": "ingress", "ethertype": "IPv4", "protocol": 6}
    merges = []
    for _ in range(100):
        case = []
        for conj in range(rnd.randint(1, 5)):
            r = dict(base)
            if rnd.random() < 0.8:
                low = rnd.randint(1, 2000)
                r.update(port_range_min=low, port_range_max=low + rnd.randint(0, 300))
            case.append((r, 16 + 8 * conj + 6))
        merges.append(case)
    icmp = {"direction": "ingress", "ethertype": "IPv4", "protocol": 1}
    common = [[({**icmp, "port_range_min": t, "port_range_max": c}, 16 + 8 * i)
               for i, (t, c) in enumerate([(8, 0), (8, 0), (3, 1), (0, 0)][:n])]
              for n in range(1, 5)]
    rule_cases: list[dict[str, Any]] = [
        {"direction": "ingress", "ethertype": "IPv4"},
        {"direction": "egress", "ethertype": "IPv6", "protocol": 58, "port_range_min": 128},
        {"direction": "ingress", "ethertype": "IPv4", "protocol": 1, "port_range_min": 8,
         "port_range_max": 0, "source_ip_prefix": "10.0.0.0/8"},
        {"direction": "ingress", "ethertype": "IPv4", "protocol": 17, "port_range_min": 5000,
         "port_range_max": 5100, "source_ip_prefix": "0.0.0.0/0"},
        {"direction": "egress", "ethertype": "IPv4", "protocol": 132, "port_range_min": 3868,
         "port_range_max": 3870, "dest_ip_prefix": "192.0.2.0/24"},
        {"direction": "ingress", "ethertype": "IPv6", "protocol": 136, "port_range_min": 1,
         "port_range_max": 9},
        {"direction": "ingress", "ethertype": "IPv4", "protocol": 6, "remote_group_id": "g"},
    ]
    return {"ranges": ranges, "merges": merges, "common": common, "rules": rule_cases}


class _Port:
    ofport = 7


def test_rule_helpers_agree_with_neutrons() -> None:
    python = neutron_python()
    require(python is not None, "neutron in a virtualenv (NEUTRACE_NEUTRON_PYTHON)")
    assert python is not None
    data = _inputs()
    proc = subprocess.run([python, "-c", NEUTRON_SIDE], input=json.dumps(data), text=True,
                          capture_output=True, check=True)
    theirs = json.loads(proc.stdout)
    ours = {
        "masks": [rules.port_rule_masking(a, b) for a, b in data["ranges"]],
        "merged": [rules.merge_port_ranges([(r, c) for r, c in case])
                   for case in data["merges"]],
        "common": [rules.merge_common_rules([(r, c) for r, c in case])
                   for case in data["common"]],
        "offsets": [rules.flow_priority_offset(r) for r in data["rules"]],
        "flows": [rules.create_flows_from_rule_and_port(r, _Port()) for r in data["rules"]],
    }
    ours = json.loads(json.dumps(ours, sort_keys=True))
    inputs = {"masks": "ranges", "merged": "merges", "common": "common", "offsets": "rules",
              "flows": "rules"}
    for key in ours:
        for i, (a, b) in enumerate(zip(ours[key], theirs[key], strict=True)):
            assert a == b, (f"{key}[{i}] differs from Neutron's for {data[inputs[key]][i]}:\n"
                            f"  neutron  {b}\n  neutrace {a}")
