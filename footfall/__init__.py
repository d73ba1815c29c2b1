"""The ``footfall`` command: the composition root that wires the other packages.

Only this package may import both ``edge_agent`` and ``gateway``; an
import-linter contract in ``pyproject.toml`` keeps every other package from
importing it.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
