"""One-call entry points for the command line and the web (layer 5): load a topology file,
program it with the agents, walk conversations, and the seed's demo.

The walker itself (``neutrace.sim.walk``) sees only data-plane state; this module is where a
described cloud is turned into that state (``neutrace.topology`` + ``neutrace.agents``).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from neutrace.agents import program
from neutrace.dataplane import CloudState
from neutrace.errors import CommandLineError
from neutrace.sim.scenarios import (
    Conversation,
    converse,
    dhcp_discover,
    dhcp_offer,
    find_endpoint,
    is_ip,
)
from neutrace.sim.walk import SimState, Walker
from neutrace.topology import load

SEED_EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "seed" / "cloud.yaml"


def seed_path() -> Path:
    """The seed's cloud: examples/seed/cloud.yaml in a source checkout, else the copy shipped
    inside the package (the two are kept identical by a test)."""
    if SEED_EXAMPLE.exists():
        return SEED_EXAMPLE
    return Path(str(resources.files("neutrace") / "data" / "seed" / "cloud.yaml"))


def cloud_state(path: str | Path) -> CloudState:
    """The data-plane state of every host of the cloud described in ``path``."""
    return program(load(path))


def walker(path: str | Path) -> Walker:
    """A walker over the cloud described in ``path``."""
    return Walker(cloud_state(path))


def trace(w: Walker, source: str, destination: str, proto: str = "icmp", dport: int = 0,
          warm: bool = False, reply: bool = False,
          state: SimState | None = None, sport: int = 0) -> Conversation:
    """``source`` (a VM, namespace, outside host, IP, port or host:interface) sends to
    ``destination`` (an IP, or the name of anything that owns one); ``dport``/``sport`` (0: 80
    for tcp, 53 for udp / an ephemeral port) only with tcp or udp."""
    if proto == "icmp" and (dport or sport):
        option, value = ("--dport", dport) if dport else ("--sport", sport)
        raise CommandLineError(option, str(value), "icmp has no ports",
                               "give --proto tcp or --proto udp with a port")
    for option, value in (("--dport", dport), ("--sport", sport)):
        if not 0 <= value <= 65535:
            raise CommandLineError(option, str(value), "not a port number", "use 1-65535")
    dst_ip = destination
    if not is_ip(destination):
        dst_ip = find_endpoint(w, destination, option="--to").ip
    src = find_endpoint(w, source, toward=dst_ip, option="--from")
    return converse(w, src, dst_ip, state or SimState.cold(), proto, dport, reply=reply,
                    warm=warm, sport=sport)


def dhcp(w: Walker, vm: str, warm: bool = False) -> Conversation:
    """``vm`` broadcasts a DHCPDISCOVER (``warm``: after a first exchange) and the DHCP agent's
    dnsmasq answers with a DHCPOFFER (the conversation's reply; None if no DHCP server took
    the DISCOVER in)."""
    state = SimState.cold()
    if warm:
        dhcp_offer(w, vm, dhcp_discover(w, vm, state), state)
    discover = dhcp_discover(w, vm, state)
    return Conversation(discover, dhcp_offer(w, vm, discover, state))


@dataclass(frozen=True)
class DemoWalk:
    """One of the demo's walks: its title and the conversation."""

    title: str
    conversation: Conversation


SEED_OUTSIDE_HOST = "203.0.113.10"


def demo(warm: bool = False) -> tuple[DemoWalk, ...]:
    """The seed's two walks to the outside host, each from a cold cloud (as the blog walks them),
    with their replies: test-01 on the flat public_net, test-02 on the VXLAN share_net behind
    the router with its floating IP."""
    w = walker(seed_path())
    return (
        DemoWalk("test-01 (flat network public_net) -> outside host 203.0.113.10",
                 trace(w, "test-01", SEED_OUTSIDE_HOST, warm=warm, reply=True)),
        DemoWalk("test-02 (VXLAN network share_net, floating IP 192.168.100.102) -> outside "
                 "host 203.0.113.10",
                 trace(w, "test-02", SEED_OUTSIDE_HOST, warm=warm, reply=True)),
    )
