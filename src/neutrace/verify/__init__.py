"""Verification (layer 4): neutrace's answers set beside real systems' (DESIGN's "diff, expected
vs actual").

- `neutrace.verify.ofproto`: the OpenFlow engine against real Open vSwitch's ``ofproto/trace``
  (tables and flows visited, outputs, tunnel ids, final fields), for the differential tests and
  ``neutrace ofproto-trace --compare-ovs``.

Unlike the walker (``neutrace.sim``), this package may use the real backends
(``neutrace.backends``).
"""
