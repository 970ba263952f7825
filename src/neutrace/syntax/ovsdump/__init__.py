"""Open vSwitch's own text dumps (layer 2): parsers and formatters.

- ``ovs-vsctl show`` ⇄ `VsctlShow` (bridges, ports with tag/trunks, interfaces with type and
  options such as ``peer``/``remote_ip``/``local_ip``/``in_key``/``out_key``);
- ``ovs-ofctl show BRIDGE`` → `OfctlShow` (ofport → port name and MAC);
- ``ovs-appctl dpif/show`` → `DpifShow` (datapath port number → bridge and port name);
- ``ovs-appctl ofproto/trace`` ⇄ `OfprotoTrace`: its passes (the first one and each
  recirculation), and in each the bridges, table visits with the matched flow's match text and
  priority (or a miss), actions and notes with their resubmit depth, ``Final flow``, ``Megaflow``
  and ``Datapath actions``. ``format_ofproto_trace(parse_ofproto_trace(t)) == t``;
- the ``Datapath actions`` list → `DatapathAction`s, and `datapath_outputs` which applies them to
  a packet to find which datapath port got which copy with which headers.

Bad input raises `neutrace.errors.SyntaxParseError` naming the file, the line and the fix.

One module per dump: ``values`` (quoting, maps), ``vsctl`` (show, list), ``ofctl_show``,
``dpif``, ``ofproto_trace``, ``datapath`` (the datapath actions).
"""

from neutrace.syntax.ovsdump.datapath import (
    DatapathAction,
    datapath_outputs,
    parse_datapath_actions,
    tnl_push_output,
)
from neutrace.syntax.ovsdump.dpif import DpifPort, DpifShow, parse_dpif_show
from neutrace.syntax.ovsdump.ofctl_show import (
    OfctlPort,
    OfctlShow,
    format_ofctl_show,
    parse_ofctl_show,
)
from neutrace.syntax.ovsdump.ofproto_trace import (
    INTERNAL_MISS_MATCHES,
    OfprotoTrace,
    TableVisit,
    TraceLine,
    TracePass,
    format_ofproto_trace,
    parse_ofproto_trace,
)
from neutrace.syntax.ovsdump.values import OFPP_LOCAL, format_smap, parse_smap, split_top
from neutrace.syntax.ovsdump.vsctl import (
    ShowBridge,
    ShowController,
    ShowInterface,
    ShowPort,
    VsctlShow,
    format_vsctl_show,
    parse_vsctl_list,
    parse_vsctl_show,
)

__all__ = [
    "INTERNAL_MISS_MATCHES", "OFPP_LOCAL", "DatapathAction", "DpifPort", "DpifShow", "OfctlPort",
    "OfctlShow", "OfprotoTrace", "ShowBridge", "ShowController", "ShowInterface", "ShowPort",
    "TableVisit", "TraceLine", "TracePass", "VsctlShow", "datapath_outputs", "format_ofctl_show",
    "format_ofproto_trace", "format_smap", "format_vsctl_show", "parse_datapath_actions",
    "parse_dpif_show", "parse_ofctl_show", "parse_ofproto_trace", "parse_smap",
    "parse_vsctl_list", "parse_vsctl_show", "split_top", "tnl_push_output",
]
