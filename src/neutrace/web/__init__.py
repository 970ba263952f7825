"""The web page (layer 6, beside the command line): ``neutrace serve CLOUD`` shows the cloud, each
host's diagram and tables, and traces packets from a form (docs/web.md).

`api` turns the cloud and its walks into JSON-able data, `server` serves it and the page's static
files (``static/``: no CDN, nothing fetched from elsewhere). No domain logic lives here.
"""
