"""``footfall gateway serve`` and ``footfall gateway keys create|list|revoke``.

Only typer is imported at module level; the web stack is imported inside the commands.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

keys_app = typer.Typer(
    name="keys", help="API keys: create (shown once), list, revoke.", no_args_is_help=True
)

DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL (default: FOOTFALL_GATEWAY_DATABASE_URL or sqlite:///footfall.db).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
ROLES = ("admin", "marketer", "technician", "ingest")


def register_api(gateway_app: typer.Typer) -> None:
    """Add ``serve`` and the ``keys`` group to the ``gateway`` group."""
    gateway_app.command("serve")(serve_command)
    gateway_app.add_typer(keys_app)


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _first_error(exc: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"setting '{'.'.join(map(str, first['loc']))}': {first['msg']}"
    return str(exc)


def _sessions(database_url: str | None) -> sessionmaker[Session]:
    from pydantic import ValidationError

    from gateway.bootstrap import check_schema
    from gateway.db import make_engine, make_session_factory
    from gateway.settings import GatewaySettings

    try:
        settings = GatewaySettings(database_url=database_url) if database_url else GatewaySettings()
    except ValidationError as exc:
        _fail(_first_error(exc))
    try:
        check_schema(settings.database_url, migrate=False)
    except RuntimeError as exc:
        _fail(str(exc))
    return make_session_factory(make_engine(settings.database_url))


def serve_command(
    database_url: DatabaseOpt = None,
    host: Annotated[str | None, typer.Option(help="Listen address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default 8080).")] = None,
    ingest: Annotated[
        bool, typer.Option("--ingest/--no-ingest", help="Also run the MQTT ingest in-process.")
    ] = True,
    migrate: Annotated[
        bool, typer.Option("--migrate", help="Apply pending migrations before starting.")
    ] = False,
    mqtt_host: Annotated[str | None, typer.Option(help="Broker host.")] = None,
    mqtt_port: Annotated[int | None, typer.Option(help="Broker port.")] = None,
) -> None:
    """Serve the HTTP API (/api/v1, OpenAPI at /api/v1/docs) and the dashboard (/)."""
    from pydantic import ValidationError

    from gateway.api.settings import ApiSettings
    from gateway.bootstrap import check_schema
    from gateway.serve import serve
    from gateway.settings import GatewaySettings

    given = {
        "database_url": database_url,
        "mqtt_host": mqtt_host,
        "mqtt_port": mqtt_port,
    }
    try:
        gateway = GatewaySettings(**{k: v for k, v in given.items() if v is not None})  # type: ignore[arg-type]
        api_given = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
        api = ApiSettings(**api_given)  # type: ignore[arg-type]
    except ValidationError as exc:
        _fail(_first_error(exc))
    try:
        check_schema(gateway.database_url, migrate=migrate)
    except RuntimeError as exc:
        _fail(str(exc))
    typer.echo(f"serving on http://{api.host}:{api.port}/ (API docs: /api/v1/docs)", err=True)
    serve(gateway, api, ingest=ingest)


@keys_app.command("create")
def create_command(
    role: Annotated[str, typer.Option(help="admin, marketer, technician or ingest.")],
    name: Annotated[str, typer.Option(help="A unique name (who or what uses the key).")],
    database_url: DatabaseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a key and print it once (only its SHA-256 is stored)."""
    from gateway.api.auth import ApiKeyError, Role, create_key

    if role not in ROLES:
        _fail(f"'role' must be one of {', '.join(ROLES)} (got {role!r})")
    factory = _sessions(database_url)
    with factory() as session:
        try:
            info, key = create_key(session, name, Role(role), datetime.now(UTC))
        except ApiKeyError as exc:
            _fail(str(exc))
    if as_json:
        typer.echo(json.dumps({"id": info.id, "name": info.name, "role": role, "key": key}))
    else:
        typer.echo(key)
        typer.echo(
            f"key {info.id} ({info.name}, {role}): store it now, it is not shown again", err=True
        )


@keys_app.command("list")
def list_command(database_url: DatabaseOpt = None, as_json: JsonOpt = False) -> None:
    """List keys (id, name, role, created, revoked); never the keys themselves."""
    from gateway.api.auth import list_keys

    factory = _sessions(database_url)
    with factory() as session:
        keys = list_keys(session)
    rows = [
        {
            "id": k.id,
            "name": k.name,
            "role": k.role.value,
            "created_at": k.created_at.isoformat(),
            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
        }
        for k in keys
    ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "name", "role", "created", "revoked")
    for r in rows:
        table.add_row(
            str(r["id"]),
            str(r["name"]),
            str(r["role"]),
            str(r["created_at"]),
            str(r["revoked_at"] or "-"),
        )
    Console().print(table)


@keys_app.command("revoke")
def revoke_command(
    key: Annotated[str, typer.Argument(help="The key's id or name.")],
    database_url: DatabaseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke a key at once: requests and dashboard sessions with it are refused."""
    from gateway.api.auth import ApiKeyError, revoke_key

    factory = _sessions(database_url)
    with factory() as session:
        try:
            info = revoke_key(session, int(key) if key.isdigit() else key, datetime.now(UTC))
        except ApiKeyError as exc:
            _fail(str(exc))
    if as_json:
        typer.echo(json.dumps({"id": info.id, "name": info.name, "revoked": True}))
    else:
        typer.echo(f"key {info.id} ({info.name}) revoked")
