#!/usr/bin/env python3
"""Call Neutron's own bridge methods (``openflow/native/br_int``, ``br_tun``, ``br_phys``) on
bridges of a private Open vSwitch; print the flows they leave as JSON.

Run with the Python of the virtualenv that has ``neutron`` (29.0.0), as root::

    NEUTRON_PY scripts/neutron_bridge_methods.py CALLS.json [-o OUT.json]

``CALLS.json``::

    {"bridges": {"br-int": {"class": "br_int", "ports": {"qvo1": 5}}, ...},
     "calls": [["br-int", "provision_local_vlan", {"port": 1, "lvid": 3, "segmentation_id": 101}],
               ...]}

Each bridge is created (``datapath_type=system``, a dummy datapath in the sandbox) with the
listed system ports at their ofports, the native bridge class is built on Neutron's os-ken
application as ``neutron-openvswitch-agent`` builds it (``create``, ``setup_controllers``), the
calls run in order, and the flows are dumped with ``ovs-ofctl --names --no-stats -O OpenFlow13
dump-flows``. The agent's own sequence (``neutron_conformance.py``) calls only some of the bridge
methods; this checks the others (DVR MACs, reclaiming a local VLAN, deleting entries) one by one
against neutrace's methods of the same name (``tests/functional/conformance/
test_bridge_methods.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from types import SimpleNamespace
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import neutron_conformance as nc  # noqa: E402  (the sandbox, configuration and os-ken app)


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Create the bridges, run the calls on Neutron's bridge objects, dump the flows."""
    from neutrace.backends.ovs_sandbox import OvsSandbox

    with OvsSandbox() as sandbox:
        nc.CLEANUPS.append(sandbox.stop)
        os.environ["OVS_RUNDIR"] = str(sandbox.dir)
        host = SimpleNamespace(name="nt-bridge-methods", tunnel_types=(), tunnel_ip=None,
                               bridge_mappings=(), l2_population=False, arp_responder=False,
                               firewall_driver="noop")
        nc.configure(None, host, str(sandbox.dir), nc.free_tcp_port())
        for name, bridge in spec["bridges"].items():
            sandbox.vsctl("--may-exist", "add-br", name, "--", "set", "Bridge", name,
                          "datapath_type=system")
            for port, ofport in bridge.get("ports", {}).items():
                sandbox.vsctl("add-port", name, port, "--", "set", "Interface", port,
                              f"ofport_request={int(ofport)}")
        return _drive(spec, sandbox)


def _drive(spec: dict[str, Any], sandbox: Any) -> dict[str, Any]:
    """The os-ken application, Neutron's bridge objects and the calls."""
    from neutron.plugins.ml2.drivers.openvswitch.agent.openflow.native import (
        br_int,
        br_phys,
        br_tun,
    )
    from neutron.plugins.ml2.drivers.openvswitch.agent.openflow.native import main as of_main
    from os_ken.base import app_manager
    from oslo_config import cfg

    of_main.init_config()
    app_mgr = app_manager.AppManager.get_instance()
    app_mgr.load_apps([nc.__name__])
    contexts = app_mgr.create_contexts()
    services = app_mgr.instantiate_apps(**contexts)
    app = next(a for a in app_mgr.applications.values() if isinstance(a, nc._app_class()))
    classes = {"br_int": br_int.OVSIntegrationBridge, "br_tun": br_tun.OVSTunnelBridge,
               "br_phys": br_phys.OVSPhysicalBridge}
    try:
        bridges = {}
        for name, bridge in spec["bridges"].items():
            br = classes[bridge["class"]](name, os_ken_app=app)
            br.create()
            br.set_secure_mode()
            br.setup_controllers(cfg.CONF)
            bridges[name] = br
        for name, method, kwargs in spec["calls"]:
            getattr(bridges[name], method)(**kwargs)
        return {"flows": {name: sandbox.ofctl(*nc.DUMP_FLOWS,
                                               sandbox.bridge_socket(name)).splitlines()
                          for name in spec["bridges"]}}
    finally:
        try:
            app_mgr.close()
        except Exception:
            pass
        del services


def main(argv: list[str] | None = None) -> int:
    """Read the calls, run them, write the flows (JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("calls")
    ap.add_argument("--output", "-o", help="write the JSON here instead of stdout")
    args = ap.parse_args(argv)
    sys.argv[0] = "/usr/bin/" + nc.BINARIES["ovs"]
    import logging

    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    spec = json.loads(Path(args.calls).read_text())
    nc._define_app()
    nc.start_watchdog(float(os.environ.get("NEUTRACE_CONFORMANCE_HANG", "180")))
    started = time.time()
    try:
        result = run(spec)
    except Exception:
        traceback.print_exc()
        nc.run_cleanups()
        sys.stderr.flush()
        os._exit(1)
    nc.run_cleanups()
    result["seconds"] = round(time.time() - started, 2)
    text = json.dumps(result, indent=1, sort_keys=True)
    if args.output:
        Path(args.output).write_text(text)
    else:
        print(text)
    sys.stdout.flush()
    os._exit(0)  # os-ken/oslo leave non-daemon threads behind


if __name__ == "__main__":
    threading.current_thread().name = "conformance"
    sys.exit(main())
