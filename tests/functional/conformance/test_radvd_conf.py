"""neutrace's radvd.conf blocks (agents.l3.ra.interface_block) against Neutron's own Jinja
template (neutron.agent.linux.ra.CONFIG_TEMPLATE, rendered as DaemonMonitor._generate_radvd_conf
renders it), in the virtualenv that has neutron: every mix of up to three subnets' ipv6_ra_mode,
MTUs below and above IPV6_MIN_MTU, none, one and four DNS servers. Whole routers' files are
compared by test_neutron_conformance.test_router_daemons."""

from __future__ import annotations

import itertools
import json
import subprocess

import pytest

from neutrace import model
from neutrace.agents.l3.ra import interface_block
from tests.conftest import require
from tests.support.conformance_lib import neutron_python

pytestmark = [pytest.mark.conformance]

NEUTRON_SIDE = r"""
import itertools, json, sys
from neutron.agent.linux import ra
from neutron_lib import constants
out = []
for case in json.load(sys.stdin):
    subnets = case["subnets"]
    auto = [s["cidr"] for s in subnets if s["ipv6_ra_mode"] in ("slaac", "dhcpv6-stateless")]
    stateful = [s["cidr"] for s in subnets if s["ipv6_ra_mode"] == "dhcpv6-stateful"]
    dns = list(itertools.chain(*[s["dns_nameservers"] for s in subnets
                                 if s["ipv6_ra_mode"] == "slaac" and s["dns_nameservers"]]))
    out.append(ra.CONFIG_TEMPLATE.render(
        ra_modes=list({s["ipv6_ra_mode"] for s in subnets}), interface_name="qr-0123456789a",
        auto_config_prefixes=auto, stateful_config_prefixes=stateful,
        dns_servers=dns[0:ra.MAX_RDNSS_ENTRIES], n_const=constants, constants=constants,
        min_rtr_adv_interval=30, max_rtr_adv_interval=100, network_mtu=case["mtu"]))
print(json.dumps(out))
"""

MODES = (None, model.IPV6_SLAAC, model.DHCPV6_STATEFUL, model.DHCPV6_STATELESS)
DNS = ((), ("2001:db8::53",), ("2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8::4"))


def _cases() -> list[tuple[list[model.Subnet], int]]:
    cases = []
    for k in (1, 2, 3):
        for combo in itertools.combinations_with_replacement(MODES, k):
            for mtu in (1200, 1280, 1450):
                for dns in DNS:
                    subnets = [model.Subnet(f"s{i}", "", "n", f"2001:db8:{i}::/64", 6,
                                            ipv6_ra_mode=m, dns_nameservers=dns)
                               for i, m in enumerate(combo)]
                    cases.append((subnets, mtu))
    return cases


def test_radvd_blocks_are_neutrons() -> None:
    python = neutron_python()
    require(python is not None, "neutron in a virtualenv (NEUTRACE_NEUTRON_PYTHON)")
    assert python is not None
    cases = _cases()
    data = [{"mtu": mtu, "subnets": [{"cidr": s.cidr, "ipv6_ra_mode": s.ipv6_ra_mode,
                                      "dns_nameservers": list(s.dns_nameservers)}
                                     for s in subnets]} for subnets, mtu in cases]
    proc = subprocess.run([python, "-c", NEUTRON_SIDE], input=json.dumps(data),
                          capture_output=True, text=True, check=True)
    theirs = json.loads(proc.stdout)
    ours = [interface_block("qr-0123456789a", subnets, mtu) for subnets, mtu in cases]
    differ = [(c, a, b) for c, a, b in zip(data, ours, theirs, strict=True) if a != b]
    assert not differ, f"{len(differ)} of {len(cases)} differ, first: {differ[0]}"
