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
    from gateway.api_cli import register_api

    register_api(gateway_app)
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


@gateway_app.command("ingest")
def ingest_command(
    database_url: DatabaseOpt = None,
    host: Annotated[str | None, typer.Option(help="Broker host.")] = None,
    port: Annotated[int | None, typer.Option(help="Broker port.")] = None,
    client_id: Annotated[
        str | None, typer.Option(help="MQTT client id (also the persistent session name).")
    ] = None,
    shared_group: Annotated[
        str | None, typer.Option(help="Join '$share/<group>/...' to split the stream.")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics on this port (0: any).")
    ] = None,
    mqtt_protocol: Annotated[
        str | None, typer.Option("--mqtt-protocol", help="5 (default) or 3.1.1.")
    ] = None,
    migrate: Annotated[
        bool, typer.Option("--migrate", help="Apply pending migrations before starting.")
    ] = False,
    exit_when_idle: Annotated[
        float | None,
        typer.Option(help="Stop after this many seconds without a message (batch jobs, tests)."),
    ] = None,
) -> None:
    """Subscribe to the agents' topics and store every event once (Ctrl-C to stop)."""
    import signal
    import threading
    import time

    from gateway.bootstrap import build_ingest, check_schema

    settings = _settings(
        database_url=database_url,
        mqtt_host=host,
        mqtt_port=port,
        mqtt_client_id=client_id,
        shared_group=shared_group,
        metrics_port=metrics_port,
        mqtt_protocol=mqtt_protocol,
    )
    try:
        check_schema(settings.database_url, migrate=migrate)
    except RuntimeError as exc:
        _fail(str(exc))
    stop = threading.Event()

    def _stop(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    ingest = build_ingest(settings)
    try:
        if ingest.metrics_server is not None:
            typer.echo(
                f"metrics on http://{settings.metrics_host}:{ingest.metrics_server.port}/metrics",
                err=True,
            )
        started = time.monotonic()
        ingest.service.run(stop, idle_exit_s=exit_when_idle)
        typer.echo(
            f"stored {ingest.service.metrics.events_stored} events in "
            f"{time.monotonic() - started:.1f} s",
            err=True,
        )
    finally:
        ingest.close()


@gateway_app.command("visits")
def visits_command(database_url: DatabaseOpt = None, as_json: JsonOpt = False) -> None:
    """Fold newly stored events into store visits now (ingest also does this every few seconds)."""
    from datetime import UTC, datetime

    from sqlalchemy.exc import SQLAlchemyError

    from gateway.bootstrap import visit_rules
    from gateway.db import make_engine
    from gateway.visits import update_visits

    settings = _settings(database_url=database_url)
    engine = make_engine(settings.database_url)
    try:
        result = update_visits(engine, visit_rules(settings), datetime.now(UTC))
    except SQLAlchemyError as exc:
        _fail(f"database {settings.database_url!r}: {str(exc).splitlines()[0]}")
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps({"devices": result.devices, "visits": result.visits}))
    else:
        typer.echo(f"re-merged {result.visits} visits of {result.devices} devices")


@gateway_app.command("purge")
def purge_command(
    database_url: DatabaseOpt = None,
    retention_days: Annotated[
        float | None, typer.Option(help="Keep raw events this many days (default: settings).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete raw presence events past the retention period (visits are kept)."""
    from datetime import UTC, datetime

    from sqlalchemy.exc import SQLAlchemyError

    from gateway.bootstrap import visit_rules
    from gateway.db import make_engine
    from gateway.retention import purge_events, retention_cutoff
    from gateway.visits import update_visits

    settings = _settings(database_url=database_url, retention_days=retention_days)
    engine = make_engine(settings.database_url)
    now = datetime.now(UTC)
    cutoff = retention_cutoff(now, settings.retention_days)
    try:
        update_visits(engine, visit_rules(settings), now)
        purged = purge_events(engine, cutoff, batch_rows=settings.retention_batch_rows)
    except SQLAlchemyError as exc:
        _fail(f"database {settings.database_url!r}: {str(exc).splitlines()[0]}")
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps({"purged": purged, "cutoff": cutoff.isoformat()}))
    else:
        typer.echo(f"purged {purged} events older than {cutoff.isoformat()}")
