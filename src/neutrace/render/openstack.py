"""The words of ``neutrace import-openstack`` (layer 3): what an export of Neutron objects
lacked and what stood in for it (`neutrace.importers.openstack.Assumption`), as one line each,
and the header of the topology file written."""

from __future__ import annotations

from typing import assert_never

from neutrace.importers.openstack import Assumption, Missing

PHRASES: dict[str, str] = {
    Missing.MANAGEMENT_IP: "{subject}: the export has no management IP; {value} stands in "
                           "(the data plane does not use it)",
    Missing.TUNNEL_IP: "{subject}: the export has no tunnel IP (the OVS agent's local_ip); "
                       "{value} stands in, so tunnel port names and br-tun flows will not be "
                       "the host's",
    Missing.BRIDGE_MAPPING: "{subject}: the export has no bridge mapping for this physical "
                            "network; {value} stands in",
    Missing.SEGMENTATION_ID: "{subject}: the export has no segmentation id; neutrace allocates "
                             "{value}, which need not be the cloud's",
    Missing.PHYSICAL_NETWORK: "{subject}: the export has no physical network",
    Missing.SUBNET_POOL: "{subject}: the export has no allocation pools",
    Missing.UNBOUND_PORT: "port {subject}: an instance's port bound to no host (or no "
                          "instance): {value}",
    Missing.UNASSOCIATED_FLOATING_IP: "floating IP {subject}: not associated with an "
                                      "instance's port: {value}",
    Missing.DUPLICATE_NAME: "{subject}: the name is used twice; written as {value}",
    Missing.DVR_MAC: "{subject}: the export has no DVR MAC (the server's dvr_host_macs); "
                     "{value}, which will not be the host's",
    "fix": " (fix: {option})",
    "header": "# A neutrace topology (docs/topology.md) made by neutrace import-openstack from "
              "{files}.",
    "header.assumed": "# What the export lacked and what stands in for it:",
    "header.none": "# The export lacked nothing neutrace needs.",
}


def assumption_text(a: Assumption) -> str:
    """One assumption as one line."""
    match a.missing:
        case (Missing.MANAGEMENT_IP | Missing.TUNNEL_IP | Missing.BRIDGE_MAPPING
              | Missing.SEGMENTATION_ID | Missing.PHYSICAL_NETWORK | Missing.SUBNET_POOL
              | Missing.UNBOUND_PORT | Missing.UNASSOCIATED_FLOATING_IP
              | Missing.DUPLICATE_NAME | Missing.DVR_MAC):
            text = PHRASES[a.missing].format(subject=a.subject, value=a.value)
        case _:
            assert_never(a.missing)
    return text + (PHRASES["fix"].format(option=a.option) if a.option else "")


def header(files: list[str], assumptions: tuple[Assumption, ...]) -> str:
    """The comment lines a written topology file starts with."""
    lines = [PHRASES["header"].format(files=", ".join(files))]
    if assumptions:
        lines.append(PHRASES["header.assumed"])
        lines += [f"#   {assumption_text(a)}" for a in assumptions]
    else:
        lines.append(PHRASES["header.none"])
    return "\n".join(lines) + "\n"
