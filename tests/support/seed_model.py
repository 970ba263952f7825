"""The seed cloud (shared/seed) built directly from `neutrace.model` objects, for the agents'
tests; the same ids as examples/seed/cloud.yaml where the blog gives them."""

from __future__ import annotations

from neutrace import model as m
from neutrace.addr import stable_mac, stable_uuid

PUBLIC_NET = "0b8f3c2e-6c1d-4b7a-9e5f-1a2b3c4d5e6f"
SHARE_NET = "7d4e5f60-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
PUBLIC_SUBNET = "1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5"
SHARE_SUBNET = "2d3e4f5a-6b7c-4d8e-9fa0-b1c2d3e4f5a6"
TEST01_PORT = "af305168-66b2-4c1e-9a57-3d0e8f1b2c44"
TEST02_PORT = stable_uuid("seed/port/test-02:0")
DHCP_PORT = "96835b35-be6a-4d39-b0c2-8f4e1a7d6c35"
QR_PORT = "466214fa-3d8c-4b5e-a1f0-7c2d9e6b5a13"
QG_PORT = "169d638e-0e47-4f2a-8b6c-5e1d3a9c7f20"
ROUTER = "c8aec0d9-3203-4bdb-9237-9818603f521f"
SG_DEFAULT = stable_uuid("seed/sg/default")


def _host(name: str, mgmt: str, tun: str, roles: tuple[str, ...],
          local_vlans: tuple[tuple[str, int], ...] = (), **kw: object) -> m.Host:
    return m.Host(
        name=name, management_ip=mgmt, tunnel_ip=tun, roles=roles,
        bridge_mappings=(("external", "br-ex"),),
        physical_nics=(m.PhysicalNic("eth3", "br-ex", "external"),),
        local_vlans=local_vlans, **kw)  # type: ignore[arg-type]


def seed_cloud(l2_population: bool = False, arp_responder: bool = False) -> m.Cloud:
    extra = {"l2_population": l2_population, "arp_responder": arp_responder}
    hosts = (
        _host("test-ctrl-01", "192.168.100.11", "192.168.120.11", ("network",), **extra),
        _host("test-cmpt-01", "192.168.100.21", "192.168.120.21", ("compute",), **extra),
        _host("test-cmpt-02", "192.168.100.22", "192.168.120.22", ("compute",),
              ((PUBLIC_NET, 2), (SHARE_NET, 1)), **extra),
    )
    networks = (
        m.Network(PUBLIC_NET, "public_net", m.TYPE_FLAT, physical_network="external",
                  router_external=True),
        m.Network(SHARE_NET, "share_net", m.TYPE_VXLAN, segmentation_id=65616, mtu=1450),
    )
    subnets = (
        m.Subnet(PUBLIC_SUBNET, "public_subnet", PUBLIC_NET, "192.168.100.0/24",
                 gateway_ip="192.168.100.1", enable_dhcp=False,
                 allocation_pools=(m.AllocationPool("192.168.100.100", "192.168.100.200"),)),
        m.Subnet(SHARE_SUBNET, "share_subnet", SHARE_NET, "192.168.111.0/24",
                 gateway_ip="192.168.111.1"),
    )

    def port(pid: str, net: str, subnet: str, ip: str, owner: str, device: str, host: str,
             sgs: tuple[str, ...] = ()) -> m.Port:
        return m.Port(pid, "", net, stable_mac(f"seed/mac/{pid}"),
                      (m.FixedIp(subnet, ip),), owner, device, host, security_groups=sgs)

    ports = (
        port(DHCP_PORT, SHARE_NET, SHARE_SUBNET, "192.168.111.2", m.DEVICE_OWNER_DHCP,
             f"dhcp-test-ctrl-01-{SHARE_NET}", "test-ctrl-01"),
        port(QR_PORT, SHARE_NET, SHARE_SUBNET, "192.168.111.1", m.DEVICE_OWNER_ROUTER_INTF,
             ROUTER, "test-ctrl-01"),
        port(QG_PORT, PUBLIC_NET, PUBLIC_SUBNET, "192.168.100.103", m.DEVICE_OWNER_ROUTER_GW,
             ROUTER, "test-ctrl-01"),
        port(TEST01_PORT, PUBLIC_NET, PUBLIC_SUBNET, "192.168.100.101",
             m.DEVICE_OWNER_COMPUTE, "test-01", "test-cmpt-02", (SG_DEFAULT,)),
        port(TEST02_PORT, SHARE_NET, SHARE_SUBNET, "192.168.111.4",
             m.DEVICE_OWNER_COMPUTE, "test-02", "test-cmpt-02", (SG_DEFAULT,)),
    )
    rules = (
        m.SecurityGroupRule(stable_uuid("r1"), "egress", "IPv4"),
        m.SecurityGroupRule(stable_uuid("r2"), "egress", "IPv6"),
        m.SecurityGroupRule(stable_uuid("r3"), "ingress", "IPv4", remote_group_id=SG_DEFAULT),
        m.SecurityGroupRule(stable_uuid("r4"), "ingress", "IPv6", remote_group_id=SG_DEFAULT),
        m.SecurityGroupRule(stable_uuid("r5"), "ingress", "IPv4", "tcp", 22, 22,
                            remote_ip_prefix="0.0.0.0/0"),
        m.SecurityGroupRule(stable_uuid("r6"), "ingress", "IPv4", "icmp"),
    )
    return m.Cloud(
        name="seed", hosts=hosts, networks=networks, subnets=subnets, ports=ports,
        vms=(m.Vm("test-01", "test-cmpt-02", (TEST01_PORT,)),
             m.Vm("test-02", "test-cmpt-02", (TEST02_PORT,))),
        routers=(m.Router(ROUTER, "router1", "test-ctrl-01",
                          m.ExternalGateway(PUBLIC_NET, QG_PORT), (QR_PORT,)),),
        floating_ips=(m.FloatingIp(stable_uuid("fip"), "192.168.100.102", PUBLIC_NET,
                                   TEST02_PORT, "192.168.111.4", ROUTER),),
        security_groups=(m.SecurityGroup(SG_DEFAULT, "default", rules),),
        outside=(m.OutsideHost("upstream-gw", "192.168.100.1", stable_mac("gw"),
                               segment="external"),
                 m.OutsideHost("internet-host", "203.0.113.10", stable_mac("ih"),
                               via="upstream-gw")),
        segments=("external",),
    )
