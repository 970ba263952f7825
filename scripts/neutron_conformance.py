#!/usr/bin/env python3
"""Program one host of a neutrace cloud with Neutron's own agent code; print the result as JSON.

Run with the Python of a virtualenv that has ``neutron`` (29.0.0) installed, as root::

    NEUTRON_PY scripts/neutron_conformance.py examples/seed/cloud.yaml --host test-cmpt-02

How (see docs/conformance.md):

- a private Open vSwitch (`neutrace.backends.ovs_sandbox.OvsSandbox`) is started; Neutron's
  ``ovs_lib``/ovsdbapp talk to it through ``[ovs] ovsdb_connection = unix:<dir>/db.sock``;
- Neutron's os-ken application is started as ``neutron-openvswitch-agent`` starts it (its OpenFlow
  controller listens on a free TCP port of 127.0.0.1, the bridges get ``tcp:127.0.0.1:<port>``);
- the real ``OVSNeutronAgent`` is built with the native OpenFlow bridge classes. Only its RPC to
  neutron-server is replaced (``setup_rpc``): a stub answers ``get_devices_details_list_and_
  failed_devices``, ``update_device_list``, ``tunnel_sync`` and ``security_group_info_for_devices``
  from the cloud model the way the ML2 plugin and its RPC shim answer them;
- the ports bound to the host are plugged into br-int as Nova/os-vif and the L3/DHCP agents plug
  them (``qvo...`` for VMs behind the hybrid firewall, internal ``qr-``/``qg-``/``tap`` ports, with
  ``external_ids`` iface-id/attached-mac/iface-status), then one ``rpc_loop`` iteration is run:
  ``tunnel_sync``, ``scan_ports``, ``process_network_ports``; with l2population on, the
  ``fdb_add`` RPC the l2pop mechanism driver sends in steady state follows;
- the hybrid iptables firewall driver runs for real: its ``iptables-save``/``iptables-restore``/
  ``ipset`` commands are executed inside a private network namespace ``nt-conf-<pid>`` (never in
  the host's own), every other command it runs (sysctl, conntrack) is recorded and not run;
- finally the flows are dumped with ``ovs-ofctl --names --no-stats -O OpenFlow13 dump-flows``, the
  ports with ``ovs-vsctl``, and the firewall's rules with ``iptables-save``/``ipset save``.

Local VLANs: a network pinned in ``Host.local_vlans`` is given to the agent as an existing port tag
(the agent keeps it, ``_restore_local_vlan_map``); ``--hints FILE`` (JSON ``{"ofports": {port:
ofport}, "tags": {port: tag}}``) plugs ports with those ofports / pre-existing tags, so that the
arbitrary numbering of a host agrees with the state it is compared with.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

os.environ.setdefault("OSKEN_HUB_TYPE", "native")

import warnings  # noqa: E402

warnings.filterwarnings("ignore")

NEUTRON_VERSION_EXPECTED = "29.0.0"
DUMP_FLOWS = ("--names", "--no-stats", "-O", "OpenFlow13", "dump-flows")

# ---------------------------------------------------------------------------------------------
# the cloud model


def load_cloud(path: str) -> Any:
    """The `neutrace.model.Cloud` of a topology file (neutrace's own loader)."""
    import neutrace.topology

    return neutrace.topology.load(path)


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


HYBRID = "iptables_hybrid"


def vif_name(cloud: Any, host: Any, port: Any) -> tuple[str, str] | None:
    """(OVS port name on br-int, Interface type) of a port bound to ``host``, as plugged."""
    from neutrace import model

    owner = port.device_owner
    sid = port.id[:11]
    if owner in (model.DEVICE_OWNER_ROUTER_INTF, model.DEVICE_OWNER_DVR_INTERFACE,
                 model.DEVICE_OWNER_HA_REPLICATED_INT):
        return "qr-" + sid, "internal"
    if owner == model.DEVICE_OWNER_ROUTER_HA_INTF:
        return "ha-" + sid, "internal"
    if owner == model.DEVICE_OWNER_ROUTER_SNAT:
        return "sg-" + sid, "internal"
    if owner == model.DEVICE_OWNER_AGENT_GW:
        return "fg-" + sid, "internal"
    if owner == model.DEVICE_OWNER_ROUTER_GW:
        return "qg-" + sid, "internal"
    if owner == model.DEVICE_OWNER_DHCP:
        return "tap" + sid, "internal"
    if owner.startswith("compute:"):
        if host.firewall_driver == HYBRID:
            return "qvo" + sid, ""
        return "tap" + sid, ""
    return None


# ---------------------------------------------------------------------------------------------
# Neutron-side stubs (what neutron-server would answer)


class ServerStub:
    """Answers the OVS agent's RPC calls from the cloud model, as the ML2 plugin would."""

    def __init__(self, cloud: Any, host: Any) -> None:
        self.cloud = cloud
        self.host = host
        self.calls: list[str] = []

    # -- ML2 RPC (neutron.agent.rpc.CacheBackedPluginApi.get_device_details) ----------------
    def _details(self, device: str) -> dict[str, Any]:
        import netaddr

        try:
            port = self.cloud.port(device)
        except KeyError:
            return {"device": device}
        net = self.cloud.network(port.network_id)
        mac = str(netaddr.EUI(port.mac_address, dialect=netaddr.mac_unix_expanded))
        return {
            "device": device,
            "device_id": port.device_id,
            "network_id": port.network_id,
            "port_id": port.id,
            "mac_address": mac,
            "admin_state_up": True,
            "status": "DOWN",
            "network_type": net.network_type,
            "segmentation_id": net.segmentation_id,
            "physical_network": net.physical_network,
            "fixed_ips": [{"subnet_id": f.subnet_id, "ip_address": f.ip_address}
                          for f in port.fixed_ips],
            "device_owner": port.device_owner,
            "allowed_address_pairs": [{"mac_address": p.mac_address, "ip_address": p.ip_address}
                                      for p in port.allowed_address_pairs],
            "port_security_enabled": port.port_security_enabled,
            "qos_policy_id": None,
            "network_qos_policy_id": None,
            "profile": {},
            "vif_type": "ovs",
            "vnic_type": "normal",
            "security_groups": list(port.security_groups),
            "migrating_to": None,
            "hints": None,
        }

    def get_devices_details_list_and_failed_devices(self, context: Any, devices: Any,
                                                    agent_id: str, host: str | None = None,
                                                    agent_restarted: bool = False,
                                                    **kw: Any) -> dict[str, Any]:
        self.calls.append("get_devices_details_list_and_failed_devices")
        wanted = set(devices)
        # Cloud.ports order (neutron processes a set; neutrace uses the model's order)
        order = [p.id for p in self.cloud.ports if p.id in wanted]
        order += sorted(wanted - set(order))
        return {"devices": [self._details(d) for d in order], "failed_devices": []}

    def update_device_list(self, context: Any, devices_up: Any, devices_down: Any,
                           agent_id: str, host: str, refresh_tunnels: bool = False,
                           **kw: Any) -> dict[str, Any]:
        self.calls.append("update_device_list")
        return {"devices_up": list(devices_up), "failed_devices_up": [],
                "devices_down": list(devices_down), "failed_devices_down": []}

    def update_device_down(self, *a: Any, **kw: Any) -> dict[str, Any]:
        return {"device": None, "exists": True}

    def update_device_up(self, *a: Any, **kw: Any) -> None:
        return None

    def tunnel_sync(self, context: Any, tunnel_ip: str, tunnel_type: str | None = None,
                    host: str | None = None) -> dict[str, Any]:
        """ML2's TunnelRpcCallbackMixin.tunnel_sync: every endpoint of that tunnel type."""
        self.calls.append("tunnel_sync")
        tunnels = [{"ip_address": h.tunnel_ip, "host": h.name} for h in self.cloud.hosts
                   if h.tunnel_ip and tunnel_type in h.tunnel_types]
        return {"tunnels": tunnels}

    def register_legacy_notification_callbacks(self, agent: Any) -> None:
        return None

    def get_ports_by_vnic_type_and_host(self, *a: Any, **kw: Any) -> list[Any]:
        return []

    # -- l2population: what the mechanism driver sends this agent in steady state -----------
    def l2pop_fdb_entries(self) -> dict[str, Any]:
        """``add_fdb_entries`` for every tunnel network with a port on this host: the other
        hosts' flooding entries and their ports' (mac, ip) entries
        (L2populationMechanismDriver._create_agent_fdb plus update_port_up of the others)."""
        from neutron.plugins.ml2.drivers.l2pop import rpc as l2pop_rpc
        from neutron.plugins.ml2.drivers.l2pop.rpc_manager import l2population_rpc  # noqa: F401
        from neutron_lib import constants as n_const

        entries: dict[str, Any] = {}
        mine = {p.network_id for p in ports_plugged_on(self.cloud, self.host.name)}
        for net in self.cloud.networks:
            if net.id not in mine or net.network_type not in self.host.tunnel_types:
                continue
            ports: dict[str, list[Any]] = {}
            for h in self.cloud.hosts:
                if h.name == self.host.name or not h.tunnel_ip:
                    continue
                if net.network_type not in h.tunnel_types:
                    continue
                on_h = [p for p in ports_plugged_on(self.cloud, h.name)
                        if p.network_id == net.id]
                if not on_h:
                    continue
                fdb: list[Any] = [n_const.FLOODING_ENTRY]
                for p in on_h:
                    if p.device_owner in (n_const.DEVICE_OWNER_DVR_INTERFACE,
                                          n_const.DEVICE_OWNER_HA_REPLICATED_INT):
                        continue  # get_distributed_active_network_ports: a tunnel only
                    fdb += [l2pop_rpc.PortInfo(mac_address=p.mac_address,
                                               ip_address=f.ip_address) for f in p.fixed_ips]
                ports[h.tunnel_ip] = fdb
            if ports:
                entries[net.id] = {"segment_id": net.segmentation_id,
                                   "network_type": net.network_type, "ports": ports}
        return entries


def ports_plugged_on(cloud: Any, host: str) -> list[Any]:
    """The ports plugged on ``host``: bound to it, the interface ports of the distributed
    routers instantiated there (ML2's distributed port bindings) and the interface and gateway
    ports of the HA routers scheduled there (every L3 agent of an HA router plugs them), in
    Cloud.ports order."""
    shared = {pid for r in cloud.routers if getattr(r, "distributed", False)
              and host in r.dvr_hosts for pid in r.interface_port_ids}
    for r in cloud.routers:
        if getattr(r, "ha", False) and host in r.ha_hosts:
            shared.update(r.interface_port_ids)
            if r.external_gateway is not None:
                shared.add(r.external_gateway.port_id)
    return [p for p in cloud.ports if p.binding_host_id == host or p.id in shared]


class DvrServerStub:
    """``DVRServerRpcApi``'s answers (neutron/db/dvr_mac_db.py) from the cloud model."""

    def __init__(self, cloud: Any, host: Any) -> None:
        self.cloud = cloud
        self.host = host

    def get_dvr_mac_address_by_host(self, context: Any, host: str) -> dict[str, Any]:
        return {"host": host, "mac_address": self.cloud.host(host).dvr_mac}

    def get_dvr_mac_address_list(self, context: Any) -> list[dict[str, Any]]:
        return [{"host": h.name, "mac_address": h.dvr_mac} for h in self.cloud.hosts
                if h.dvr_mac]

    def _port_dict(self, p: Any) -> dict[str, Any]:
        return {"id": p.id, "mac_address": p.mac_address, "device_owner": p.device_owner,
                "network_id": p.network_id,
                "fixed_ips": [{"subnet_id": f.subnet_id, "ip_address": f.ip_address}
                              for f in p.fixed_ips],
                "allowed_address_pairs": [{"ip_address": a.ip_address,
                                           "mac_address": a.mac_address}
                                          for a in p.allowed_address_pairs]}

    def get_subnet_for_dvr(self, context: Any, subnet: str,
                           fixed_ips: Any = None) -> dict[str, Any]:
        """get_subnet_for_dvr: the subnet, and the MAC of the port holding the fixed IP (or
        the gateway_ip) on it."""
        sid = fixed_ips[0]["subnet_id"] if fixed_ips else subnet
        sn = self.cloud.subnet(sid)
        ip = fixed_ips[0]["ip_address"] if fixed_ips else sn.gateway_ip
        holders = [p for p in self.cloud.ports for f in p.fixed_ips
                   if f.subnet_id == subnet and f.ip_address == ip]
        if not holders:
            return {}
        return {"id": sn.id, "cidr": sn.cidr, "ip_version": sn.ip_version,
                "gateway_ip": sn.gateway_ip, "network_id": sn.network_id,
                "gateway_mac": holders[0].mac_address}

    def get_ports_on_host_by_subnet(self, context: Any, host: str,
                                    subnet: str) -> list[dict[str, Any]]:
        """Compute ports and (host_dvr_for_dhcp) DHCP ports bound to ``host`` on ``subnet``."""
        return [self._port_dict(p) for p in self.cloud.ports
                if p.binding_host_id == host
                and (p.device_owner.startswith("compute:")
                     or p.device_owner == "network:dhcp")
                and any(f.subnet_id == subnet for f in p.fixed_ips)]

    def get_ports(self, context: Any, filters: Any = None) -> list[dict[str, Any]]:
        ids = set((filters or {}).get("id", []))
        return [self._port_dict(p) for p in self.cloud.ports if p.id in ids]

    def __getattr__(self, name: str) -> Any:
        return lambda *a, **kw: None


def make_sg_api(cloud: Any) -> Any:
    """SecurityGroupServerAPIShim's answers (security_group_info_for_devices) from the model."""
    from neutron.db import securitygroups_rpc_base as sg_base

    class SgApi(sg_base.SecurityGroupInfoAPIMixin):  # type: ignore[misc]
        def register_legacy_sg_notification_callbacks(self, sg_agent: Any) -> None:
            self._sg_agent = sg_agent

        def security_group_info_for_devices(self, context: Any, devices: Any) -> Any:
            ports = self._get_devices_info(context, devices)
            return self.security_group_info_for_ports(context, ports)

        def security_group_rules_for_devices(self, context: Any, devices: Any) -> Any:
            raise NotImplementedError()

        def _get_devices_info(self, context: Any, devices: Any) -> dict[str, Any]:
            import netaddr

            result: dict[str, Any] = {}
            # the agent asks for a set of devices; answer in Cloud.ports order (a real
            # server's order is undefined), which fixes the openvswitch firewall's conj_ids
            order = {p.id: i for i, p in enumerate(cloud.ports)}
            for device in sorted(devices, key=lambda d: (order.get(d, len(order)), d)):
                try:
                    p = cloud.port(device)
                except KeyError:
                    continue
                if p.device_owner.startswith("network:"):
                    continue  # net.is_port_trusted
                result[device] = {
                    "id": p.id, "device": p.id, "name": p.name, "network_id": p.network_id,
                    "mac_address": str(netaddr.EUI(p.mac_address,
                                                   dialect=netaddr.mac_unix_expanded)),
                    "admin_state_up": True, "status": "ACTIVE", "device_id": p.device_id,
                    "device_owner": p.device_owner,
                    "fixed_ips": [f.ip_address for f in p.fixed_ips],
                    "allowed_address_pairs": [{"ip_address": a.ip_address,
                                               "mac_address": a.mac_address}
                                              for a in p.allowed_address_pairs],
                    "security_groups": list(p.security_groups),
                    "security_group_ids": list(p.security_groups),
                    "security_group_rules": [], "security_group_source_groups": [],
                    "security_group_remote_address_groups": [],
                    "port_security_enabled": p.port_security_enabled,
                }
            return result

        def _select_rules_for_ports(self, context: Any, ports: Any) -> list[Any]:
            out = []
            for p in ports.values():
                for sg_id in p["security_group_ids"]:
                    sg = cloud.security_group(sg_id)
                    for r in sg.rules:
                        out.append((p["id"], {
                            "id": r.id, "security_group_id": sg_id, "direction": r.direction,
                            "ethertype": r.ethertype, "protocol": r.protocol,
                            "port_range_min": r.port_range_min,
                            "port_range_max": r.port_range_max,
                            "remote_ip_prefix": r.remote_ip_prefix,
                            "normalized_cidr": _normalized(r.remote_ip_prefix),
                            "remote_group_id": r.remote_group_id,
                            "remote_address_group_id": None,
                        }))
            return out

        def _select_sg_ids_for_ports(self, context: Any, ports: Any) -> list[Any]:
            ids = {sg for p in ports.values() for sg in p["security_group_ids"]}
            return [(sg,) for sg in ids]

        def _get_sgs_stateful_flag(self, context: Any, sg_ids: Any) -> dict[str, bool]:
            return {sg: True for sg in sg_ids}

        def _select_ips_for_remote_group(self, context: Any, remote_group_ids: Any) -> Any:
            if not remote_group_ids:
                return {}
            by_group: dict[str, set[tuple[str, str | None]]] = {g: set() for g in remote_group_ids}
            for p in cloud.ports:
                ips = [(f.ip_address, p.mac_address) for f in p.fixed_ips]
                ips += [(a.ip_address, a.mac_address) for a in p.allowed_address_pairs]
                for sg in p.security_groups:
                    if sg in by_group:
                        by_group[sg].update(ips)
            return by_group

        def _select_ips_for_remote_address_group(self, context: Any, ids: Any) -> Any:
            return {}

    return SgApi()


def _normalized(prefix: str | None) -> str | None:
    if prefix is None:
        return None
    import netaddr

    return str(netaddr.IPNetwork(prefix).cidr)


# ---------------------------------------------------------------------------------------------
# commands: iptables/ipset in a private namespace, the rest recorded


class CommandRouter:
    """Replaces neutron.agent.linux.utils.execute: netfilter commands run in ``netns``."""

    NETFILTER = ("iptables-save", "iptables-restore", "ip6tables-save", "ip6tables-restore",
                 "ipset", "iptables", "ip6tables")

    OVS_TOOLS = ("ovs-ofctl",)

    def __init__(self, netns: str, ns_map: dict[str, str],
                 ovs_rundir: str | None = None) -> None:
        self.netns = netns
        self.ns_map = ns_map  # neutron namespace name -> our nt-conf-* namespace
        # with a sandbox: ovs-ofctl (the openvswitch firewall's flows go through ovs_lib's
        # run_ofctl) runs against it (OVS_RUNDIR holds its bridges' .mgmt sockets)
        self.ovs_rundir = ovs_rundir
        self.recorded: list[list[str]] = []

    def route(self, cmd: list[str]) -> list[str] | None:
        cmd = [str(c) for c in cmd]
        ns = self.netns
        if cmd[:3] == ["ip", "netns", "exec"]:
            ns = self.ns_map.get(cmd[3], "")
            cmd = cmd[4:]
            if not ns:
                return None
        if cmd and self.ovs_rundir and os.path.basename(cmd[0]) in self.OVS_TOOLS:
            return cmd
        if cmd and os.path.basename(cmd[0]) in self.NETFILTER:
            if cmd[1:] == ["--version"]:
                return cmd  # read-only: the version of the tools decides --random-fully
            if not ns:
                return None
            return ["ip", "netns", "exec", ns, *cmd]
        return None

    def execute(self, cmd: Any, process_input: Any = None, addl_env: Any = None,
                check_exit_code: bool = True, return_stderr: bool = False,
                log_fail_as_error: bool = True, extra_ok_codes: Any = None,
                run_as_root: bool = False, privsep_exec: bool = False) -> Any:
        from neutron_lib import exceptions

        argv = self.route(list(cmd))
        if argv is None:
            self.recorded.append([str(c) for c in cmd])
            return ("", "") if return_stderr else ""
        data = process_input.encode() if isinstance(process_input, str) else process_input
        env = dict(os.environ, OVS_RUNDIR=self.ovs_rundir) if self.ovs_rundir else None
        proc = subprocess.run(argv, input=data, capture_output=True, check=False, env=env)
        out, err = proc.stdout.decode(), proc.stderr.decode()
        if proc.returncode and proc.returncode not in (extra_ok_codes or []):
            if check_exit_code:
                raise exceptions.ProcessExecutionError(
                    f"Exit code: {proc.returncode}; Cmd: {argv}; Stderr: {err}; "
                    f"Stdin: {process_input}", returncode=proc.returncode)
        return (out, err) if return_stderr else out


# ---------------------------------------------------------------------------------------------
# configuration


def configure(cloud: Any, host: Any, sandbox_dir: str, of_port: int) -> None:
    from neutron.agent.l2 import l2_agent_extensions_manager
    from neutron.common import config as common_config
    from neutron.conf import service as service_conf
    from neutron.conf.agent import common as agent_config
    from neutron.conf.agent import securitygroups_rpc as sg_conf
    from neutron.conf.plugins.ml2 import config as ml2_config
    from neutron.plugins.ml2.drivers.openvswitch.agent import (
        ovs_capabilities,
        ovs_neutron_agent,  # noqa: F401
    )
    from oslo_config import cfg

    common_config.register_common_config_options()
    ovs_capabilities.register()
    l2_agent_extensions_manager.register_opts(cfg.CONF)
    service_conf.register_service_opts(service_conf.RPC_EXTRA_OPTS, cfg.CONF)
    ml2_config.register_ml2_plugin_opts(cfg=cfg.CONF)
    agent_config.register_agent_state_opts_helper(cfg.CONF)
    try:
        sg_conf.register_securitygroups_opts(cfg.CONF)
    except Exception:  # already registered
        pass
    cfg.CONF(args=[], project="neutron", default_config_files=[])

    tunnel_types = list(host.tunnel_types) if host.tunnel_ip else []
    o = cfg.CONF.set_override
    o("host", host.name)
    o("lock_path", sandbox_dir, "oslo_concurrency")
    o("ovsdb_connection", f"unix:{sandbox_dir}/db.sock", "OVS")
    # "system" is what the agent writes; ovs-vswitchd --enable-dummy=override makes it dummy
    o("datapath_type", "system", "OVS")
    o("of_listen_address", "127.0.0.1", "OVS")
    o("of_listen_port", of_port, "OVS")
    o("bridge_mappings", [f"{k}:{v}" for k, v in host.bridge_mappings], "OVS")
    if host.tunnel_ip:
        o("local_ip", host.tunnel_ip, "OVS")
    o("tunnel_types", tunnel_types, "AGENT")
    o("l2_population", host.l2_population, "AGENT")
    o("arp_responder", host.arp_responder, "AGENT")
    o("enable_distributed_routing", getattr(host, "enable_distributed_routing", False), "AGENT")
    o("report_interval", 0, "AGENT")
    o("extensions", [], "agent")
    drivers = {"iptables_hybrid": "iptables_hybrid", "noop": "noop",
               "openvswitch": "openvswitch"}
    o("firewall_driver", drivers.get(host.firewall_driver, host.firewall_driver),
      "SECURITYGROUP")
    o("enable_security_group", host.firewall_driver != "noop", "SECURITYGROUP")


# ---------------------------------------------------------------------------------------------
# the run


class Run:
    def __init__(self, cloud: Any, host_name: str, hints: dict[str, Any]) -> None:
        self.cloud = cloud
        self.host = cloud.host(host_name)
        self.hints = hints
        self.notes: list[str] = []

    def vifs(self) -> list[tuple[Any, str, str]]:
        out = []
        for p in ports_plugged_on(self.cloud, self.host.name):
            v = vif_name(self.cloud, self.host, p)
            if v is not None:
                out.append((p, v[0], v[1]))
        return out

    def pinned_tags(self) -> dict[str, int]:
        """Port name -> local VLAN for ports of networks whose local VLAN is pinned/hinted."""
        pins = dict(self.host.local_vlans)
        tags: dict[str, int] = {}
        for p, name, _t in self.vifs():
            if p.network_id in pins:
                tags[name] = pins[p.network_id]
        tags.update({k: int(v) for k, v in self.hints.get("tags", {}).items()})
        return tags

    def plug(self, sandbox: Any, vifs: list[tuple[Any, str, str]], tags: dict[str, int]) -> None:
        ofports = self.hints.get("ofports", {})
        for p, name, typ in vifs:
            net = self.cloud.network(p.network_id)
            argv = ["--may-exist", "add-port", "br-int", name, "--", "set", "Interface", name,
                    f"type={typ}" if typ else "type=\"\"",
                    f"external_ids:iface-id={p.id}", "external_ids:iface-status=active",
                    f"external_ids:attached-mac={p.mac_address}"]
            if p.device_owner.startswith("compute:"):
                argv.append(f"external_ids:vm-uuid={p.device_id}")
            if name in ofports:
                argv.append(f"ofport_request={int(ofports[name])}")
            if name in tags:
                other = {"net_uuid": net.id, "network_type": net.network_type,
                         "physical_network": str(net.physical_network), "tag": str(tags[name])}
                if net.segmentation_id is not None:
                    other["segmentation_id"] = str(net.segmentation_id)
                argv += ["--", "set", "Port", name, f"tag={tags[name]}"]
                argv += [f"other_config:{k}={json.dumps(v)}" for k, v in other.items()]
            sandbox.vsctl(*argv)

    def precreate(self, sandbox: Any, tags: dict[str, int]) -> None:
        """Bridges that exist before the agent starts: the physical bridges (with their NICs)
        and, when some port has a pre-existing tag, br-int with those ports (a restart)."""
        ofports = self.hints.get("ofports", {})
        for _physnet, br in self.host.bridge_mappings:
            sandbox.vsctl("--may-exist", "add-br", br, "--", "set", "Bridge", br,
                          "datapath_type=system")
        for nic in self.host.physical_nics:
            argv = ["--may-exist", "add-port", nic.bridge, nic.name]
            if nic.name in ofports:
                argv += ["--", "set", "Interface", nic.name, f"ofport_request={ofports[nic.name]}"]
            sandbox.vsctl(*argv)
        if tags:
            sandbox.vsctl("--may-exist", "add-br", "br-int", "--", "set", "Bridge", "br-int",
                          "datapath_type=system")
            self.plug(sandbox, [v for v in self.vifs() if v[1] in tags], tags)

    def run(self) -> dict[str, Any]:
        from neutrace.backends.ovs_sandbox import OvsSandbox

        netns = f"nt-conf-{os.getpid()}"
        _add_netns(netns)
        try:
            with OvsSandbox() as sandbox:
                CLEANUPS.append(sandbox.stop)
                os.environ["OVS_RUNDIR"] = str(sandbox.dir)
                return self._run(sandbox, netns)
        finally:
            subprocess.run(["ip", "netns", "delete", netns], check=False)

    def _run(self, sandbox: Any, netns: str) -> dict[str, Any]:
        of_port = free_tcp_port()
        configure(self.cloud, self.host, str(sandbox.dir), of_port)
        tags = self.pinned_tags()
        self.precreate(sandbox, tags)

        router = CommandRouter(netns, {}, ovs_rundir=str(sandbox.dir))
        from neutron.agent.common import utils as common_utils
        from neutron.agent.linux import utils as linux_utils

        linux_utils.execute = router.execute
        common_utils.execute = router.execute

        from neutron.plugins.ml2.drivers.openvswitch.agent.openflow.native import (
            main as of_main,
        )
        from os_ken.base import app_manager

        of_main.init_config()
        app_mgr = app_manager.AppManager.get_instance()
        app_mgr.load_apps([__name__ if __name__ != "__main__" else "__main__"])
        contexts = app_mgr.create_contexts()
        services = app_mgr.instantiate_apps(**contexts)
        app = next(a for a in app_mgr.applications.values() if isinstance(a, _app_class()))
        result: dict[str, Any] = {}
        try:
            result = self._drive(app, sandbox, tags, router)
        finally:
            try:
                app_mgr.close()
            except Exception:
                pass
            del services
        return result

    def _drive(self, app: Any, sandbox: Any, tags: dict[str, int],
               router: CommandRouter) -> dict[str, Any]:
        import functools

        from neutron.agent.l2 import l2_agent_extensions_manager
        from neutron.plugins.ml2.drivers.openvswitch.agent import ovs_neutron_agent as ovs_agent
        from neutron.plugins.ml2.drivers.openvswitch.agent.openflow.native import (
            br_int,
            br_phys,
            br_tun,
        )
        from neutron_lib import context as n_context
        from oslo_config import cfg

        stub = ServerStub(self.cloud, self.host)
        sg_api = make_sg_api(self.cloud)

        def setup_rpc(agent: Any) -> None:
            agent.plugin_rpc = stub
            agent.sg_plugin_rpc = sg_api
            agent.dvr_plugin_rpc = DvrServerStub(self.cloud, self.host)
            agent.state_rpc = _Nothing()
            agent.context = n_context.get_admin_context_without_session()
            agent.connection = _Nothing()

        ovs_agent.OVSNeutronAgent.setup_rpc = setup_rpc
        bridge_classes = {
            "br_int": functools.partial(br_int.OVSIntegrationBridge, os_ken_app=app),
            "br_phys": functools.partial(br_phys.OVSPhysicalBridge, os_ken_app=app),
            "br_tun": functools.partial(br_tun.OVSTunnelBridge, os_ken_app=app),
        }
        ext_mgr = l2_agent_extensions_manager.L2AgentExtensionsManager(cfg.CONF)
        agent = ovs_agent.OVSNeutronAgent(bridge_classes, ext_mgr, cfg.CONF)

        # Nova/os-vif, the L3 and the DHCP agent plug their ports (those not pre-plugged)
        self.plug(sandbox, [v for v in self.vifs() if v[1] not in tags], {})
        # the agent reads ports through its OVSDB IDL: wait until it sees every plugged port
        # with an ofport (a real agent would pick a late one up in its next rpc_loop iteration)
        expected = {p.id for p, _n, _t in self.vifs()}
        deadline = time.time() + 20
        while not expected <= agent.int_br.get_vif_port_set():
            if time.time() > deadline:
                self.notes.append("ports not seen by the agent: "
                                  f"{sorted(expected - agent.int_br.get_vif_port_set())}")
                break
            time.sleep(0.05)

        # one rpc_loop iteration (iteration 0, after a start)
        agent.iter_num = 0
        agent.ovs_restarted = False
        if agent.enable_tunneling:
            agent.tunnel_sync()
        port_info = agent.scan_ports(set(), False)
        agent.update_stale_ofport_rules()
        failed = agent.process_network_ports(port_info, False)
        if any(failed.values()):
            self.notes.append(f"process_network_ports failed devices: {failed}")
        if agent.l2_pop:
            fdb = stub.l2pop_fdb_entries()
            if fdb:
                agent.fdb_add(agent.context, fdb)
        if agent.sg_agent.firewall is not None and hasattr(agent.sg_agent, "firewall"):
            pass

        out = self.dump(sandbox, netns=router.netns)
        out["recorded_commands"] = [" ".join(c) for c in router.recorded]
        out["local_vlans"] = {net: lvm.vlan for net, segs in agent.vlan_manager.mapping.items()
                              for lvm in segs.values()} if hasattr(agent.vlan_manager,
                                                                   "mapping") else {}
        return out

    def dump(self, sandbox: Any, netns: str) -> dict[str, Any]:
        bridges: dict[str, Any] = {}
        for br in sandbox.vsctl("list-br").split():
            ports = json.loads(sandbox.vsctl(
                "--format=json", "--columns=name,ofport,type,options,external_ids",
                "list", "Interface"))
            tags = json.loads(sandbox.vsctl("--format=json",
                                            "--columns=name,tag,trunks,other_config",
                                            "list", "Port"))
            names = set(sandbox.vsctl("list-ports", br).split())
            row = json.loads(sandbox.vsctl(
                "--format=json", "--columns=fail_mode,protocols,datapath_type", "list",
                "Bridge", br))
            attrs = dict(zip(row["headings"], row["data"][0], strict=True))
            bridges[br] = {
                "fail_mode": attrs["fail_mode"] if isinstance(attrs["fail_mode"], str) else "",
                "protocols": (sorted(attrs["protocols"][1]) if attrs["protocols"][0] == "set"
                              else [attrs["protocols"]]),
                "datapath_type": attrs["datapath_type"],
                "ports": _ports(ports, tags, names),
                "flows": sandbox.ofctl(*DUMP_FLOWS, sandbox.bridge_socket(br)).splitlines(),
            }
        ipt: dict[str, str] = {}
        for tool in ("iptables-save", "ip6tables-save"):
            p = subprocess.run(["ip", "netns", "exec", netns, tool], capture_output=True,
                               text=True, check=False)
            ipt[tool] = p.stdout
        p = subprocess.run(["ip", "netns", "exec", netns, "ipset", "save"], capture_output=True,
                           text=True, check=False)
        ipt["ipset"] = p.stdout
        return {"host": self.host.name, "bridges": bridges, "netfilter": {"": ipt},
                "notes": self.notes}


def _ports(ifaces: Any, tags: Any, names: set[str]) -> list[dict[str, Any]]:
    def row(table: Any) -> list[dict[str, Any]]:
        cols = table["headings"]
        return [dict(zip(cols, r, strict=True)) for r in table["data"]]

    def ovsmap(v: Any) -> dict[str, str]:
        return {k: val for k, val in v[1]} if isinstance(v, list) and v[0] == "map" else {}

    def scalar(v: Any) -> Any:
        if isinstance(v, list) and v[0] == "set":
            return v[1] if v[1] else None
        return v

    port_by = {r["name"]: r for r in row(tags)}
    out = []
    for r in row(ifaces):
        if r["name"] not in names:
            continue
        port = port_by.get(r["name"], {})
        out.append({"name": r["name"], "ofport": scalar(r["ofport"]), "type": r["type"],
                    "options": ovsmap(r["options"]), "external_ids": ovsmap(r["external_ids"]),
                    "tag": scalar(port.get("tag")), "trunks": scalar(port.get("trunks")) or [],
                    "other_config": ovsmap(port.get("other_config"))})
    return sorted(out, key=lambda p: str(p["name"]))


class _Nothing:
    """An RPC client that accepts every call and answers None."""

    def __getattr__(self, name: str) -> Any:
        return lambda *a, **kw: None


_APP: list[Any] = []


def _app_class() -> Any:
    if not _APP:
        from neutron.plugins.ml2.drivers.openvswitch.agent.openflow.native import base_oskenapp

        _APP.append(base_oskenapp.BaseNeutronAgentOSKenApp)
    return _APP[0]


def _define_app() -> None:
    """os-ken loads the OSKenApp subclasses defined in the module it is given; define ours
    here (the same base class as neutron-openvswitch-agent's OVSNeutronAgentOSKenApp)."""
    import os_ken.app.ofctl.api  # noqa: F401  (loads ofctl service + OpenFlow controller)
    from neutron.plugins.ml2.drivers.openvswitch.agent.openflow.native import base_oskenapp

    class ConformanceOSKenApp(base_oskenapp.BaseNeutronAgentOSKenApp):  # type: ignore[misc]
        pass

    ConformanceOSKenApp.__module__ = __name__
    globals()["ConformanceOSKenApp"] = ConformanceOSKenApp


# ---------------------------------------------------------------------------------------------
# the L3 agent (legacy routers) and the DHCP agent: their iptables, in child processes


class _Anything:
    """Stands in for what touches the system outside netfilter (ip_lib devices, routes, the
    interface driver, radvd): accepts every call, answers nothing."""

    DEV_NAME_LEN = 14  # neutron.agent.linux.interface.LinuxInterfaceDriver.DEV_NAME_LEN

    def __init__(self, *a: Any, **kw: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return _Anything()

    def __call__(self, *a: Any, **kw: Any) -> Any:
        return _Anything()

    def __iter__(self) -> Any:
        return iter(())


class _Recorder(_Anything):
    """An `_Anything` that logs every call made through it: (path, args, kwargs)."""

    def __init__(self, log: list[tuple[str, tuple[Any, ...], dict[str, Any]]],
                 path: str = "", answers: dict[str, Any] | None = None) -> None:
        self._log = log
        self._path = path
        self._answers = answers or {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Recorder(self._log, f"{self._path}.{name}" if self._path else name,
                         self._answers)

    def __call__(self, *a: Any, **kw: Any) -> Any:
        self._log.append((self._path, a, kw))
        if self._path == "IPDevice":  # ip_lib.IPDevice(name, namespace=...): remember the name
            return _Recorder(self._log, f"IPDevice[{a[0]}]", self._answers)
        tail = self._path.rsplit(".", 1)[-1]
        if tail in self._answers:  # a fixed answer (a device not there yet, no gateway yet)
            return self._answers[tail]
        return _Recorder(self._log, self._path + "()", self._answers)


def l3_devices(log: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> dict[str, Any]:
    """The interfaces (mac, mtu, addresses) and routes the L3 agent code asked for, from the
    calls it made to the interface driver and ip_lib."""
    itfs: dict[str, dict[str, Any]] = {}
    routes: list[dict[str, Any]] = []
    sysctls: list[str] = []
    for path, a, kw in log:
        if path == "driver.plug":
            itfs.setdefault(a[2], {"addresses": []}).update(mac=a[3], mtu=kw.get("mtu"))
        elif path in ("driver.init_router_port", "driver.init_l3"):
            itfs.setdefault(a[0], {"addresses": []})["addresses"] = list(a[1])
        elif path.startswith("IPDevice[") and path.endswith("].addr.add"):
            itfs.setdefault(path[9:-10], {"addresses": []})["addresses"].append(a[0])
        elif path.startswith("IPDevice[") and path.endswith("].route.add_gateway"):
            routes.append({"destination": "default", "device": path[9:-19], "gateway": a[0]})
        elif path.startswith("IPDevice[") and path.endswith("].route.add_route"):
            routes.append({"destination": a[0], "device": path[9:-17],
                           "gateway": kw.get("via"), "scope": kw.get("scope")})
        elif path == "add_ip_route":
            routes.append({"destination": a[1], "device": kw.get("device"),
                           "gateway": kw.get("via")})
        elif path == "driver.configure_ipv6_ra":
            sysctls.append(f"net.ipv6.conf.{a[1]}.accept_ra={a[2]}")
        elif path == "driver.configure_ipv6_forwarding":
            sysctls.append(f"net.ipv6.conf.{a[1]}.forwarding={int(a[2])}")
    return {"interfaces": itfs, "routes": routes, "sysctls": sysctls}


def _block_privsep() -> None:
    """No privileged helper may start: nothing may reach the host's own namespaces."""
    from oslo_privsep import priv_context

    def refuse(self: Any, *a: Any, **kw: Any) -> None:
        raise RuntimeError("neutron_conformance: privsep is blocked (a call reached the system)")

    priv_context.PrivContext.start = refuse


def router_dict(cloud: Any, router: Any) -> dict[str, Any]:
    """A legacy router as the L3 plugin's sync_routers RPC hands it to the L3 agent."""
    import netaddr

    def port_dict(port_id: str) -> dict[str, Any]:
        p = cloud.port(port_id)
        net = cloud.network(p.network_id)
        fixed, subnets = [], []
        for f in p.fixed_ips:
            sn = cloud.subnet(f.subnet_id)
            fixed.append({"subnet_id": sn.id, "ip_address": f.ip_address,
                          "prefixlen": netaddr.IPNetwork(sn.cidr).prefixlen})
            subnets.append({"id": sn.id, "cidr": sn.cidr, "gateway_ip": sn.gateway_ip,
                            "dns_nameservers": list(sn.dns_nameservers),
                            "ipv6_ra_mode": getattr(sn, "ipv6_ra_mode", None),
                            "ipv6_address_mode": getattr(sn, "ipv6_address_mode", None),
                            "subnetpool_id": None, "host_routes": []})
        return {"id": p.id, "network_id": p.network_id, "mac_address": p.mac_address,
                "fixed_ips": fixed, "subnets": subnets, "extra_subnets": [], "mtu": net.mtu,
                "admin_state_up": True, "device_owner": p.device_owner,
                "device_id": router.id, "address_scopes": {"4": None, "6": None},
                "binding:host_id": router.host}

    gw = router.external_gateway
    fips = [{"id": f.id, "floating_ip_address": f.floating_ip_address,
             "fixed_ip_address": f.fixed_ip_address, "port_id": f.port_id,
             "floating_network_id": f.floating_network_id, "router_id": router.id,
             "status": "DOWN", "fixed_ip_address_scope": None}
            for f in cloud.floating_ips if f.router_id == router.id]
    gw_port = port_dict(gw.port_id) if gw else None
    return {
        "id": router.id, "name": router.name, "admin_state_up": True, "distributed": False,
        "ha": False, "enable_snat": gw.enable_snat if gw else True,
        "external_gateway_info": ({"network_id": gw.network_id, "enable_snat": gw.enable_snat,
                                   "external_fixed_ips": gw_port["fixed_ips"]}
                                  if gw and gw_port else None),
        "gw_port": gw_port, "gw_port_host": None,
        "_interfaces": [port_dict(pid) for pid in router.interface_port_ids],
        "_floatingips": fips,
        "routes": [{"destination": d, "nexthop": n} for d, n in router.routes],
    }


def _save(netns: str) -> dict[str, str]:
    out = {}
    for tool in ("iptables-save", "ip6tables-save"):
        p = subprocess.run(["ip", "netns", "exec", netns, tool], capture_output=True, text=True,
                           check=False)
        out[tool] = p.stdout
    p = subprocess.run(["ip", "netns", "exec", netns, "ipset", "save"], capture_output=True,
                       text=True, check=False)
    out["ipset"] = p.stdout
    return out


def process_added_router(agent: Any, ri: Any, data: dict[str, Any]) -> None:
    """``L3NATAgent._process_added_router``: the ROUTER BEFORE_CREATE event, ``initialize``,
    ``process`` with the router's data, then AFTER_CREATE (the metadata driver's NAT rules)."""
    from neutron_lib.callbacks import events, registry, resources

    registry.publish(resources.ROUTER, events.BEFORE_CREATE, agent,
                     payload=events.DBEventPayload(agent.context, resource_id=ri.router_id,
                                                   states=(ri,)))
    ri.initialize(agent.process_monitor)
    ri.router = data
    ri.process()
    registry.publish(resources.ROUTER, events.AFTER_CREATE, agent,
                     payload=events.DBEventPayload(agent.context, resource_id=ri.router_id,
                                                   states=(ri,)))


def run_l3(cloud: Any, host: Any) -> dict[str, Any]:
    """Neutron's L3 agent code for the legacy routers hosted on ``host``: LegacyRouter
    ``initialize`` + ``process`` and the metadata driver's AFTER_CREATE callback, as
    ``L3NATAgent._process_added_router`` runs them. Every qrouter namespace's netfilter
    commands run in a private namespace; devices, addresses and routes are not made. radvd is
    not started: ``ra.DaemonMonitor`` writes its radvd.conf into a private ``ra_confs``
    directory, which is read back (``daemons``); the sysctls the interface driver is asked for
    are recorded (``devices[...]["sysctls"]``)."""
    from neutron.agent.l3 import legacy_router, namespaces, router_info
    from neutron.agent.linux import ra
    from neutron.agent.linux import utils as linux_utils
    from neutron.agent.metadata import driver as metadata_driver
    from neutron.common import config as common_config
    from neutron.conf.agent import common as agent_config
    from neutron.conf.agent.l3 import config as l3_config
    from neutron.conf.agent.metadata import config as meta_config
    from neutron_lib import context as n_context
    from oslo_config import cfg
    from oslo_utils import netutils

    common_config.register_common_config_options()
    agent_config.register_interface_driver_opts_helper(cfg.CONF)
    agent_config.register_process_monitor_opts(cfg.CONF)
    agent_config.register_ra_opts(cfg.CONF)
    l3_config.register_l3_agent_config_opts(l3_config.OPTS, cfg.CONF)
    meta_config.register_meta_conf_opts(meta_config.SHARED_OPTS, cfg.CONF)
    try:
        meta_config.register_meta_conf_opts(meta_config.METADATA_PROXY_HANDLER_OPTS, cfg.CONF)
    except Exception:
        pass
    cfg.CONF(args=[], project="neutron", default_config_files=[])
    cfg.CONF.set_override("host", host.name)

    _block_privsep()
    routers = [r for r in cloud.routers if r.host == host.name and not r.distributed
               and not r.ha]
    ns_map = {f"qrouter-{r.id}": f"nt-conf-{os.getpid()}-r{i}" for i, r in enumerate(routers)}
    lock_dir = tempfile.mkdtemp(prefix="nt-conf-l3-")
    CLEANUPS.append(lambda: shutil.rmtree(lock_dir, ignore_errors=True))
    cfg.CONF.set_override("lock_path", lock_dir, "oslo_concurrency")
    cfg.CONF.set_override("ra_confs", os.path.join(lock_dir, "ra"))
    commands = CommandRouter("", ns_map)
    linux_utils.execute = commands.execute
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
    router_info.ip_lib = _Recorder(calls)
    legacy_router.ip_lib = _Recorder(calls)
    ra.DaemonMonitor._spawn_radvd = lambda self, radvd_conf: None  # the file only
    namespaces.RouterNamespace.create = lambda self, *a, **kw: None
    namespaces.RouterNamespace.exists = lambda self: True
    metadata_driver.MetadataDriver.spawn_monitored_metadata_proxy = (
        classmethod(lambda cls, *a, **kw: None))

    class FakeL3Agent:
        conf = cfg.CONF
        context = n_context.get_admin_context_without_session()
        plugin_rpc = _Anything()
        process_monitor = _Anything()
        pd = _Anything()

    agent = FakeL3Agent()
    agent.metadata_driver = metadata_driver.MetadataDriver(agent)  # type: ignore[attr-defined]
    out: dict[str, Any] = {}
    devices: dict[str, Any] = {}
    for ns in ns_map.values():
        _add_netns(ns)
    try:
        for r in routers:
            data = router_dict(cloud, r)
            ri = legacy_router.LegacyRouter(
                agent=agent, router_id=r.id, router=data, agent_conf=cfg.CONF,
                interface_driver=_Recorder(calls, "driver"),
                use_ipv6=netutils.is_ipv6_enabled())
            calls.clear()
            process_added_router(agent, ri, data)
            out[f"qrouter-{r.id}"] = _save(ns_map[f"qrouter-{r.id}"])
            devices[f"qrouter-{r.id}"] = l3_devices(calls)
            conf = Path(linux_utils.get_conf_file_name(cfg.CONF.ra_confs, r.id, "radvd.conf"))
            devices[f"qrouter-{r.id}"]["daemons"] = (
                {"radvd": conf.read_text()} if conf.exists() else {})
    finally:
        for ns in ns_map.values():
            subprocess.run(["ip", "netns", "delete", ns], check=False)
    return {"netfilter": out, "devices": devices,
            "recorded_commands": [" ".join(c) for c in commands.recorded]}


# ---------------------------------------------------------------------------------------------
# the L3 agent's DVR routers (DvrLocalRouter on dvr hosts, DvrEdgeRouter on dvr_snat hosts)


class _DvrRecorder(_Recorder):
    """A `_Recorder` for DVR's ip_lib: ``IPWrapper.add_veth`` gives the two devices,
    ``IPDevice(..).link.address`` the MAC neutrace gives that veth end (a kernel-random MAC on a
    host: an environment fact, from the hints), ``get_ipv6_lladdr`` is Neutron's own."""

    def __init__(self, log: list[tuple[str, tuple[Any, ...], dict[str, Any]]],
                 path: str = "", answers: dict[str, Any] | None = None,
                 macs: dict[str, str] | None = None) -> None:
        super().__init__(log, path, answers)
        self._macs = macs or {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        path = f"{self._path}.{name}" if self._path else name
        if name == "name" and self._path.startswith("IPDevice[") and \
                self._path.endswith("]"):
            return self._path[9:-1]
        if name == "address" and self._path.startswith("IPDevice[") and \
                self._path.endswith("].link"):
            return self._macs.get(self._path[9:-6], "00:00:00:00:00:00")
        if name == "get_ipv6_lladdr":
            from neutron.agent.linux import ip_lib as real_ip_lib

            return real_ip_lib.get_ipv6_lladdr
        return _DvrRecorder(self._log, path, self._answers, self._macs)

    def __call__(self, *a: Any, **kw: Any) -> Any:
        self._log.append((self._path, a, kw))
        if self._path == "IPDevice" or self._path.endswith(".device"):
            return _DvrRecorder(self._log, f"IPDevice[{a[0]}]", self._answers, self._macs)
        tail = self._path.rsplit(".", 1)[-1]
        created = self._answers.setdefault("_created", set())
        if self._path == "driver.plug":
            created.add(a[2])
        if self._path.startswith("IPDevice[") and self._path.endswith("].exists"):
            return self._path[9:-8] in created
        if tail == "add_veth":
            created.update(a[:2])
            return (_DvrRecorder(self._log, f"IPDevice[{a[0]}]", self._answers, self._macs),
                    _DvrRecorder(self._log, f"IPDevice[{a[1]}]", self._answers, self._macs))
        if tail in self._answers:
            return self._answers[tail]
        return _DvrRecorder(self._log, self._path + "()", self._answers, self._macs)


def dvr_port_dict(cloud: Any, port_id: str, host: str) -> dict[str, Any]:
    """A port as the L3 plugin hands it to a DVR agent (subnets, prefixlen, mtu, scopes)."""
    import netaddr

    p = cloud.port(port_id)
    net = cloud.network(p.network_id)
    fixed, subnets = [], []
    for f in p.fixed_ips:
        sn = cloud.subnet(f.subnet_id)
        fixed.append({"subnet_id": sn.id, "ip_address": f.ip_address,
                      "prefixlen": netaddr.IPNetwork(sn.cidr).prefixlen})
        subnets.append({"id": sn.id, "cidr": sn.cidr, "gateway_ip": sn.gateway_ip,
                        "dns_nameservers": list(sn.dns_nameservers),
                        "ipv6_ra_mode": getattr(sn, "ipv6_ra_mode", None),
                        "ipv6_address_mode": getattr(sn, "ipv6_address_mode", None),
                        "subnetpool_id": None, "host_routes": []})
    return {"id": p.id, "network_id": p.network_id, "mac_address": p.mac_address,
            "fixed_ips": fixed, "subnets": subnets, "extra_subnets": [], "mtu": net.mtu,
            "admin_state_up": True, "device_owner": p.device_owner, "device_id": p.device_id,
            "address_scopes": {"4": None, "6": None},
            "binding:host_id": p.binding_host_id or host,
            "allowed_address_pairs": [{"ip_address": a.ip_address, "mac_address": a.mac_address}
                                      for a in p.allowed_address_pairs]}


def dvr_router_dict(cloud: Any, router: Any, host: Any) -> dict[str, Any]:
    """A distributed router as ``sync_routers`` hands it to the L3 agent of ``host``
    (l3_dvr_db ``_build_routers_list``, ``_process_routers``, ``_process_floating_ips_dvr``)."""
    gw = router.external_gateway
    gw_port = dvr_port_dict(cloud, gw.port_id, host.name) if gw else None
    fips = [{"id": f.id, "floating_ip_address": f.floating_ip_address,
             "fixed_ip_address": f.fixed_ip_address, "port_id": f.port_id,
             "floating_network_id": f.floating_network_id, "router_id": router.id,
             "status": "DOWN", "fixed_ip_address_scope": None, "host": f.host}
            for f in cloud.floating_ips
            if f.router_id == router.id and f.host == host.name]
    data: dict[str, Any] = {
        "id": router.id, "name": router.name, "admin_state_up": True, "distributed": True,
        "ha": False, "enable_snat": gw.enable_snat if gw else True,
        "external_gateway_info": ({"network_id": gw.network_id, "enable_snat": gw.enable_snat,
                                   "external_fixed_ips": gw_port["fixed_ips"]}
                                  if gw and gw_port else None),
        "gw_port": gw_port, "gw_port_id": gw.port_id if gw else None,
        "gw_port_host": router.host or None,
        "_interfaces": [dvr_port_dict(cloud, pid, host.name)
                        for pid in router.interface_port_ids],
        "_floatingips": fips,
        "routes": [{"destination": d, "nexthop": n} for d, n in router.routes],
    }
    if gw:
        data["_snat_router_interfaces"] = [dvr_port_dict(cloud, pid, host.name)
                                           for pid in router.snat_port_ids]
        data["_floatingip_agent_interfaces"] = [
            dvr_port_dict(cloud, p.id, host.name) for p in cloud.ports
            if p.device_owner == "network:floatingip_agent_gateway"
            and p.binding_host_id == host.name]
    return data


def _l3_agent_conf(host: Any, prefix: str) -> str:
    """The L3 agent's options registered (the HA ones too) and set for ``host`` (its
    agent_mode), with a fresh state path (also the lock path); returns the state path."""
    from neutron.common import config as common_config
    from neutron.conf.agent import common as agent_config
    from neutron.conf.agent.l3 import config as l3_config
    from neutron.conf.agent.l3 import ha as ha_config
    from neutron.conf.agent.metadata import config as meta_config
    from oslo_config import cfg

    common_config.register_common_config_options()
    for register in (lambda: agent_config.register_interface_driver_opts_helper(cfg.CONF),
                     lambda: agent_config.register_process_monitor_opts(cfg.CONF),
                     lambda: agent_config.register_ra_opts(cfg.CONF),
                     lambda: l3_config.register_l3_agent_config_opts(l3_config.OPTS, cfg.CONF),
                     lambda: ha_config.register_l3_agent_ha_opts(cfg.CONF),
                     lambda: meta_config.register_meta_conf_opts(meta_config.SHARED_OPTS,
                                                                 cfg.CONF),
                     lambda: meta_config.register_meta_conf_opts(
                         meta_config.METADATA_PROXY_HANDLER_OPTS, cfg.CONF)):
        try:
            register()
        except Exception:  # already registered by an earlier part
            pass
    cfg.CONF(args=[], project="neutron", default_config_files=[])
    cfg.CONF.set_override("host", host.name)
    cfg.CONF.set_override("agent_mode", host.agent_mode)
    state = tempfile.mkdtemp(prefix=prefix)
    CLEANUPS.append(lambda: shutil.rmtree(state, ignore_errors=True))
    cfg.CONF.set_override("state_path", state)
    cfg.CONF.set_override("lock_path", state, "oslo_concurrency")
    return state


def run_l3_dvr(cloud: Any, host: Any, hints: dict[str, Any]) -> dict[str, Any]:
    """Neutron's L3 agent code for the distributed routers instantiated on ``host``:
    ``DvrEdgeRouter`` (agent_mode dvr_snat) or ``DvrLocalRouter`` (dvr) ``initialize`` +
    ``process`` with the agent's ``get_fip_ns`` (``dvr.AgentMixin``: one ``FipNamespace`` per
    external network). The qrouter-, snat- and fip- namespaces' netfilter commands run in private
    namespaces; ip_lib and the interface driver are recorders (devices, addresses, routes, ip
    rules, neighbours and sysctls come from their log). ``hints``: the veth MACs and the
    floating IPs' rule priorities (``fip-priorities``, a state file the agent keeps) neutrace
    chose."""
    from neutron.agent.l3 import (
        dvr,
        dvr_edge_router,
        dvr_fip_ns,
        dvr_local_router,
        dvr_router_base,
        dvr_snat_ns,
        namespaces,
        router_info,
    )
    from neutron.agent.linux import ra
    from neutron.agent.linux import utils as linux_utils
    from neutron.agent.metadata import driver as metadata_driver
    from neutron_lib import context as n_context
    from oslo_config import cfg
    from oslo_utils import netutils

    state = _l3_agent_conf(host, "nt-conf-l3dvr-")
    (Path(state) / "fip-priorities").write_text(
        "".join(f"{ip},{prio}\n" for ip, prio in hints.get("fip_priorities", {}).items()))
    _block_privsep()
    routers = [r for r in cloud.routers if r.distributed and host.name in r.dvr_hosts]
    ext_nets = sorted({r.external_gateway.network_id for r in routers if r.external_gateway})
    pid = os.getpid()
    ns_map = {}
    for i, r in enumerate(routers):
        ns_map[f"qrouter-{r.id}"] = f"nt-conf-{pid}-q{i}"
        if r.host == host.name and host.agent_mode == "dvr_snat" and r.external_gateway:
            ns_map[f"snat-{r.id}"] = f"nt-conf-{pid}-s{i}"
    for i, n in enumerate(ext_nets):
        ns_map[f"fip-{n}"] = f"nt-conf-{pid}-f{i}"
    commands = CommandRouter("", ns_map)
    linux_utils.execute = commands.execute
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
    answers = {"exists": False, "list": [], "list_routes": [], "list_ip_rules": [],
               "network_namespace_exists": True, "device_exists": True,
               "get_devices_with_ip": [], "get_devices": []}
    rec = _DvrRecorder(calls, "", answers, hints.get("macs", {}))
    for module in (router_info, dvr_local_router, dvr_edge_router, dvr_fip_ns, dvr_snat_ns,
                   namespaces, dvr_router_base):
        if hasattr(module, "ip_lib"):
            module.ip_lib = rec  # type: ignore[attr-defined]
    ra_dir = tempfile.mkdtemp(prefix="nt-conf-ra-")
    CLEANUPS.append(lambda: shutil.rmtree(ra_dir, ignore_errors=True))
    cfg.CONF.set_override("ra_confs", ra_dir)
    ra.DaemonMonitor._spawn_radvd = lambda self, radvd_conf: None  # the file only
    namespaces.Namespace.exists = lambda self: True
    if "create" in vars(namespaces.RouterNamespace):  # the legacy part skipped it
        del namespaces.RouterNamespace.create
    metadata_driver.MetadataDriver.spawn_monitored_metadata_proxy = (
        classmethod(lambda cls, *a, **kw: None))
    driver = _DvrRecorder(calls, "driver", answers, hints.get("macs", {}))
    driver.DEV_NAME_LEN = 14  # type: ignore[attr-defined]

    class PluginRpc:
        def get_ports_by_subnet(self, context: Any, subnet_id: str) -> list[dict[str, Any]]:
            """get_ports_under_dvr_connected_subnet: the bound ports with an address on it."""
            return [dvr_port_dict(cloud, p.id, host.name) for p in cloud.ports
                    if p.binding_host_id and any(f.subnet_id == subnet_id
                                                 for f in p.fixed_ips)]

        def __getattr__(self, name: str) -> Any:
            return _Anything()

    class FakeL3Agent(dvr.AgentMixin):
        def __init__(self) -> None:
            import weakref

            self._fip_namespaces = weakref.WeakValueDictionary()
            self.conf = cfg.CONF
            self.host = host.name
            self.context = n_context.get_admin_context_without_session()
            self.plugin_rpc = PluginRpc()
            self.process_monitor = _Anything()
            self.pd = _Anything()
            self.driver = driver
            self.use_ipv6 = netutils.is_ipv6_enabled()

    agent = FakeL3Agent()
    agent.metadata_driver = metadata_driver.MetadataDriver(agent)  # type: ignore[attr-defined]
    keep: list[Any] = []  # the FipNamespaces live as long as their routers (weak values)
    out: dict[str, Any] = {}
    devices: dict[str, Any] = {}
    for ns in ns_map.values():
        _add_netns(ns)
    try:
        for r in routers:
            data = dvr_router_dict(cloud, r, host)
            cls = (dvr_edge_router.DvrEdgeRouter if host.agent_mode == "dvr_snat"
                   else dvr_local_router.DvrLocalRouter)
            ri = cls(host.name, agent=agent, router_id=r.id, router=data,
                     agent_conf=cfg.CONF, interface_driver=driver, use_ipv6=agent.use_ipv6)
            keep.append(ri)
            process_added_router(agent, ri, data)
            keep.append(ri.fip_ns)
        for name, netns in ns_map.items():
            out[name] = _save(netns)
        devices = dvr_devices(calls)
        for r in routers:  # radvd.conf as ra.DaemonMonitor wrote it (radvd not started)
            conf = Path(linux_utils.get_conf_file_name(ra_dir, r.id, "radvd.conf"))
            devices.setdefault(f"qrouter-{r.id}", {})["daemons"] = (
                {"radvd": conf.read_text()} if conf.exists() else {})
    finally:
        for ns in ns_map.values():
            subprocess.run(["ip", "netns", "delete", ns], check=False)
    return {"netfilter": out, "dvr": devices,
            "recorded_commands": [" ".join(c) for c in commands.recorded]}


def dvr_devices(log: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> dict[str, Any]:
    """Per namespace: interfaces (MAC, MTU, addresses), routes (with their table), ip rules,
    neighbours and sysctls, from the calls the DVR code made (the namespace of an IPDevice is
    the one it was made with)."""
    ns_of: dict[str, str] = {}
    out: dict[str, Any] = {}

    def ns(name: str) -> dict[str, Any]:
        return out.setdefault(name, {"interfaces": {}, "routes": [], "rules": [],
                                     "neighbours": [], "sysctls": []})

    for path, a, kw in log:
        if path == "IPDevice":
            ns_of[a[0]] = kw.get("namespace") or (a[1] if len(a) > 1 else "")
        elif path.endswith(".add_veth"):
            # IPWrapper(namespace=ns).add_veth(name1, name2, ns2)
            ns_of.setdefault(a[1], a[2] if len(a) > 2 else "")
        elif path == "driver.plug":
            ns_of[a[2]] = kw.get("namespace", "")
            ns(kw.get("namespace", ""))["interfaces"].setdefault(
                a[2], {"addresses": []}).update(mac=a[3], mtu=kw.get("mtu"))
        elif path in ("driver.init_router_port", "driver.init_l3"):
            itf = ns(kw.get("namespace", ""))["interfaces"].setdefault(a[0], {"addresses": []})
            itf["addresses"] = list(a[1])
        elif path == "add_ip_rule":
            ns(kw.get("namespace") or a[0])["rules"].append(
                {k: str(v) for k, v in kw.items() if k != "namespace"})
        elif path == "sysctl":
            ns(kw.get("namespace", ""))["sysctls"] += list(a[0])
        elif path == "add_ip_route":
            ns(a[0])["routes"].append({"destination": a[1], "device": kw.get("device"),
                                       "gateway": kw.get("via"),
                                       "table": str(kw.get("table", "main"))})
        elif path.startswith("IPDevice[") and "]." in path:
            dev, rest = path[9:].split("]", 1)
            space = ns_of.get(dev, "?")
            if rest == ".addr.add":
                ns(space)["interfaces"].setdefault(dev, {"addresses": []})["addresses"].append(
                    a[0])
            elif rest == ".route.add_gateway":
                ns(space)["routes"].append({"destination": "default", "device": dev,
                                            "gateway": a[0],
                                            "table": str(kw.get("table", "main"))})
            elif rest == ".route.add_route":
                ns(space)["routes"].append({"destination": a[0], "device": dev,
                                            "gateway": a[1] if len(a) > 1 else kw.get("via"),
                                            "table": str(kw.get("table", "main")),
                                            "scope": kw.get("scope")})
            elif rest == ".neigh.add":
                ns(space)["neighbours"].append({"ip": a[0], "mac": a[1], "device": dev})
            elif rest == ".link.set_mtu":
                ns(space)["interfaces"].setdefault(dev, {"addresses": []})["mtu"] = a[0]
            elif rest == ".link.set_up":
                ns(space)["interfaces"].setdefault(dev, {"addresses": []})
        elif path == "driver.configure_ipv6_ra":
            ns(a[0])["sysctls"].append(f"net.ipv6.conf.{a[1]}.accept_ra={a[2]}")
        elif path == "driver.configure_ipv6_forwarding":
            ns(a[0])["sysctls"].append(f"net.ipv6.conf.{a[1]}.forwarding={int(a[2])}")
        elif path == "set_ip_nonlocal_bind_for_namespace":
            ns(a[0])["sysctls"].append(f"net.ipv4.ip_nonlocal_bind={a[1]}")
    # ip_wrapper.netns.execute(['sysctl', '-w', ...]) of IPWrapper(namespace=ns)
    wrappers: list[str] = []
    for path, a, kw in log:
        if path == "IPWrapper":
            wrappers.append(kw.get("namespace", ""))
        elif path == "IPWrapper().netns.execute" and a and list(a[0][:2]) == ["sysctl", "-w"]:
            ns(wrappers[-1] if wrappers else "")["sysctls"].append(a[0][2])
    return out


# ---------------------------------------------------------------------------------------------
# the L3 agent's HA routers (HaRouter), keepalived recorded instead of started


class _ProcessRecorder:
    """Stands in for ``external_process.ProcessManager``: nothing is started (keepalived and
    neutron-keepalived-state-change are not run, nor need to be installed); ``enable`` records
    the command line the manager would run, ``active`` is False (no process)."""

    started: list[list[str]] = []
    active = False  # class-wide: set while the driver plays "keepalived is up"

    def __init__(self, conf: Any = None, uuid: str = "", namespace: str | None = None,
                 service: str | None = None, default_cmd_callback: Any = None,
                 pid_file: str | None = None, pids_path: str | None = None,
                 **kw: Any) -> None:
        self.uuid = uuid
        self.namespace = namespace
        self.default_cmd_callback = default_cmd_callback
        self.pid_file = pid_file or f"/nonexistent/{uuid}.pid"
        self.pid = None
        self.run_as_root = False

    def get_pid_file_name(self) -> str:
        return self.pid_file

    def enable(self, cmd_callback: Any = None, reload_cfg: bool = False,
               ensure_active: bool = False) -> None:
        callback = cmd_callback or self.default_cmd_callback
        if callback is not None:
            self.started.append(["ip", "netns", "exec", self.namespace or "", *map(
                str, callback(self.get_pid_file_name()))])

    def disable(self, *a: Any, **kw: Any) -> None:
        pass

    def reload_cfg(self) -> None:
        pass


class _HaRecorder(_DvrRecorder):
    """A `_DvrRecorder` whose devices have the MAC they were plugged with
    (``IPDevice(..).link.address``: the IPv6 link-local VIPs are derived from it)."""

    def __init__(self, log: list[tuple[str, tuple[Any, ...], dict[str, Any]]],
                 path: str = "", answers: dict[str, Any] | None = None,
                 macs: dict[str, str] | None = None) -> None:
        super().__init__(log, path, answers, macs)
        if macs is not None:
            self._macs = macs  # shared by every recorder: plug() fills it

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        got = super().__getattr__(name)
        if isinstance(got, _DvrRecorder) and not isinstance(got, _HaRecorder):
            return _HaRecorder(got._log, got._path, got._answers, self._macs)
        return got

    def __call__(self, *a: Any, **kw: Any) -> Any:
        if self._path == "driver.plug":
            self._macs[a[2]] = a[3]
        got = super().__call__(*a, **kw)
        if isinstance(got, _DvrRecorder) and not isinstance(got, _HaRecorder):
            return _HaRecorder(got._log, got._path, got._answers, self._macs)
        return got


def ha_router_dict(cloud: Any, router: Any, host: Any) -> dict[str, Any]:
    """An HA router as ``sync_routers`` (``get_ha_sync_data_for_host``) hands it to the L3
    agent of ``host``: the legacy router's data with ``ha``, ``ha_vr_id``, the host's own HA
    port (``_ha_interface``, ACTIVE, with its subnets and MTU) and its binding state."""
    data = router_dict(cloud, router)
    ha_port = dvr_port_dict(cloud, router.ha_port_on(host.name), host.name)
    ha_port["status"] = "ACTIVE"
    data.update({"ha": True, "ha_vr_id": router.ha_vr_id, "_ha_interface": ha_port,
                 "_ha_state": "active" if router.host == host.name else "standby"})
    return data


def keepalived_master(instance: Any, ns: dict[str, Any]) -> None:
    """What keepalived does on the node it makes master, from Neutron's own KeepalivedInstance:
    ``ip address add`` of the primary VIP on the HA device and of every other VIP on its device,
    ``ip route add`` of every virtual route (a route to ::/0 or 0.0.0.0/0 is the default; one
    without ``dev``, an extra route, gets the device the kernel picks for its nexthop)."""
    itfs = ns["interfaces"]
    itfs.setdefault(instance.interface, {"addresses": []})["addresses"].append(
        instance.get_primary_vip())
    for vip in sorted(instance.vips, key=lambda v: v.ip_address):
        itfs.setdefault(vip.interface_name, {"addresses": []})["addresses"].append(
            vip.ip_address)
    import ipaddress

    def device_of(nexthop: str) -> str | None:
        """The device the kernel gives a route without ``dev``: the one on the nexthop's
        subnet."""
        for dev, data in itfs.items():
            for a in data["addresses"]:
                if ipaddress.ip_address(nexthop) in ipaddress.ip_interface(a).network:
                    return dev
        return None

    for r in instance.virtual_routes.routes:
        dest = "default" if r.destination in ("0.0.0.0/0", "::/0") else r.destination
        dev = r.interface_name or (device_of(r.nexthop) if r.nexthop else None)
        ns["routes"].append({"destination": dest, "device": dev,
                             "gateway": r.nexthop, "table": "main", "scope": r.scope})


def run_l3_ha(cloud: Any, host: Any) -> dict[str, Any]:
    """Neutron's L3 agent code for the HA routers scheduled to ``host``: ``HaRouter``
    ``initialize`` + ``process`` and the metadata driver's AFTER_CREATE, with the agent's state
    path in a temporary directory (keepalived.conf is written there by Neutron's own
    ``KeepalivedManager``) and the process manager recorded instead of started; on the master,
    the state change ``ha.AgentMixin`` makes on keepalived's ``primary`` notification
    (``ha_state``, ``_configure_ipv6_params``) and the VIPs and virtual routes keepalived would
    set, and ``_update_radvd_daemon('primary')`` with keepalived up (radvd.conf written into a
    private ``ra_confs``, radvd not started). keepalived >= 2.0.3 is assumed (``no_track``), as
    on current distributions: it is not installed here for the agent's version check to
    find."""
    from neutron.agent.l3 import ha as l3_ha
    from neutron.agent.l3 import ha_router, namespaces, router_info
    from neutron.agent.linux import external_process, keepalived, ra
    from neutron.agent.linux import utils as linux_utils
    from neutron.agent.metadata import driver as metadata_driver
    from neutron_lib import context as n_context
    from oslo_config import cfg
    from oslo_utils import netutils

    state = _l3_agent_conf(host, "nt-conf-l3ha-")
    cfg.CONF.set_override("ha_confs_path", str(Path(state) / "ha_confs"))
    _block_privsep()
    keepalived._IS_NO_TRACK_SUPPORTED = True  # type: ignore[attr-defined]
    external_process.ProcessManager = _ProcessRecorder  # type: ignore[misc,assignment]
    _ProcessRecorder.started = []
    routers = [r for r in cloud.routers if r.ha and host.name in r.ha_hosts]
    ns_map = {f"qrouter-{r.id}": f"nt-conf-{os.getpid()}-h{i}" for i, r in enumerate(routers)}
    commands = CommandRouter("", ns_map)
    linux_utils.execute = commands.execute
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
    answers = {"exists": False, "list": [], "list_routes": [], "list_ip_rules": [],
               "network_namespace_exists": True, "device_exists": True,
               "get_devices_with_ip": [], "get_devices": [], "get_gateway": None}
    macs: dict[str, str] = {}
    rec = _HaRecorder(calls, "", answers, macs)
    for module in (router_info, ha_router, namespaces):
        module.ip_lib = rec  # type: ignore[attr-defined]
    cfg.CONF.set_override("ra_confs", str(Path(state) / "ra"))
    router_info.ra = ra  # the DVR part may have replaced it
    ra.DaemonMonitor._spawn_radvd = lambda self, radvd_conf: None  # the file only
    namespaces.Namespace.exists = lambda self: True
    if "create" in vars(namespaces.RouterNamespace):  # the legacy part skipped it
        del namespaces.RouterNamespace.create
    metadata_driver.MetadataDriver.spawn_monitored_metadata_proxy = (
        classmethod(lambda cls, *a, **kw: None))
    metadata_driver.MetadataDriver.destroy_monitored_metadata_proxy = (
        classmethod(lambda cls, *a, **kw: None))
    driver = _HaRecorder(calls, "driver", answers, macs)
    driver.DEV_NAME_LEN = 14  # type: ignore[attr-defined]

    class FakeL3Agent:
        conf = cfg.CONF
        context = n_context.get_admin_context_without_session()
        plugin_rpc = _Anything()
        process_monitor = _Anything()
        pd = _Anything()
        use_ipv6 = netutils.is_ipv6_enabled()

    agent = FakeL3Agent()
    agent.host = host.name  # type: ignore[attr-defined]
    agent.metadata_driver = metadata_driver.MetadataDriver(agent)  # type: ignore[attr-defined]
    out: dict[str, Any] = {}
    confs: dict[str, str] = {}
    daemons: dict[str, dict[str, str]] = {}
    for ns in ns_map.values():
        _add_netns(ns)
    try:
        for r in routers:
            data = ha_router_dict(cloud, r, host)
            ri = ha_router.HaRouter(
                agent=agent, router_id=r.id, router=data, agent_conf=cfg.CONF,
                interface_driver=driver, use_ipv6=agent.use_ipv6)
            process_added_router(agent, ri, data)
            if r.host == host.name:  # keepalived elected this node: _enqueue_state_change
                ri.ha_state = "primary"
                l3_ha.AgentMixin._configure_ipv6_params(agent, ri, "primary")
                _ProcessRecorder.active = True  # keepalived is up by now (it notified)
                try:
                    l3_ha.AgentMixin._update_radvd_daemon(agent, ri, "primary")
                finally:
                    _ProcessRecorder.active = False
            conf_path = Path(ri.keepalived_manager.get_full_config_file_path("keepalived.conf"))
            confs[ri.ns_name] = conf_path.read_text()
            radvd = Path(linux_utils.get_conf_file_name(cfg.CONF.ra_confs, r.id, "radvd.conf"))
            daemons[ri.ns_name] = {"radvd": radvd.read_text()} if radvd.exists() else {}
            out[ri.ns_name] = {"master": r.host == host.name,
                               "instance": ri._get_keepalived_instance()}
        for name, netns in ns_map.items():
            out[name]["netfilter"] = _save(netns)
        devices = dvr_devices(calls)
    finally:
        for ns in ns_map.values():
            subprocess.run(["ip", "netns", "delete", ns], check=False)
    ha: dict[str, Any] = {}
    for name, got in out.items():
        ns_data = devices.get(name, {"interfaces": {}, "routes": [], "rules": [],
                                     "neighbours": [], "sysctls": []})
        if got["master"]:
            keepalived_master(got["instance"], ns_data)
        ha[name] = {**ns_data, "master": got["master"], "keepalived.conf": confs[name],
                    "daemons": daemons[name]}
    return {"netfilter": {n: got["netfilter"] for n, got in out.items()}, "ha": ha,
            "recorded_commands": [" ".join(c) for c in commands.recorded]
            + [" ".join(c) for c in _ProcessRecorder.started]}


def run_dhcp(cloud: Any, host: Any) -> dict[str, Any]:
    """Neutron's DHCP agent code for the networks whose DHCP port is on ``host``: the only
    netfilter it programs is ``DeviceManager.fill_dhcp_udp_checksums`` (called by
    ``DeviceManager.setup``) in each qdhcp namespace."""
    from neutron.agent.linux import dhcp
    from neutron.agent.linux import utils as linux_utils
    from neutron.common import config as common_config
    from neutron.conf.agent import common as agent_config
    from neutron.conf.agent import dhcp as dhcp_config
    from neutron_lib import constants as n_const
    from oslo_config import cfg

    common_config.register_common_config_options()
    agent_config.register_interface_driver_opts_helper(cfg.CONF)
    dhcp_config.register_agent_dhcp_opts(cfg.CONF)
    cfg.CONF(args=[], project="neutron", default_config_files=[])
    cfg.CONF.set_override("host", host.name)
    lock_dir = tempfile.mkdtemp(prefix="nt-conf-dhcp-")
    CLEANUPS.append(lambda: shutil.rmtree(lock_dir, ignore_errors=True))
    cfg.CONF.set_override("lock_path", lock_dir, "oslo_concurrency")
    _block_privsep()
    nets = sorted({p.network_id for p in cloud.ports_on(host.name)
                   if p.device_owner == n_const.DEVICE_OWNER_DHCP})
    ns_map = {f"qdhcp-{n}": f"nt-conf-{os.getpid()}-d{i}" for i, n in enumerate(nets)}
    commands = CommandRouter("", ns_map)
    linux_utils.execute = commands.execute
    out: dict[str, Any] = {}
    devices: dict[str, Any] = {}
    for ns in ns_map.values():
        _add_netns(ns)
    try:
        for n in nets:
            calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
            dhcp.ip_lib = _Recorder(calls, "", {"ensure_device_is_ready": False,
                                                "get_gateway": None, "exists": False})
            manager = object.__new__(dhcp.DeviceManager)  # its __init__ loads a real driver
            manager.conf = cfg.CONF
            manager.plugin = _Recorder(calls, "plugin")
            manager.driver = _DhcpDriver(calls)
            manager.setup(dhcp_network(cloud, host, n))
            out[f"qdhcp-{n}"] = _save(ns_map[f"qdhcp-{n}"])
            devices[f"qdhcp-{n}"] = l3_devices(calls)
    finally:
        for ns in ns_map.values():
            subprocess.run(["ip", "netns", "delete", ns], check=False)
    return {"netfilter": out, "devices": devices,
            "recorded_commands": [" ".join(c) for c in commands.recorded]}


class _DhcpDriver(_Recorder):
    """The DHCP agent's interface driver (OVSInterfaceDriver without veths) as a recorder."""

    use_gateway_ips = False
    DEV_NAME_PREFIX = "tap"

    def __init__(self, log: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> None:
        super().__init__(log, "driver")

    def get_device_name(self, port: Any) -> str:
        from neutron.agent.linux import interface

        name: str = interface.LinuxInterfaceDriver.get_device_name(self, port)
        return name


def dhcp_network(cloud: Any, host: Any, network_id: str) -> Any:
    """The network as the DHCP agent's get_network_info RPC hands it over (a NetModel), with
    this host's DHCP port carrying the device_id the agent derives for itself."""
    import netaddr
    from neutron.agent.linux import dhcp
    from neutron.common import utils as n_utils

    net = cloud.network(network_id)
    subnets = [{"id": sn.id, "network_id": sn.network_id, "cidr": sn.cidr,
                "ip_version": netaddr.IPNetwork(sn.cidr).version, "enable_dhcp": sn.enable_dhcp,
                "gateway_ip": sn.gateway_ip, "subnetpool_id": None,
                "ipv6_address_mode": getattr(sn, "ipv6_address_mode", None),
                "ipv6_ra_mode": getattr(sn, "ipv6_ra_mode", None),
                "host_routes": [{"destination": d, "nexthop": h} for d, h in sn.host_routes],
                "dns_nameservers": list(sn.dns_nameservers)}
               for sn in cloud.subnets_of(network_id)]
    ports = []
    for p in cloud.ports_of(network_id):
        device_id = p.device_id
        if p.device_owner == "network:dhcp" and p.binding_host_id == host.name:
            device_id = n_utils.get_dhcp_agent_device_id(network_id, host.name)
        ports.append({"id": p.id, "network_id": network_id, "mac_address": p.mac_address,
                      "device_id": device_id, "device_owner": p.device_owner,
                      "binding:host_id": p.binding_host_id, "admin_state_up": True,
                      "fixed_ips": [{"subnet_id": f.subnet_id, "ip_address": f.ip_address}
                                    for f in p.fixed_ips]})
    return dhcp.NetModel({"id": network_id, "name": net.name, "mtu": net.mtu,
                          "admin_state_up": True, "subnets": subnets, "ports": ports,
                          "namespace": f"qdhcp-{network_id}", "project_id": net.project_id})


CLEANUPS: list[Any] = []  # what to undo if the watchdog fires (sandbox, namespaces)


def start_watchdog(seconds: float) -> None:
    """After ``seconds``: print every thread's stack, stop the sandbox, delete the namespaces
    this process made, and exit (the normal paths clean up in their own finally blocks)."""
    import faulthandler

    def fire() -> None:
        print(f"neutron_conformance.py: no result after {seconds:.0f} s", file=sys.stderr)
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        run_cleanups()
        sys.stderr.flush()
        os._exit(3)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()


def run_cleanups() -> None:
    """Undo what is left (the normal paths have stopped the sandbox and deleted the namespaces
    already; stopping or deleting twice is harmless)."""
    while CLEANUPS:
        undo = CLEANUPS.pop()
        try:
            undo()
        except Exception:
            traceback.print_exc()


def _add_netns(name: str) -> None:
    subprocess.run(["ip", "netns", "add", name], check=True)
    CLEANUPS.append(lambda: subprocess.run(["ip", "netns", "delete", name], check=False))


BINARIES = {"ovs": "neutron-openvswitch-agent", "l3": "neutron-l3-agent",
            "dhcp": "neutron-dhcp-agent"}


def run_child_script(script: str, topology: str, host: str, agent: str,
                     hints: str | None = None) -> dict[str, Any]:
    """Run another agent's part in a child process: iptables_manager takes its chain prefix
    from the process's binary name, so each agent needs a process of its own."""
    d = tempfile.mkdtemp(prefix="nt-conf-")
    CLEANUPS.append(lambda: shutil.rmtree(d, ignore_errors=True))
    out = Path(d) / "out.json"
    argv = [sys.executable, script, topology, "--host", host, "--agent", agent, "-o", str(out)]
    if hints:
        argv += ["--hints", hints]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"the {agent} agent part failed:\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("topology")
    ap.add_argument("--host", required=True)
    ap.add_argument("--hints", help="JSON file: {ofports: {port: n}, tags: {port: vlan}}")
    ap.add_argument("--output", "-o", help="write the JSON here instead of stdout")
    ap.add_argument("--agent", choices=sorted(BINARIES), default="ovs",
                    help="which agent's part to run (ovs runs l3 and dhcp in children)")
    args = ap.parse_args(argv)
    # iptables_manager names its wrapped chains after the binary (binary_name, its first 16
    # characters): be the agent's binary, as on a real host ("neutron-openvswi-...")
    script = str(Path(__file__).resolve())
    sys.argv[0] = "/usr/bin/" + BINARIES[args.agent]

    import logging

    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    import neutron.version

    version = neutron.version.version_info.release_string()
    cloud = load_cloud(args.topology)
    hints = json.loads(Path(args.hints).read_text()) if args.hints else {}
    if args.agent == "ovs":
        _define_app()
    # a hang (os-ken, ovsdbapp) shows every thread's stack on stderr, cleans up and exits
    start_watchdog(float(os.environ.get("NEUTRACE_CONFORMANCE_HANG", "180")))
    started = time.time()
    try:
        host = cloud.host(args.host)
        if args.agent == "l3":
            result = run_l3(cloud, host)
            if any(r.distributed and host.name in r.dvr_hosts for r in cloud.routers):
                dvr_result = run_l3_dvr(cloud, host, hints)
                result["netfilter"].update(dvr_result["netfilter"])
                result["dvr"] = dvr_result["dvr"]
                result["recorded_commands"] += dvr_result["recorded_commands"]
            if any(r.ha and host.name in r.ha_hosts for r in cloud.routers):
                ha_result = run_l3_ha(cloud, host)
                result["netfilter"].update(ha_result["netfilter"])
                result["ha"] = ha_result["ha"]
                result["recorded_commands"] += ha_result["recorded_commands"]
        elif args.agent == "dhcp":
            result = run_dhcp(cloud, host)
        else:
            result = Run(cloud, args.host, hints).run()
            if any((r.host == host.name and not r.distributed)
                   or (r.distributed and host.name in r.dvr_hosts)
                   or (r.ha and host.name in r.ha_hosts) for r in cloud.routers):
                child = run_child_script(script, args.topology, host.name, "l3", args.hints)
                result["netfilter"].update(child["netfilter"])
                result["devices"] = child["devices"]
                result["dvr"] = child.get("dvr", {})
                result["ha"] = child.get("ha", {})
                result["recorded_commands"] += child["recorded_commands"]
            if any(p.device_owner == "network:dhcp" for p in cloud.ports_on(host.name)):
                child = run_child_script(script, args.topology, host.name, "dhcp")
                result["netfilter"].update(child["netfilter"])
                result.setdefault("devices", {}).update(child["devices"])
                result["recorded_commands"] += child["recorded_commands"]
    except Exception:
        traceback.print_exc()
        run_cleanups()
        sys.stderr.flush()
        os._exit(1)
    run_cleanups()
    result["neutron_version"] = version
    result["seconds"] = round(time.time() - started, 2)
    text = json.dumps(result, indent=1, sort_keys=True)
    if args.output:
        Path(args.output).write_text(text)
    else:
        print(text)
    # os-ken/oslo leave non-daemon threads behind: leave at once
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    threading.current_thread().name = "conformance"
    sys.exit(main())
