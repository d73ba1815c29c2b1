"""``footfall campaigns ...`` and ``footfall report ...`` commands.

Only typer is imported at module level; the database, the parsers and the report code
are imported inside each command. Errors: one line on stderr and exit code 2 (a file
with bad rows prints every bad row first, ``line N: field: reason``, and stores nothing).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from campaigns.imports import FileFormat

campaigns_app = typer.Typer(
    name="campaigns",
    help="Create campaigns, import exposures and identity links, revoke links.",
    no_args_is_help=True,
)
report_app = typer.Typer(
    name="report", help="Attribution and lift reports (JSON, CSV or a table).", no_args_is_help=True
)

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        "--database-url",
        help="SQLAlchemy URL (default: FOOTFALL_GATEWAY_DATABASE_URL or sqlite:///footfall.db).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
CampaignOpt = Annotated[str, typer.Option("--campaign", help="Campaign id.")]
CountryOpt = Annotated[
    str | None,
    typer.Option(
        "--default-country-code",
        help="Country calling code for phones written without one (e.g. 48); none: refuse them.",
    ),
]

DAY_S = 86_400.0


def register_campaigns(app: typer.Typer) -> None:
    """Add the ``campaigns`` and ``report`` groups to the root app."""
    app.add_typer(campaigns_app)
    app.add_typer(report_app)


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _engine(db: str | None) -> Engine:
    from pydantic import ValidationError

    from gateway.db import make_engine
    from gateway.settings import GatewaySettings

    try:
        settings = GatewaySettings(database_url=db) if db else GatewaySettings()
    except ValidationError as exc:
        _fail(f"setting 'database_url': {exc.errors()[0]['msg']}")
    return make_engine(settings.database_url)


def _when(name: str, raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        _fail(f"'{name}' must be an ISO 8601 timestamp with zone (got {raw!r})")
    if value.tzinfo is None:
        _fail(f"'{name}' must carry a zone such as Z or +01:00 (got {raw!r})")
    return value.astimezone(UTC)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        _fail(f"'file' {str(path)!r} cannot be read: {exc.strerror}")
    except UnicodeDecodeError:
        _fail(f"'file' {str(path)!r} must be UTF-8 text")


@campaigns_app.command("create")
def create_command(
    campaign_id: Annotated[str, typer.Argument(help="Campaign id (letters, digits, _ . : -).")],
    name: Annotated[str, typer.Option(help="Display name.")],
    starts: Annotated[str, typer.Option(help="Flight start, ISO 8601 with zone.")],
    ends: Annotated[str, typer.Option(help="Flight end, ISO 8601 with zone.")],
    channels: Annotated[str, typer.Option(help="Comma-separated channels.")] = "",
    window_click_days: Annotated[float, typer.Option(help="Click window, days.")] = 30.0,
    window_impression_days: Annotated[float, typer.Option(help="Impression window, days.")] = 1.0,
    window_engaged_view_days: Annotated[
        float, typer.Option(help="Engaged-view window, days.")
    ] = 3.0,
    control: Annotated[
        str, typer.Option(help="Control design: randomized_holdout or none.")
    ] = "randomized_holdout",
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a campaign with its windows and control design."""
    from campaigns.model import AttributionWindows, Campaign, CampaignError, ControlDesign
    from gateway.campaign_store import CampaignStoreError, create_campaign

    try:
        campaign = Campaign(
            id=campaign_id,
            name=name,
            channels=tuple(c.strip() for c in channels.split(",") if c.strip()),
            starts_at=_when("starts", starts),
            ends_at=_when("ends", ends),
            windows=AttributionWindows(
                window_click_days * DAY_S,
                window_impression_days * DAY_S,
                window_engaged_view_days * DAY_S,
            ),
            control_design=ControlDesign(control),
        )
        create_campaign(_engine(db), campaign, datetime.now(UTC))
    except ValueError as exc:
        if not isinstance(exc, CampaignError):
            _fail(f"'control' must be randomized_holdout or none (got {control!r})")
        _fail(str(exc))
    except CampaignStoreError as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps({"campaign": campaign.id, "created": True}))
    else:
        typer.echo(f"campaign {campaign.id} created")


