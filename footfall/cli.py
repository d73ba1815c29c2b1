"""``footfall``: one command for agents, gateways, technicians and the demo.

Each package contributes its commands through a ``register(app)`` function in
its own ``cli.py``; those modules import only typer and rich at module level,
so ``footfall`` starts fast on a Pi that has only the ``edge`` extra installed.
"""

from __future__ import annotations

from typing import Annotated

import typer

from footfall import __version__
from footfall.logs import configure_logging


def _version(value: bool) -> None:
    if value:
        typer.echo(f"footfall {__version__}")
        raise typer.Exit


def build_app() -> typer.Typer:
    """Assemble the command tree from every package's ``register`` hook."""
    app = typer.Typer(
        name="footfall",
        help="In-store presence sensing and visit attribution.",
        no_args_is_help=True,
        rich_markup_mode="rich",
    )

    @app.callback()
    def _root(
        log_level: Annotated[
            str, typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR.")
        ] = "WARNING",
        log_json: Annotated[
            bool, typer.Option("--log-json", help="Log JSON lines (for journald and shippers).")
        ] = False,
        version: Annotated[
            bool,
            typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
        ] = False,
    ) -> None:
        configure_logging(log_level, json_lines=log_json)

    from footfall import commands

    commands.register(app)
    return app


def main() -> None:
    """Console-script entrypoint."""
    build_app()()
