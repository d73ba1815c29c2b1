"""Dashboard routes: overview, store, zone, campaigns, campaign, agents; login and CSV.

Server-rendered (Jinja2 templates and inline SVG from :mod:`gateway.dashboard.charts`);
one tiny script updates the occupancy table from a server-sent event stream. A page is
built as data (:class:`Page`: sections of key numbers, a chart and a table), so every
table of every page downloads as CSV with ``?csv=<table>``.

Auth: an API key (header) or the ``ff_session`` cookie that ``/login`` sets after checking
a key; roles as in the API (footfall and campaigns: marketer; agents: technician).
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import FastAPI, Form, HTTPException, Query, Request
from fastapi import Path as Path_
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from gateway.api import queries
from gateway.api.auth import (
    SESSION_COOKIE,
    Principal,
    Role,
    authenticate,
    hash_key,
    presented_key,
    principal_from_session,
    refuse,
    session_token,
)
from gateway.api.sse import occupancy_events
from gateway.dashboard import charts
from gateway.schemas import NAME_PATTERN

_LOGGER = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
DAY_S = 86_400.0
MODELS = ("last_touch", "first_touch", "linear", "time_decay", "position_based", "markov")
WINDOW_LABELS = {
    3600.0: "1 h",
    21600.0: "6 h",
    86400.0: "1 d",
    259200.0: "3 d",
    604800.0: "7 d",
    1209600.0: "14 d",
    2592000.0: "30 d",
}
DASH = "-"  # shown for a value that does not exist (not for a suppressed one)
MARKETING = frozenset({Role.ADMIN, Role.MARKETER})
TECHNICAL = frozenset({Role.ADMIN, Role.TECHNICIAN})
LIVE = frozenset({Role.ADMIN, Role.MARKETER, Role.TECHNICIAN})
PUBLIC_PATHS = frozenset({"/", "/login", "/logout"})
PAGE_ROLES: dict[str, frozenset[Role]] = {
    "/dashboard": MARKETING,
    "/dashboard/stores/{store_id}": MARKETING,
    "/dashboard/stores/{store_id}/zones/{zone}": MARKETING,
    "/dashboard/campaigns": MARKETING,
    "/dashboard/campaigns/{campaign_id}": MARKETING,
    "/dashboard/agents": TECHNICAL,
    "/dashboard/occupancy/stream": LIVE,
}
"""Who may open each dashboard page (the auth-matrix test holds every route to this)."""


# --- page model ---------------------------------------------------------------------------


@dataclass
class Table:
    name: str
    columns: list[tuple[str, str]]
    """``(key, header)`` in display order."""
    rows: list[dict[str, Any]]
    links: dict[str, str] = field(default_factory=dict)
    """Column key -> row key holding that cell's URL."""
    live: str | None = None
    """URL of an SSE stream that refreshes this table."""


@dataclass
class Section:
    title: str
    numbers: list[tuple[str, str]] = field(default_factory=list)
    chart: str | None = None
    table: Table | None = None
    note: str | None = None


@dataclass
class Page:
    title: str
    nav: str
    sections: list[Section]
    controls: list[tuple[str, str, list[tuple[str, str]], str]] = field(default_factory=list)
    """Select boxes: ``(name, label, [(value, text)], selected)``."""


# --- formatting -------------------------------------------------------------------------


def _cell(value: Any, row: dict[str, Any], key: str) -> str:
    if value is None:
        return "suppressed" if row.get("suppressed") and key != "suppressed" else DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return DASH
        if key.endswith(("rate", "lift", "share")) or key in ("capture_rate",):
            return f"{value * 100:.1f} %"
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def _pct(value: float | None) -> str:
    return DASH if value is None else f"{value * 100:.1f} %"


def _num(value: float | int | None) -> str:
    if value is None:
        return "suppressed"
    return f"{value:,.0f}" if isinstance(value, int) or value >= 100 else f"{value:,.1f}"