def _report_errors(errors: Any, as_json: bool, what: str) -> NoReturn:
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "imported": 0,
                    "errors": [
                        {"line": e.line, "field": e.field, "reason": e.reason} for e in errors
                    ],
                }
            )
        )
    else:
        for e in errors:
            typer.echo(str(e), err=True)
    _fail(f"{len(errors)} bad {what} row(s); nothing imported")


def _file_format(file: Path, file_format: str | None) -> FileFormat:
    """``--format``, else the file name's ending; a clear error for anything else."""
    from campaigns.imports import FileFormat
    from campaigns.model import CampaignError

    try:
        return FileFormat(file_format) if file_format else FileFormat.from_filename(file.name)
    except ValueError as exc:
        _fail(
            str(exc)
            if isinstance(exc, CampaignError)
            else f"'format' must be csv or jsonl (got {file_format!r})"
        )


@campaigns_app.command("import-exposures")
def import_exposures_command(
    file: Annotated[Path, typer.Argument(help="CSV or JSON-lines file (see docs/attribution.md).")],
    campaign: CampaignOpt,
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl (default: from the file name).")
    ] = None,
    default_country_code: CountryOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import exposures all-or-nothing; raw e-mails/phones are hashed and never stored."""
    from campaigns.imports import parse_exposures
    from campaigns.model import CampaignError
    from gateway.campaign_store import CampaignStoreError, import_exposures

    fmt = _file_format(file, file_format)
    parsed = parse_exposures(_read(file), fmt, campaign, default_country_code)
    if parsed.errors:
        _report_errors(parsed.errors, as_json, "exposure")
    try:
        outcome = import_exposures(_engine(db), campaign, parsed.rows, import_id=file.name[:64])
    except (CampaignStoreError, CampaignError) as exc:
        _fail(str(exc))
    result = {
        "rows": len(parsed.rows) + parsed.duplicates,
        "inserted": outcome.inserted,
        "already_present": outcome.already_present,
        "duplicates_in_file": parsed.duplicates,
    }
    typer.echo(json.dumps(result) if as_json else ", ".join(f"{k}={v}" for k, v in result.items()))


@campaigns_app.command("import-links")
def import_links_command(
    file: Annotated[Path, typer.Argument(help="CSV or JSON-lines file of identity links.")],
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl (default: from the file name).")
    ] = None,
    default_country_code: CountryOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import consented device_key <-> person_key links, all-or-nothing."""
    from campaigns.imports import parse_links
    from gateway.campaign_store import import_links

    fmt = _file_format(file, file_format)
    parsed = parse_links(_read(file), fmt, default_country_code)
    if parsed.errors:
        _report_errors(parsed.errors, as_json, "link")
    outcome = import_links(_engine(db), parsed.rows)
    result = {
        "rows": len(parsed.rows),
        "inserted": outcome.inserted,
        "already_present": outcome.already_present,
    }
    typer.echo(json.dumps(result) if as_json else ", ".join(f"{k}={v}" for k, v in result.items()))


