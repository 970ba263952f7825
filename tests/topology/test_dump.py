"""``topology.dump``: a loaded cloud written back (everything pinned) loads into the same cloud."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings

from neutrace import topology
from neutrace.builder import CloudBuilder, port, rule
from tests.support.paths import EXAMPLES
from tests.support.strategies import clouds


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*/cloud.yaml")), ids=lambda p: p.parent.name)
def test_examples_round_trip(path: Path) -> None:
    cloud = topology.load(path)
    text = yaml.safe_dump(topology.dump(cloud), sort_keys=False)
    assert topology.loads(text, source="dumped.yaml") == cloud


def test_round_trip_with_every_feature() -> None:
    cloud = (
        CloudBuilder("features")
        .host("net-01", "10.0.0.11", "10.1.0.11", roles=["network"], tunnel_types=["vxlan", "gre"],
              bridge_mappings={"ext": "br-ex"},
              physical_nics=[{"name": "eth3", "bridge": "br-ex", "segment": "wan"}])
        .host("cmp-01", "10.0.0.21", "10.1.0.21", tunnel_types=["vxlan", "gre"],
              local_vlans={"t1": 9}, l2_population=True, arp_responder=True)
        .network("ext", network_type="flat", physical_network="ext", router_external=True)
        .subnet("ext", "ext-sub", "198.51.100.0/24", enable_dhcp=False,
                allocation_pools=[("198.51.100.10", "198.51.100.20")])
        .network("t1")
        .subnet("t1", "t1-v4", "10.10.0.0/24", dns_nameservers=["10.10.0.1"],
                host_routes=[("10.99.0.0/16", "10.10.0.254")])
        .subnet("t1", "t1-v6", "fd00:1::/64")
        .network("t2", network_type="gre")
        .subnet("t2", "t2-sub", "10.20.0.0/24", gateway_ip=None)
        .security_group("web", rule("ingress", "tcp", 80), rule("ingress", "icmp", 8, 0),
                        rule("ingress", remote_group="web", ethertype="IPv6"))
        .vm("vm1", "cmp-01", port("t1", security_groups=["web", "default"],
                                   allowed_address_pairs=[{"ip_address": "10.10.0.0/28"}]),
            port("t2", port_security_enabled=False))
        .router("r1", external_gateway="ext", interfaces=["t1-v4"],
                routes=[("10.98.0.0/16", "10.10.0.250")])
        .floating_ip("vm1")
        .outside("gw", "198.51.100.1", segment="wan")
        .outside("far", "203.0.113.5", via="gw")
        .build()
    )
    data = topology.dump(cloud)
    assert topology.from_dict(yaml.safe_load(yaml.safe_dump(data))) == cloud
    # everything is pinned: a cloud of another name (other generated ids) loads the same
    assert topology.from_dict({**data, "name": "renamed"}) == replace(cloud, name="renamed")


@settings(max_examples=30, deadline=None)
@given(clouds())
def test_random_clouds_round_trip(case: tuple[CloudBuilder, int]) -> None:
    builder, _ = case
    try:
        cloud = builder.build()
    except Exception as exc:
        assert "no free address" in str(exc), exc
        return
    assert topology.from_dict(topology.dump(cloud)) == cloud


def test_json_schema_file_is_current() -> None:
    """docs/topology.schema.json is what editors use; pytest --update-golden rewrites it."""
    import json

    from tests.support.golden import updating

    path = EXAMPLES.parent / "docs" / "topology.schema.json"
    text = json.dumps(topology.json_schema(), indent=2) + "\n"
    if updating():
        path.write_text(text)
    assert path.read_text() == text, "run pytest --update-golden to rewrite it"


def test_json_schema_accepts_the_examples() -> None:
    import jsonschema
    validator = jsonschema.Draft202012Validator(topology.json_schema())
    for path in sorted(EXAMPLES.glob("*/cloud.yaml")):
        assert not list(validator.iter_errors(yaml.safe_load(path.read_text()))), path
    bad = yaml.safe_load((EXAMPLES / "seed" / "cloud.yaml").read_text())
    bad["hosts"][0]["bogus"] = 1
    assert list(validator.iter_errors(bad))
