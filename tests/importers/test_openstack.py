"""`neutrace import-openstack` (neutrace.importers.openstack): an export of a cloud's Neutron
objects as a topology. Every example cloud's objects, as the Neutron API returns them to an admin
(tests/support/neutron_export.py), come back as a topology the agents program exactly as the
original (compared with neutrace.verify.drift: nothing differs), given what an export lacks
(tunnel IPs, bridge mappings, NICs); without it, each placeholder is an assumption; the client's
`list --long` / `show -f json` shapes; bad input is an InputError naming file and place."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from neutrace.agents import program
from neutrace.app import diff as app_diff
from neutrace.cli import app
from neutrace.errors import InputError
from neutrace.importers.openstack import Missing, read
from neutrace.importers.openstack_topology import to_topology
from neutrace.topology import from_dict, load
from neutrace.verify.drift import compare
from tests.support.neutron_export import api_bodies, hints
from tests.support.paths import EXAMPLES, SEED_YAML

CLOUDS = sorted(p.parent.name for p in EXAMPLES.glob("*/cloud.yaml"))


def write(folder: Path, name: str, data: Any) -> Path:
    p = folder / name
    p.write_text(json.dumps(data, indent=1))
    return p


@pytest.mark.parametrize("cloud", CLOUDS)
def test_every_example_comes_back(cloud: str, tmp_path: Path) -> None:
    model = load(EXAMPLES / cloud / "cloud.yaml")
    bodies = api_bodies(model)
    files = [write(tmp_path, f"{k}.json", {k: v}) for k, v in bodies.items()]  # one per kind
    imp = to_topology(read(files), hints(model), model.name)
    assert imp.assumptions == ()
    got = program(from_dict(imp.topology, source="export"))
    drift = compare(program(model), got)
    assert drift.differences == (), drift.differences[:3]


def test_what_the_export_lacks_is_said(tmp_path: Path) -> None:
    model = load(SEED_YAML)
    imp = to_topology(read([write(tmp_path, "all.json", api_bodies(model))]))
    missing = {(a.missing, a.subject) for a in imp.assumptions}
    assert {(Missing.TUNNEL_IP, "test-cmpt-02"), (Missing.TUNNEL_IP, "test-ctrl-01"),
            (Missing.BRIDGE_MAPPING, "test-ctrl-01 external")} <= missing
    hosts = {h["name"]: h for h in imp.topology["hosts"]}
    assert set(hosts) == {"test-cmpt-02", "test-ctrl-01"}  # from the ports' binding:host_id
    assert hosts["test-ctrl-01"]["roles"] == ["network"]
    assert hosts["test-cmpt-02"]["roles"] == ["compute"]
    assert hosts["test-cmpt-02"]["tunnel_ip"].startswith("198.19.")  # a placeholder, said
    from_dict(imp.topology)  # it loads


def _client_shapes(bodies: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The same objects as the openstack client prints them: ``show -f json`` objects for
    networks, ports and routers (the SDK's names), ``list --long -f json`` arrays for subnets
    and security group rules (the client's column names)."""
    nets = [dict(n) for n in bodies["networks"]]
    ports = [{("binding_host_id" if k == "binding:host_id" else
               "security_group_ids" if k == "security_groups" else k): v
              for k, v in p.items()} for p in bodies["ports"]]
    subnets = [{"ID": s["id"], "Name": s["name"], "Network": s["network_id"],
                "Subnet": s["cidr"], "DHCP": s["enable_dhcp"], "Gateway": s["gateway_ip"],
                "Allocation Pools": [f"{p['start']}-{p['end']}" for p in s["allocation_pools"]],
                "IP Version": s["ip_version"], "Name Servers": s["dns_nameservers"],
                "Host Routes": s["host_routes"]} for s in bodies["subnets"]]
    rules = [{"ID": r["id"], "IP Protocol": r["protocol"], "Ethertype": r["ethertype"],
              "IP Range": r["remote_ip_prefix"],
              "Port Range": (f"{r['port_range_min']}:{r['port_range_max']}"
                             if r["port_range_min"] is not None else ""),
              "Direction": r["direction"], "Remote Security Group": r["remote_group_id"],
              "Security Group": g["id"]}
             for g in bodies["security_groups"] for r in g["security_group_rules"]]
    groups = [{"ID": g["id"], "Name": g["name"], "Description": "", "Project": ""}
              for g in bodies["security_groups"]]
    return {"networks": nets, "ports": ports, "subnets": subnets, "rules": rules,
            "groups": groups, "routers": bodies["routers"], "fips": bodies["floatingips"]}