@campaigns_app.command("revoke-link")
def revoke_link_command(
    device_key: Annotated[str | None, typer.Option(help="Device key of the link(s).")] = None,
    person: Annotated[
        str | None, typer.Option(help="E-mail, phone, loyalty id or person_key (hashed here).")
    ] = None,
    source: Annotated[str | None, typer.Option(help="Only links from this source.")] = None,
    default_country_code: CountryOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke links: their effect disappears from every report computed afterwards."""
    from campaigns.identity import person_key
    from campaigns.model import CampaignError
    from gateway.campaign_store import revoke_links

    try:
        key = person_key(person, default_country_code=default_country_code) if person else None
        count = revoke_links(
            _engine(db), datetime.now(UTC), device_key=device_key, person_key=key, source=source
        )
    except CampaignError as exc:
        _fail(str(exc))
    typer.echo(json.dumps({"revoked": count}) if as_json else f"revoked {count} link(s)")


def _options(model: str, half_life_days: float, k: int) -> Any:
    from gateway.reports import ReportError, ReportOptions

    try:
        return ReportOptions(model=model, half_life_s=half_life_days * DAY_S, k=k)
    except ReportError as exc:
        _fail(str(exc))


def _emit(report: Any, as_json: bool, as_csv: bool) -> None:
    from campaigns.reports import render_csv, render_json

    if as_json and as_csv:
        _fail("'--json' and '--csv' exclude each other")
    if as_json:
        typer.echo(render_json(report))
        return
    if as_csv:
        typer.echo(render_csv(report), nl=False)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"[bold]{report.name}[/] report, campaign {report.parameters.campaign_id}, "
        f"model {report.parameters.model}, k={report.parameters.k}"
    )
    for section, rows in report.sections.items():
        if not rows:
            continue
        table = Table(title=section)
        columns = list(dict.fromkeys(key for row in rows for key in row))
        for col in columns:
            table.add_column(col)
        for row in rows:
            table.add_row(*(_fmt(row.get(col)) for col in columns))
        console.print(table)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@report_app.command("attribution")
def attribution_command(
    campaign: CampaignOpt,
    model: Annotated[
        str,
        typer.Option(help="last_touch, first_touch, linear, time_decay, position_based or markov."),
    ] = "last_touch",
    half_life_days: Annotated[float, typer.Option(help="Time-decay half-life, days.")] = 7.0,
    k: Annotated[int, typer.Option(help="Suppress cells of fewer than k people.")] = 10,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """Attributed visits by campaign, channel, creative, store, zone, day; time to visit."""
    from gateway.campaign_store import CampaignStoreError
    from gateway.reports import attribution_report

    options = _options(model, half_life_days, k)
    try:
        result = attribution_report(_engine(db), campaign, options)
    except CampaignStoreError as exc:
        _fail(str(exc))
    _emit(result.report, as_json, as_csv)


@report_app.command("lift")
def lift_command(
    campaign: CampaignOpt,
    k: Annotated[int, typer.Option(help="Suppress arms of fewer than k people.")] = 10,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """Exposed vs control lift with CIs, p-value, incremental visitors; DiD without control."""
    from gateway.campaign_store import CampaignStoreError
    from gateway.reports import lift_report

    options = _options("last_touch", 7.0, k)
    try:
        report = lift_report(_engine(db), campaign, options)
    except CampaignStoreError as exc:
        _fail(str(exc))
    _emit(report, as_json, as_csv)


@campaigns_app.command("plan")
def plan_command(
    control_rate: Annotated[float, typer.Option(help="Expected control visit rate (0-1).")],
    exposed_people: Annotated[int, typer.Option(help="People in the exposed arm.")],
    control_people: Annotated[int, typer.Option(help="People in the control arm.")],
    alpha: Annotated[float, typer.Option(help="Two-sided significance level.")] = 0.05,
    power: Annotated[float, typer.Option(help="Power wanted.")] = 0.8,
    as_json: JsonOpt = False,
) -> None:
    """Minimum detectable effect of a holdout test (two proportions, Cohen's h)."""
    from campaigns.stats import StatsInputError, minimum_detectable_effect

    try:
        mde = minimum_detectable_effect(control_rate, exposed_people, control_people, alpha, power)
    except StatsInputError as exc:
        _fail(str(exc))
    result = {
        "control_rate": control_rate,
        "minimum_detectable_difference": mde,
        "minimum_detectable_relative_lift": mde / control_rate if control_rate > 0 else None,
        "alpha": alpha,
        "power": power,
        "method": "two-sided two-proportion test, normal approximation on Cohen's h",
    }
    typer.echo(json.dumps(result) if as_json else ", ".join(f"{k}={v}" for k, v in result.items()))
