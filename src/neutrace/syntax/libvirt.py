"""libvirt domain XML (layer 2): what maps an instance to its taps, parser and formatter.

From ``virsh dumpxml DOMAIN`` or the files libvirt keeps (``/etc/libvirt/qemu/*.xml``, the live
``/run/libvirt/qemu/*.xml``): the domain's name and UUID, Nova's metadata when present
(``<nova:instance>``: the instance's display name, and since Nova 23 its ports with their fixed
IPs), and each ``<interface>``: MAC, ``target dev`` (``tap<port id[:11]>``), ``source bridge``
(``qbr…`` with the hybrid firewall, ``br-int`` otherwise), the OVS ``interfaceid`` of a
``virtualport type='openvswitch'`` and the MTU.

``parse_domain(format_domain(d)) == d``. Bad input raises `neutrace.errors.SyntaxParseError`
naming the source.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from neutrace.errors import SyntaxParseError

NOVA_NS = "http://openstack.org/xmlns/libvirt/nova/1.1"
_NOVA_PREFIX = "http://openstack.org/xmlns/libvirt/nova/"


@dataclass(frozen=True, slots=True)
class DomainInterface:
    """One ``<interface>`` of a domain."""

    mac: str
    target_dev: str | None = None
    type: str = "bridge"
    source_bridge: str | None = None
    interfaceid: str | None = None
    mtu: int | None = None


@dataclass(frozen=True, slots=True)
class NovaPort:
    """A port in Nova's metadata: its Neutron id and fixed IPs."""

    uuid: str
    ips: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Domain:
    """A libvirt domain: ``nova_name`` is the instance's display name (the VM name an operator
    types), ``name`` libvirt's (``instance-0000002a``)."""

    name: str
    uuid: str = ""
    nova_name: str | None = None
    interfaces: tuple[DomainInterface, ...] = ()
    nova_ports: tuple[NovaPort, ...] = ()


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_domain(text: str, source: str = "<virsh dumpxml>") -> Domain:
    """The parts of a domain XML that wire it to the host."""
    try:
        root = ET.fromstring(text.encode("utf-8", "replace"))
    except ET.ParseError as exc:
        raise SyntaxParseError(source, f"line {exc.position[0]}", f"not valid XML ({exc})",
                               "give the output of `virsh dumpxml DOMAIN` or a libvirt "
                               "domain file", exc.position[0]) from None
    if root.tag != "domain":
        raise SyntaxParseError(source, "", f"the root element is <{root.tag}>, not <domain>",
                               "give a libvirt domain XML")
    name = root.findtext("name")
    if not name:
        raise SyntaxParseError(source, "", "the domain has no <name>",
                               "give the unedited domain XML")
    nova_name = None
    ports: list[NovaPort] = []
    for el in root.iter():
        if not el.tag.startswith("{" + _NOVA_PREFIX):
            continue
        if _local(el.tag) == "name" and nova_name is None and el.text:
            nova_name = el.text.strip()
        elif _local(el.tag) == "port":
            ips = tuple(ip.get("address", "") for ip in el
                        if _local(ip.tag) == "ip" and ip.get("address"))
            ports.append(NovaPort(el.get("uuid", ""), ips))
    interfaces = []
    devices = root.find("devices")
    for itf in (devices.findall("interface") if devices is not None else []):
        mac = itf.find("mac")
        target = itf.find("target")
        src = itf.find("source")
        params = itf.find("virtualport/parameters")
        mtu = itf.find("mtu")
        interfaces.append(DomainInterface(
            mac=(mac.get("address", "") if mac is not None else "").lower(),
            target_dev=target.get("dev") if target is not None else None,
            type=itf.get("type", ""),
            source_bridge=src.get("bridge") if src is not None else None,
            interfaceid=params.get("interfaceid") if params is not None else None,
            mtu=int(mtu.get("size", "0")) if mtu is not None and
            mtu.get("size", "").isascii() and mtu.get("size", "").isdigit() and
            len(mtu.get("size", "")) < 7 else None))
    return Domain(name.strip(), (root.findtext("uuid") or "").strip(), nova_name,
                  tuple(interfaces), tuple(ports))


def format_domain(d: Domain) -> str:
    """A domain XML holding what `parse_domain` reads (the shape Nova writes)."""
    root = ET.Element("domain", {"type": "kvm"})
    ET.SubElement(root, "name").text = d.name
    if d.uuid:
        ET.SubElement(root, "uuid").text = d.uuid
    if d.nova_name is not None or d.nova_ports:
        ET.register_namespace("nova", NOVA_NS)
        meta = ET.SubElement(root, "metadata")
        inst = ET.SubElement(meta, f"{{{NOVA_NS}}}instance")
        if d.nova_name is not None:
            ET.SubElement(inst, f"{{{NOVA_NS}}}name").text = d.nova_name
        if d.nova_ports:
            ports = ET.SubElement(inst, f"{{{NOVA_NS}}}ports")
            for p in d.nova_ports:
                pe = ET.SubElement(ports, f"{{{NOVA_NS}}}port", {"uuid": p.uuid})
                for ip in p.ips:
                    ET.SubElement(pe, f"{{{NOVA_NS}}}ip", {
                        "type": "fixed", "address": ip,
                        "ipVersion": "6" if ":" in ip else "4"})
    devices = ET.SubElement(root, "devices")
    for i in d.interfaces:
        itf = ET.SubElement(devices, "interface", {"type": i.type})
        ET.SubElement(itf, "mac", {"address": i.mac})
        if i.source_bridge is not None:
            ET.SubElement(itf, "source", {"bridge": i.source_bridge})
        if i.interfaceid is not None:
            vp = ET.SubElement(itf, "virtualport", {"type": "openvswitch"})
            ET.SubElement(vp, "parameters", {"interfaceid": i.interfaceid})
        if i.target_dev is not None:
            ET.SubElement(itf, "target", {"dev": i.target_dev})
        ET.SubElement(itf, "model", {"type": "virtio"})
        if i.mtu is not None:
            ET.SubElement(itf, "mtu", {"size": str(i.mtu)})
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"