def _csv(table: Table, filename: str) -> Response:
    out = io.StringIO()
    keys = [k for k, _ in table.columns]
    if any("suppressed" in r for r in table.rows) and "suppressed" not in keys:
        keys.append("suppressed")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(keys)
    for row in table.rows:
        values = []
        for k in keys:
            v = row.get(k)
            if isinstance(v, datetime):
                v = v.isoformat()
            values.append("" if v is None else v)
        writer.writerow(values)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}-{table.name}.csv"'},
    )


# --- auth -------------------------------------------------------------------------------


class _LoginRequiredError(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def _principal(request: Request, session: Session) -> Principal | None:
    state = request.app.state
    presented, problem = presented_key(request)
    if problem is not None:
        raise refuse(request, 401, problem, presented)
    if presented:
        principal, reason = authenticate(session, presented)
        if principal is None:
            raise refuse(request, 401, reason, presented)
        return principal
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        principal, reason = principal_from_session(
            session, state.session_secret, token, state.clock().timestamp()
        )
        if principal is None:
            refuse(request, 401, reason, None)  # logged; the user is sent to log in again
        return principal
    return None


def _check(request: Request, session: Session, roles: frozenset[Role]) -> Principal:
    principal = _principal(request, session)
    if principal is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise _LoginRequiredError(path)
    if principal.role not in roles:
        names = ", ".join(sorted(r.value for r in roles))
        raise refuse(
            request,
            403,
            f"role '{principal.role.value}' may not open this page (needs: {names})",
            None,
        )
    request.state.principal = principal
    return principal


def _safe_next(value: str | None) -> str | None:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


# --- page builders ----------------------------------------------------------------------


def _period(request: Request, days: int) -> tuple[datetime, datetime]:
    now: datetime = request.app.state.clock()
    end = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return end - timedelta(days=days), end


def _footfall_sections(
    session: Session, request: Request, store_id: str | None, days: int, k: int
) -> list[Section]:
    settings = request.app.state.settings
    start, end = _period(request, days)
    rows, total = queries.footfall(
        session, store_id, start, end, settings.privacy_horizon_days * DAY_S, k
    )
    chart = charts.bar_chart(
        "Footfall by day: visits and passers-by",
        [r.day[5:] for r in rows],
        [
            charts.Series("visits", [r.visits for r in rows], "s1"),
            charts.Series("passers-by", [r.passers_by for r in rows], "s2"),
        ],
    )
    capture = charts.bar_chart(
        "Capture rate by day (visits / (visits + passers-by))",
        [r.day[5:] for r in rows],
        [
            charts.Series(
                "capture rate %",
                [None if r.capture_rate is None else r.capture_rate * 100 for r in rows],
                "s3",
            )
        ],
    )
    numbers = [
        ("Visits", _num(total.visits)),
        ("Passers-by", _num(total.passers_by)),
        ("Capture rate", _pct(total.capture_rate)),
        ("Engaged", _num(total.engaged)),
        ("New / repeat", f"{_num(total.new_visits)} / {_num(total.repeat_visits)}"),
    ]
    table = Table(
        "footfall",
        [
            ("day", "Day (UTC)"),
            ("visits", "Visits"),
            ("passers_by", "Passers-by"),
            ("capture_rate", "Capture rate"),
            ("engaged", "Engaged"),
            ("new_visits", "New"),
            ("repeat_visits", "Repeat"),
            ("unknown_visits", "Unknown (randomized)"),
        ],
        [_row(r) for r in rows],
    )
    note = (
        f"Last {days} days, UTC days. Repeat: the device visited within the last "
        f"{settings.privacy_horizon_days:g} days. Cells of fewer than {k} devices are suppressed."
    )
    return [
        Section("Footfall", numbers=numbers, chart=chart, table=table, note=note),
        Section("Capture rate", chart=capture),
    ]


def _row(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__ if name != "devices"}


def _occupancy_section(session: Session, request: Request, store_id: str | None) -> Section:
    settings = request.app.state.settings
    rows = queries.occupancy_now(
        session, store_id, request.app.state.clock(), settings.occupancy_max_age_s
    )
    stream = "/dashboard/occupancy/stream" + (f"?store_id={quote(store_id)}" if store_id else "")
    table = Table(
        "occupancy",
        [
            ("store_id", "Store"),
            ("zone", "Zone"),
            ("devices", "Devices now"),
            ("agents", "Agents"),
            ("sampled_at", "Sampled"),
        ],
        [_row(r) for r in rows],
        live=stream,
    )
    return Section(
        "Occupancy now",
        numbers=[("Devices in the store now", str(sum(r.devices for r in rows)))],
        table=table,
        note="Live: refreshed from the agents' occupancy reports every few seconds.",
    )


def overview_page(session: Session, request: Request, days: int, k: int) -> Page:
    sections = _footfall_sections(session, request, None, days, k)
    sections.insert(2, _occupancy_section(session, request, None))
    stores = queries.stores(session)
    sections.append(
        Section(
            "Stores",
            table=Table(
                "stores",
                [("id", "Store"), ("name", "Name"), ("timezone", "Time zone"), ("zones", "Zones")],
                [{**_row(s), "url": f"/dashboard/stores/{quote(s.id)}"} for s in stores],
                links={"id": "url"},
            ),
        )
    )
    return Page("Overview", "overview", sections)


def _dwell_section(
    session: Session, request: Request, store_id: str, zone: str | None, days: int, k: int
) -> Section:
    start, end = _period(request, days)
    buckets = queries.dwell_buckets(session, store_id, zone, start, end, k)
    chart = charts.bar_chart(
        "Dwell distribution",
        [b.bucket for b in buckets],
        [charts.Series("visits" if zone is None else "stays", [b.visits for b in buckets], "s1")],
    )
    table = Table(
        "dwell",
        [("bucket", "Dwell"), ("visits", "Visits" if zone is None else "Stays")],
        [_row(b) for b in buckets],
    )
    return Section("Dwell distribution", chart=chart, table=table)


def _heat_section(
    session: Session, request: Request, store_id: str, zone: str | None, days: int, k: int
) -> Section:
    start, end = _period(request, days)
    cells = queries.heat_by_hour(session, store_id, zone, start, end, k)
    chart = charts.heatmap("Heat by hour (UTC)", [(c.weekday, c.hour, c.visits) for c in cells])
    table = Table(
        "heat",
        [("weekday", "Weekday (0 = Mon)"), ("hour", "Hour (UTC)"), ("visits", "Visits")],
        [_row(c) for c in cells if c.visits != 0],
    )
    return Section(
        "Heat by hour",
        chart=chart,
        table=table,
        note="Visits started per weekday and hour; hatched cells are suppressed.",
    )


def store_page(session: Session, request: Request, store_id: str, days: int, k: int) -> Page:
    store = queries.get_store(session, store_id)
    start, end = _period(request, days)
    sections = _footfall_sections(session, request, store_id, days, k)[:1]
    sections.append(_occupancy_section(session, request, store_id))
    sections.append(_dwell_section(session, request, store_id, None, days, k))
    sections.append(_heat_section(session, request, store_id, None, days, k))
    stats = {z.zone: z for z in queries.zone_stats(session, store_id, start, end, k)}
    zone_rows = []
    for z in queries.zones(session, store_id):
        s = stats.get(z.name)
        zone_rows.append(
            {
                "name": z.name,
                "label": z.label,
                "min_rssi_dbm": z.min_rssi_dbm,
                "stays": s.visits if s else 0,
                "mean_dwell_s": s.mean_dwell_s if s else None,
                "suppressed": bool(s and s.suppressed),
                "url": f"/dashboard/stores/{quote(store_id)}/zones/{quote(z.name)}",
            }
        )
    sections.append(
        Section(
            "Zones",
            table=Table(
                "zones",
                [
                    ("name", "Zone"),
                    ("label", "Label"),
                    ("min_rssi_dbm", "Min RSSI (dBm)"),
                    ("stays", "Stays"),
                    ("mean_dwell_s", "Mean dwell (s)"),
                ],
                zone_rows,
                links={"name": "url"},
            ),
        )
    )
    return Page(f"Store {store.name or store.id}", "overview", sections)


def zone_page(
    session: Session, request: Request, store_id: str, zone: str, days: int, k: int
) -> Page:
    names = {z.name for z in queries.zones(session, store_id)}
    if zone not in names:
        raise queries.NotFoundError(f"'zone' {zone!r} does not exist in store {store_id!r}")
    return Page(
        f"Zone {zone} · {store_id}",
        "overview",
        [
            _dwell_section(session, request, store_id, zone, days, k),
            _heat_section(session, request, store_id, zone, days, k),
        ],
    )


def agents_page(session: Session, request: Request) -> Page:
    settings = request.app.state.settings
    rows = queries.agents(session, None, request.app.state.clock(), settings.agent_offline_after_s)
    table_rows = []
    for a in rows:
        row = _row(a)
        row["status"] = "online" if a.online else "offline"
        row["drops"] = ", ".join(f"{k}: {v}" for k, v in sorted(a.drops.items())) or DASH
        table_rows.append(row)
    online = sum(1 for a in rows if a.online)
    chart = charts.bar_chart(
        "Outbox depth per agent (events waiting to be sent)",
        [f"{a.store_id}/{a.agent_id}" for a in rows],
        [charts.Series("outbox depth", [float(a.outbox_depth or 0) for a in rows], "s2")],
    )
    return Page(
        "Agents",
        "agents",
        [
            Section(
                "Agents",
                numbers=[("Online", f"{online} of {len(rows)}")],
                table=Table(
                    "agents",
                    [
                        ("store_id", "Store"),
                        ("agent_id", "Agent"),
                        ("status", "Status"),
                        ("health", "Health"),
                        ("last_seen_at", "Last seen"),
                        ("seconds_since_seen", "Seconds ago"),
                        ("adverts_per_s", "Adverts/s"),
                        ("probes_per_s", "Probes/s"),
                        ("tracked_devices", "Devices tracked"),
                        ("outbox_depth", "Outbox depth"),
                        ("outbox_age_s", "Outbox age (s)"),
                        ("version", "Version"),
                        ("drops", "Drops"),
                    ],
                    table_rows,
                ),
                note=f"Offline: status says so, or nothing heard for "
                f"{settings.agent_offline_after_s:g} s.",
            ),
            Section("Outbox", chart=chart),
        ],
    )


def campaigns_page(session: Session, request: Request) -> Page:
    rows = [
        {**_row(c), "channels": ", ".join(c.channels), "url": f"/dashboard/campaigns/{quote(c.id)}"}
        for c in queries.campaigns(session)
    ]
    return Page(
        "Campaigns",
        "campaigns",
        [
            Section(
                "Campaigns",
                table=Table(
                    "campaigns",
                    [
                        ("id", "Campaign"),
                        ("name", "Name"),
                        ("channels", "Channels"),
                        ("starts_at", "Starts"),
                        ("ends_at", "Ends"),
                        ("control_design", "Control"),
                        ("exposures", "Exposures"),
                    ],
                    rows,
                    links={"id": "url"},
                ),
            )
        ],
    )


def campaign_page(session: Session, request: Request, campaign_id: str, model: str, k: int) -> Page:
    from gateway.reports import ReportOptions, attribution_report, lift_report

    info = queries.get_campaign_info(session, campaign_id)
    engine = request.app.state.engine
    options = ReportOptions(model=model, k=k)
    attribution = attribution_report(engine, campaign_id, options).report
    lift = lift_report(engine, campaign_id, ReportOptions(k=k))
    a_sec, l_sec = attribution.sections, lift.sections
    metrics = {r["metric"]: r for r in l_sec.get("lift", []) if r.get("level") is None}
    total = (a_sec.get("by_campaign") or [{}])[0]
    numbers = [
        ("Attributed visits", _num(total.get("visits"))),
        (f"Credited visits ({model})", _num(total.get("credited_visits"))),
        ("Incremental visitors", _num(metrics.get("incremental_visitors", {}).get("value"))),
        ("Exposed rate", _pct(metrics.get("exposed_rate", {}).get("value"))),
        ("Control rate", _pct(metrics.get("control_rate", {}).get("value"))),
        ("p-value", _fmt_p(metrics.get("p_value", {}).get("value"))),
    ]
    sections = [
        Section(
            f"{info.name} ({info.id})",
            numbers=numbers,
            table=Table(
                "arms",
                [
                    ("arm", "Arm"),
                    ("people", "People"),
                    ("visitors", "Visitors"),
                    ("visits", "Visits"),
                ],
                [dict(r) for r in l_sec.get("arms", [])],
            ),
            note=f"Flight {info.starts_at:%Y-%m-%d} to {info.ends_at:%Y-%m-%d}; control: "
            f"{info.control_design}; windows (days): click {info.window_click_days:g}, "
            f"impression {info.window_impression_days:g}, engaged view "
            f"{info.window_engaged_view_days:g}; k = {k}.",
        )
    ]
    sections.append(_lift_section(l_sec))
    sections.append(_window_section(l_sec))
    ttv = list(a_sec.get("by_time_to_visit", []))
    sections.append(
        Section(
            "Time to visit",
            chart=charts.bar_chart(
                "Time from the latest exposure to the attributed visit",
                [str(r["value"]) for r in ttv],
                [charts.Series("visits", [r.get("visits") for r in ttv], "s1")],
            ),
            table=Table(
                "time_to_visit",
                [("value", "Time to visit"), ("visits", "Visits")],
                [dict(r) for r in ttv],
            ),
        )
    )
    for dim, title in (
        ("store", "By store"),
        ("creative", "By creative"),
        ("channel", "By channel"),
    ):
        rows = [dict(r) for r in a_sec.get(f"by_{dim}", [])]
        sections.append(
            Section(
                title,
                chart=charts.bar_chart(
                    f"Credited visits by {dim}",
                    [str(r["value"]) for r in rows],
                    [charts.Series("credited visits", [r.get("credited_visits") for r in rows])],
                ),
                table=Table(
                    f"by_{dim}",
                    [
                        ("value", dim.title()),
                        ("people", "People"),
                        ("visits", "Attributed visits"),
                        ("credited_visits", "Credited visits"),
                    ],
                    rows,
                ),
                note=f"Cells of fewer than {k} people are suppressed.",
            )
        )
    if "difference_in_differences" in l_sec:
        sections.append(
            Section(
                "Difference in differences (no holdout)",
                table=Table(
                    "did",
                    [
                        ("metric", "Metric"),
                        ("level", "Level"),
                        ("value", "Value"),
                        ("lower", "Lower"),
                        ("upper", "Upper"),
                        ("method", "Method"),
                    ],
                    [dict(r) for r in l_sec["difference_in_differences"]],
                ),
            )
        )
    page = Page(f"Campaign {info.name}", "campaigns", sections)
    page.controls = [
        ("model", "Attribution model", [(m, m.replace("_", " ")) for m in MODELS], model)
    ]
    return page


def _fmt_p(value: float | None) -> str:
    if value is None:
        return DASH
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _lift_section(sections: Any) -> Section:
    rows = [dict(r) for r in sections.get("lift", [])]
    estimates = []
    for metric, label in (
        ("relative_lift", "Visit-rate lift"),
        ("visits_per_person_lift", "Visits-per-person lift"),
    ):
        point = next((r for r in rows if r["metric"] == metric and r.get("level") is None), None)
        if point is None:
            continue
        cis = [
            (float(r["level"]), r.get("lower"), r.get("upper"))
            for r in rows
            if r["metric"] == metric and r.get("level") is not None
        ]
        estimates.append(charts.Interval(label, point.get("value"), cis))
    chart = (
        charts.interval_chart("Lift with 90 % and 95 % confidence intervals", estimates)
        if estimates
        else None
    )
    note = None if estimates else (rows[0].get("method") if rows else "no lift computed")
    return Section(
        "Lift",
        chart=chart,
        table=Table(
            "lift",
            [
                ("metric", "Metric"),
                ("level", "Level"),
                ("value", "Value"),
                ("lower", "Lower"),
                ("upper", "Upper"),
                ("method", "Method"),
            ],
            rows,
        ),
        note=note,
    )


def _window_section(sections: Any) -> Section:
    rows = [dict(r) for r in sections.get("lift_by_window", [])]
    estimates = [
        charts.Interval(
            WINDOW_LABELS.get(float(r["window_s"]), f"{float(r['window_s']) / 3600:g} h"),
            r.get("relative_lift"),
            [(float(r["level"]), r.get("lower"), r.get("upper"))] if r.get("level") else [],
        )
        for r in rows
    ]
    return Section(
        "Lift vs attribution window",
        chart=charts.interval_chart("Relative lift by window (95 % CI)", estimates)
        if estimates
        else None,
        table=Table(
            "lift_by_window",
            [
                ("window_s", "Window (s)"),
                ("exposed_rate", "Exposed rate"),
                ("control_rate", "Control rate"),
                ("relative_lift", "Relative lift"),
                ("lower", "Lower"),
                ("upper", "Upper"),
                ("p_value", "p-value"),
            ],
            rows,
        ),
        note=None if rows else "Needs both arms with at least k people.",
    )


Days = Annotated[int, Query(ge=1, le=400, description="Days back from today.")]
KQuery = Annotated[int | None, Query(ge=1, le=100_000)]
Csv = Annotated[str | None, Query(alias="csv", max_length=64, pattern=r"^[a-z_]+$")]
NamePath = Annotated[str, Path_(pattern=NAME_PATTERN)]

# --- routes -----------------------------------------------------------------------------


def install(app: FastAPI) -> None:
    """Mount the static files and the dashboard routes on ``app``."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cell"] = _cell
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def html(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        principal = getattr(request.state, "principal", None)
        body = env.get_template(name).render(principal=principal, request=request, **ctx)
        return HTMLResponse(body, status_code=status)

    def show(
        request: Request,
        roles: frozenset[Role],
        build: Callable[[Session], Page],
        csv_name: str | None,
        filename: str,
    ) -> Response:
        with request.app.state.session_factory() as session:
            _check(request, session, roles)
            page = build(session)
        if csv_name is not None:
            for section in page.sections:
                if section.table is not None and section.table.name == csv_name:
                    return _csv(section.table, filename)
            raise HTTPException(404, detail=f"'csv': no table {csv_name!r} on this page")
        sections = [
            Section(s.title, s.numbers, Markup(s.chart) if s.chart else None, s.table, s.note)  # noqa: S704 - our own SVG, every text escaped in charts
            for s in page.sections
        ]
        return html(request, "page.html", page=page, sections=sections)

    async def login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, _LoginRequiredError)  # noqa: S101
        return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)

    app.add_exception_handler(_LoginRequiredError, login_required)

    def k_of(request: Request, k: int | None) -> int:
        k_min: int = request.app.state.settings.k_min
        return max(k or k_min, k_min)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/dashboard", status_code=303)

    @app.get("/login", include_in_schema=False)
    def login_form(request: Request, next: str | None = None) -> HTMLResponse:
        return html(request, "login.html", next=_safe_next(next) or "", error=None)

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request,
        api_key: Annotated[str, Form(max_length=256)],
        next: Annotated[str, Form(max_length=2048)] = "",
    ) -> Response:
        state = request.app.state
        with state.session_factory() as session:
            principal, reason = authenticate(session, api_key.strip())
            if principal is None:
                refuse(request, 401, reason, api_key)
                return html(
                    request,
                    "login.html",
                    401,
                    next=_safe_next(next) or "",
                    error="That key was not accepted (unknown, revoked or mistyped).",
                )
            expires = int(state.clock().timestamp()) + state.settings.session_max_age_s
            token = session_token(
                state.session_secret, principal.key_id, hash_key(api_key.strip()), expires
            )
        default = "/dashboard/agents" if principal.role is Role.TECHNICIAN else "/dashboard"
        response = RedirectResponse(_safe_next(next) or default, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=state.settings.session_max_age_s,
            httponly=True,
            secure=state.settings.secure_cookies,
            samesite="strict",
            path="/",
        )
        _LOGGER.info("dashboard login: key %d (%s)", principal.key_id, principal.name)
        return response

    @app.post("/logout", include_in_schema=False)
    def logout() -> RedirectResponse:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/dashboard", include_in_schema=False)
    def overview(request: Request, days: Days = 28, k: KQuery = None, csv: Csv = None) -> Response:
        kk = k_of(request, k)
        return show(
            request, MARKETING, lambda s: overview_page(s, request, days, kk), csv, "overview"
        )

    @app.get("/dashboard/stores/{store_id}", include_in_schema=False)
    def store(
        request: Request, store_id: NamePath, days: Days = 28, k: KQuery = None, csv: Csv = None
    ) -> Response:
        kk = k_of(request, k)
        return show(
            request,
            MARKETING,
            lambda s: store_page(s, request, store_id, days, kk),
            csv,
            f"store-{store_id}",
        )

    @app.get("/dashboard/stores/{store_id}/zones/{zone}", include_in_schema=False)
    def zone(
        request: Request,
        store_id: NamePath,
        zone: NamePath,
        days: Days = 28,
        k: KQuery = None,
        csv: Csv = None,
    ) -> Response:
        kk = k_of(request, k)
        return show(
            request,
            MARKETING,
            lambda s: zone_page(s, request, store_id, zone, days, kk),
            csv,
            f"zone-{store_id}-{zone}",
        )

    @app.get("/dashboard/campaigns", include_in_schema=False)
    def campaign_list(request: Request, csv: Csv = None) -> Response:
        return show(request, MARKETING, lambda s: campaigns_page(s, request), csv, "campaigns")

    @app.get("/dashboard/campaigns/{campaign_id}", include_in_schema=False)
    def campaign(
        request: Request,
        campaign_id: Annotated[str, Path_(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")],
        model: Annotated[str, Query(pattern="^(" + "|".join(MODELS) + ")$")] = "last_touch",
        k: KQuery = None,
        csv: Csv = None,
    ) -> Response:
        kk = k_of(request, k)
        return show(
            request,
            MARKETING,
            lambda s: campaign_page(s, request, campaign_id, model, kk),
            csv,
            f"campaign-{campaign_id}",
        )

    @app.get("/dashboard/agents", include_in_schema=False)
    def agents(request: Request, csv: Csv = None) -> Response:
        return show(request, TECHNICAL, lambda s: agents_page(s, request), csv, "agents")

    @app.get("/dashboard/occupancy/stream", include_in_schema=False)
    async def occupancy_stream(
        request: Request,
        store_id: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
        limit: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    ) -> StreamingResponse:
        import asyncio

        from gateway.api.schemas import OccupancyOut, OccupancyZoneOut

        state = request.app.state

        def _check_sync() -> None:
            with state.session_factory() as session:
                _check(request, session, LIVE)

        await run_in_threadpool(_check_sync)

        def _snapshot() -> str:
            with state.session_factory() as session:
                now = state.clock()
                rows = queries.occupancy_now(
                    session, store_id, now, state.settings.occupancy_max_age_s
                )
            return OccupancyOut(
                at=now,
                max_age_s=state.settings.occupancy_max_age_s,
                zones=[OccupancyZoneOut.model_validate(r, from_attributes=True) for r in rows],
            ).model_dump_json()

        async def _read() -> str:
            return await run_in_threadpool(_snapshot)

        return StreamingResponse(
            occupancy_events(
                _read, request.is_disconnected, state.settings.sse_interval_s, limit, asyncio.sleep
            ),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store"},
        )
