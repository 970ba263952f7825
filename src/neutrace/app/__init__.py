"""The use cases (layer 5): one call from what a user gives (a topology file, a sosreport, a
microflow) to a result, shared by the command line and the web page.

- `neutrace.app.session`: a topology file to a walker (topology + agents), conversations, DHCP,
  the seed's demo;
- `neutrace.app.ofproto_trace`: ``ofproto/trace`` offline: bridges from a sosreport, dump files
  or a cloud's host, where a microflow enters, the engine's run.

Above the walker (``neutrace.sim``) and the verification (``neutrace.verify``), below ``cli``.
"""
