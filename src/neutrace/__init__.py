"""neutrace: OpenStack Neutron's ML2/Open vSwitch data plane in Python.

The package is layered (see docs/ARCHITECTURE.md); a module imports only from layers below it.
"""

from neutrace.errors import NeutraceError

__all__ = ["NeutraceError", "__version__"]
__version__ = "0.1.0"
