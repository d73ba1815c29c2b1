"""The edge agent process: sources -> privacy -> tracker -> events -> durable outbox -> MQTT.

Public entry points: :func:`edge_agent.config.load_settings`,
:func:`edge_agent.bootstrap.build_agent`, :class:`edge_agent.outbox.Outbox`,
:mod:`edge_agent.payloads` (the MQTT contract) and the ``footfall agent`` commands.
"""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("footfall")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
