"""Where every package's commands join the ``footfall`` tree."""

from __future__ import annotations

import typer

import edge_agent.cli
import gateway.cli
import hardware.cli
from footfall import demo


def register(app: typer.Typer) -> None:
    hardware.cli.register(app)
    edge_agent.cli.register(app)
    gateway.cli.register(app)
    demo.register(app)
