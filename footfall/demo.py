"""``footfall demo``: the whole system on one machine (not built yet)."""

from __future__ import annotations

import typer

_PLAN = """\
footfall demo will run a simulated store end to end on this machine:
  1. an embedded MQTT broker and a SQLite database (no Mosquitto or PostgreSQL needed),
  2. several simulated edge agents (a shopping day compressed into minutes),
  3. the gateway (ingest, store visits, API and dashboard),
  4. a seeded campaign with exposed and control groups and a known true effect,
and print the dashboard URL, an API key and the measured lift next to the true one.
"""


def register(app: typer.Typer) -> None:
    app.command("demo", help="Run a simulated store end to end on this machine.")(run_demo)


def run_demo() -> None:
    typer.echo(_PLAN)
    typer.echo(
        "error: the demo is not built yet (issue 8); run 'footfall --help' for what works now.",
        err=True,
    )
    raise typer.Exit(code=2)
