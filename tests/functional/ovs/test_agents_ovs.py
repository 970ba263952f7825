"""Every flow the agents generate loads into real Open vSwitch and dumps back unchanged.

Per host: the host's bridges are created in the private sandbox (datapath_type=dummy) with every
port at its ofport, patch and tunnel options as programmed; each bridge's flows are loaded with
``ovs-ofctl -O OpenFlow13 add-flows`` and ``-O OpenFlow13 dump-flows`` must print exactly our
lines (statistics removed). The bridges are deleted afterwards.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from neutrace.agents import program
from neutrace.backends.ovs_sandbox import OvsSandbox
from neutrace.dataplane import HostState
from neutrace.render.show import dump_flows, ovs_vsctl_show
from neutrace.syntax.ofctl import format_flow
from tests.support.paths import DATA, EXAMPLES, SEED_YAML
from tests.support.seed_model import seed_cloud

STATS = re.compile(r" (duration|n_packets|n_bytes|idle_age|hard_age)=[^,]*,")


def _create(ovs: OvsSandbox, host: HostState) -> None:
    for br in host.ovs_bridges:
        ovs.vsctl("add-br", br.name, "--", "set", "bridge", br.name, "datapath_type=dummy",
                  "fail_mode=secure", "protocols=" + ",".join(br.protocols))
        for p in br.ports:
            args = ["add-port", br.name, p.name, "--", "set", "interface", p.name,
                    f"ofport_request={p.ofport}"]
            if p.type:
                args.append(f"type={p.type}")
            args += [f"options:{k}={v}" for k, v in p.options]
            if p.tag is not None:
                args += ["--", "set", "port", p.name, f"tag={p.tag}"]
            ovs.vsctl(*args)


def _vsctl_blocks(text: str) -> dict[str, set[str]]:
    """``ovs-vsctl show`` as {bridge: {port block}} (OVS prints them in hash order); the UUID,
    datapath_type (dummy here) and ovs_version lines are left out."""
    bridges: dict[str, set[str]] = {}
    bridge = ""
    block: list[str] = []

    def flush() -> None:
        if block:
            bridges.setdefault(bridge, set()).add("\n".join(block))
            block.clear()

    for line in text.splitlines():
        if line.startswith("    Bridge "):
            flush()
            bridge = line.split()[1]
            bridges.setdefault(bridge, set())
        elif line.startswith("        Port "):
            flush()
            block.append(line)
        elif line.startswith("            ") and block:
            block.append(line)
        elif line.startswith("        ") and "datapath_type" not in line:
            flush()
            bridges.setdefault(bridge, set()).add(line)
    flush()
    return bridges


def _dump(ovs: OvsSandbox, bridge: str, *version: str) -> list[str]:
    text = ovs.ofctl(*(version or ("-O", "OpenFlow13")), "dump-flows", ovs.bridge_socket(bridge))
    lines = []
    for line in text.splitlines():
        if "_FLOW reply" in line:  # a long dump comes in several replies
            continue
        lines.append(STATS.sub("", line.strip()))
    return sorted(lines)


@pytest.mark.ovs
@pytest.mark.parametrize("source,l2pop", [("yaml", False), ("model", False), ("model", True),
                                          ("vlan", False), ("ovs-firewall", False),
                                          ("ovsfw-extras", False)],
                         ids=["seed-yaml", "flood", "l2pop", "vlan", "ovs-firewall",
                              "ovsfw-extras"])
def test_flows_load_into_ovs_and_dump_back(ovs_sandbox: OvsSandbox, source: str,
                                           l2pop: bool) -> None:
    from neutrace.topology import load

    if source == "yaml":
        cloud = load(str(SEED_YAML))
    elif source == "ovs-firewall":  # the openvswitch firewall driver's tables
        cloud = load(EXAMPLES / "ovs-firewall" / "cloud.yaml")
    elif source == "ovsfw-extras":
        cloud = load(DATA / "clouds" / "ovsfw-extras.yaml")
    else:
        cloud = seed_cloud(l2_population=l2pop, arp_responder=l2pop)
    if source == "vlan":  # public_net as a VLAN network (segmentation id 100)
        nets = tuple(dataclasses.replace(n, network_type="vlan", segmentation_id=100)
                     if n.name == "public_net" else n for n in cloud.networks)
        cloud = dataclasses.replace(cloud, networks=nets)
    state = program(cloud)
    for host in state.hosts:
        try:
            _create(ovs_sandbox, host)
            for br in host.ovs_bridges:
                flows = "".join(format_flow(f) + "\n" for f in br.flows)
                ovs_sandbox.ofctl("-O", "OpenFlow13", "add-flows",
                                  ovs_sandbox.bridge_socket(br.name), "-", stdin=flows)
                ours = sorted(format_flow(f) for f in br.flows)
                assert _dump(ovs_sandbox, br.name) == ours, (host.name, br.name)
                # the OpenFlow 1.0 spelling `neutrace show --openflow10` prints
                of10 = sorted(line.strip() for line in dump_flows(br, openflow10=True)
                              .splitlines())
                assert _dump(ovs_sandbox, br.name, "-O", "OpenFlow10") == of10, (
                    host.name, br.name)
                ofports = {p.name: p.ofport for p in br.ports}
                for name, ofport in ofports.items():
                    got = ovs_sandbox.vsctl("get", "interface", name, "ofport").strip()
                    assert int(got) == ofport, (host.name, name)
            assert _vsctl_blocks(ovs_sandbox.vsctl("show")) == _vsctl_blocks(
                ovs_vsctl_show(host.ovs_bridges)), host.name
        finally:
            for br in host.ovs_bridges:
                ovs_sandbox.vsctl("--if-exists", "del-br", br.name)