@pytest.mark.parametrize("cloud", ["seed", "sg-block", "ovs-firewall"])
def test_the_clients_json(cloud: str, tmp_path: Path) -> None:
    model = load(EXAMPLES / cloud / "cloud.yaml")
    shapes = _client_shapes(api_bodies(model))
    files = [write(tmp_path, f"{k}.json", v) for k, v in shapes.items()]
    imp = to_topology(read(files), hints(model), model.name)
    drift = compare(program(model), program(from_dict(imp.topology, source="export")))
    assert drift.differences == (), drift.differences[:3]


@pytest.mark.parametrize(("data", "where", "problem"), [
    ({"ports": [{"id": "p1", "fixed_ips": 7, "mac_address": "fa:16:3e:00:00:01"}]},
     "ports[0].fixed_ips", "not a list of addresses"),
    ({"ports": [{"id": "p1", "fixed_ips": [{"ip_address": "10.0.0.300"}],
                 "mac_address": "fa:16:3e:00:00:01"}]}, "ports[0].fixed_ips", "not an IP"),
    ({"networks": [{"id": "n1", "provider:network_type": "flat"}]},
     "networks[0].provider:physical_network", "a flat network without one"),
    ([{"what": 1}], "[0]", "not a Neutron object"),
    ({"subnets": ["x"]}, "subnets[0]", "expected an object"),
    ({"hello": 1}, "", "not an export of Neutron objects"),
])
def test_bad_input_names_file_and_place(data: Any, where: str, problem: str,
                                        tmp_path: Path) -> None:
    p = write(tmp_path, "bad.json", data)
    with pytest.raises(InputError) as e:
        to_topology(read([p]))
    assert e.value.source == str(p) and e.value.where == where and problem in e.value.problem


def test_not_json_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text('{"ports": [\n  {"id": }\n]}')
    with pytest.raises(InputError) as e:
        read([p])
    assert e.value.source == str(p) and e.value.line == 2
    p.write_bytes(b"\xff\xfe")
    with pytest.raises(InputError, match="not JSON"):
        read([p])


def test_the_command_line(tmp_path: Path) -> None:
    model = load(SEED_YAML)
    export = write(tmp_path, "seed.json", api_bodies(model))
    out = tmp_path / "topo.yaml"
    args = [a for h in model.hosts for a in ("--tunnel-ip", f"{h.name}={h.tunnel_ip}",
                                              "--management-ip", f"{h.name}={h.management_ip}")]
    res = CliRunner().invoke(app, ["import-openstack", str(export), "-o", str(out),
                                   "--bridge-mapping", "external:br-ex",
                                   "--nic", "test-ctrl-01:eth3:br-ex", *args])
    assert res.exit_code == 0, res.stderr
    assert "warning:" not in res.stderr
    text = out.read_text()
    assert text.startswith("# A neutrace topology") and "lacked nothing" in text
    cloud = load(out)
    assert cloud.host("test-ctrl-01").physical_nics[0].name == "eth3"  # type: ignore[union-attr]
    res = CliRunner().invoke(app, ["import-openstack", str(export)])
    assert res.exit_code == 0 and "warning: test-cmpt-02: the export has no tunnel IP" in (
        res.stderr) and "198.19.0." in res.stdout
    for bad, match in ((["--tunnel-ip", "x=1.2.3"], "not HOST=IP"),
                       (["--bridge-mapping", "a:b:c:d"], "[HOST:]PHYSNET:BRIDGE"),
                       (["--nic", "h:eth3:br-x"], "not mapped")):
        res = CliRunner().invoke(app, ["import-openstack", str(export), *bad])
        assert res.exit_code == 2 and match in res.stderr, res.stderr
    res = CliRunner().invoke(app, ["import-openstack", str(tmp_path / "none.json")])
    assert res.exit_code == 2 and "cannot read it" in res.stderr


def test_an_export_is_an_expected_side_of_diff(tmp_path: Path) -> None:
    assert app_diff.is_topology([SEED_YAML])
    export = write(tmp_path, "seed.json", api_bodies(load(SEED_YAML)))
    assert not app_diff.is_topology([export])
