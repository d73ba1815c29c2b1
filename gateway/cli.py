"""Commands that ``gateway`` adds to ``footfall``.

Only typer and rich are imported at module level; heavy dependencies are
imported inside the commands, so ``footfall --help`` stays fast on a Pi.

``register(app)`` adds the ``gateway`` group; other gateway-side helpers add
their own groups (``campaigns``, ``report``) to the list in :func:`register`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:
    from gateway.settings import GatewaySettings

gateway_app = typer.Typer(
    name="gateway",
    help="Store events from the broker, migrate the database, merge store visits.",
    no_args_is_help=True,
)

DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL (default: FOOTFALL_GATEWAY_DATABASE_URL or sqlite:///footfall.db).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def register(app: typer.Typer) -> None:
    """Add this package's commands and command groups to the root app."""
    app.add_typer(gateway_app)
    from gateway.campaigns_cli import register_campaigns

    register_campaigns(app)


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _settings(**overrides: object) -> GatewaySettings:
    from pydantic import ValidationError

    from gateway.settings import GatewaySettings

    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return GatewaySettings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        _fail(f"setting '{'.'.join(map(str, first['loc']))}': {first['msg']}")


@gateway_app.command("migrate")
def migrate_command(
    database_url: DatabaseOpt = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
    as_json: JsonOpt = False,
) -> None:
    """Create or upgrade the database schema (Alembic migrations shipped in the package)."""
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.migrate import current_revision, upgrade

    settings = _settings(database_url=database_url)
    try:
        before = current_revision(settings.database_url)
        upgrade(settings.database_url, revision)
        after = current_revision(settings.database_url)
    except SQLAlchemyError as exc:
        _fail(f"database {settings.database_url!r}: {str(exc).splitlines()[0]}")
    if as_json:
        typer.echo(json.dumps({"from": before, "to": after}))
    else:
        typer.echo(f"database at revision {after} (was {before or 'empty'})")
