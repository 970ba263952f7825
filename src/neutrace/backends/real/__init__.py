"""The real backend (layer 3): a `CloudState` realized on this machine's kernel and Open vSwitch.

Every host becomes a network namespace running its own ``ovsdb-server`` and
``ovs-vswitchd --disable-system`` (userspace datapath, ``datapath_type=netdev``) on private
directories; its Linux bridges, veths, iptables, ipsets, sysctls, and its qrouter/qdhcp and VM
namespaces are built from its `HostState`; physical segments and the tunnel underlay are Linux
bridges in one "wire" namespace; the outside namespaces (upstream gateway, outside hosts) are
namespaces too. Nothing is created in the root namespace.

- `names`: validation of every name before any command runs, and the kernel names of a run;
- `record`: the run record under ``/run/neutrace/<run>/`` (what `down` and the next `up` remove);
- `commands`: running ``ip``/OVS/iptables tools as argument lists, and the binaries needed;
- `ovs`: a host's private Open vSwitch, inside its namespace;
- `plan`: the links, addresses, routes... of each namespace, computed without touching anything;
- `cloud`: `up`, `down`, `status`, and `host_env`/`namespace_of` for tools run inside a host.

docs/real-backend.md says how it works, the pitfalls met and its safety rules.
"""

from __future__ import annotations

from neutrace.backends.real.cloud import (
    HostEnv,
    RunStatus,
    down,
    exec_argv,
    host_env,
    list_runs,
    namespace_of,
    status,
    up,
)

__all__ = ["HostEnv", "RunStatus", "down", "exec_argv", "host_env", "list_runs",
           "namespace_of", "status", "up"]
