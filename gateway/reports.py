"""Attribution and lift reports as set-based SQL (SQLite and PostgreSQL).

The attribution runs in the database, set-based, never as a Python loop over visits.
Two temporary tables are built once per report (in the report's own connection, dropped
at the end), then every breakdown is a ``GROUP BY`` over the second:

1. ``ff_touches`` — store visits (classes ``visitor`` and ``engaged``; passers-by are never
   attributed) joined to the identity links valid at the visit start and not revoked
   (``lv``), joined to the campaign's exposures of the same person inside the window
   before the visit: ``-skew <= visit - exposure <= window(kind)`` (skew = 10 s). People
   are joined and grouped on the integer ``person_id`` (``people``), never on the 64-char
   person_key, and exposures carry their epoch seconds (``ts_s``, a generated column);
2. ``ff_ranked`` — per person, store and UTC day only the earliest attributed visit
   (``MIN(visit_at) OVER (PARTITION BY ...)``), its touches ranked with window functions
   (``ROW_NUMBER``, ``COUNT``, ``SUM ... OVER``) and each touch's credit computed in SQL
   for every rule-based model. The data-driven ``markov`` model fetches the exposed paths
   set-based (two queries), solves the removal effects exactly in
   :mod:`campaigns.markov`, and passes them back as per-channel weights, so the per-visit
   split still happens in SQL.

The single-touch models (``last_touch``, the default, and ``first_touch``) skip the
window functions: ``ff_visits`` one row per linked visit with its credited touch (the
MAX/MIN of an ordered composite key on SQLite, an ordered ``array_agg`` on PostgreSQL) and
its channel and creative sets — on SQLite aggregated straight from the join of ``ff_lv``
(the linked visits) with the exposures, on PostgreSQL from ``ff_touches`` without the
linked-visit ``GROUP BY`` (duplicates fold in the next step) — then ``ff_units`` the
earliest visit of each unit; every breakdown is a ``GROUP BY`` over the ~one row per
unit. Same cells as the ranked path.

The lift counts are per person and arm (people who could be observed: with an identity
link not revoked overlapping the report period), also computed in SQL; the statistics
are the pure functions of :mod:`campaigns.stats`.
"""

# SQL is assembled from this module's own constant fragments (dialect functions, CTEs, a
# model's CASE); every value from a caller is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, text
from sqlalchemy.engine import Connection

from campaigns.attribution import DEFAULT_HALF_LIFE_S, CreditModel
from campaigns.markov import PathCount, markov_attribution
from campaigns.model import CLOCK_SKEW_TOLERANCE_S, Campaign, ControlDesign
from campaigns.reports import (
    DEFAULT_K,
    LIFT_CURVE_WINDOWS_S,
    TIME_TO_VISIT_BUCKETS,
    Cell,
    ParameterSet,
    Report,
    suppress,
)
from campaigns.stats import LEVELS, ArmMoments, diff_in_diff, mean_lift, rate_lift
from gateway.campaign_store import get_campaign
from gateway.db import UtcDateTime

_LOGGER = logging.getLogger(__name__)

MARKOV = "markov"
MODELS: tuple[str, ...] = (*(m.value for m in CreditModel), MARKOV)
ATTRIBUTED_VISIT_CLASSES: tuple[str, ...] = ("visitor", "engaged")
LN2 = 0.6931471805599453
DIMENSIONS: tuple[str, ...] = ("campaign", "channel", "creative", "store", "zone", "day")


class ReportError(ValueError):
    """A report request that cannot be computed (unknown model, bad k)."""


@dataclass(frozen=True, slots=True)
class ReportOptions:
    """Knobs of a report; the defaults are the documented ones."""

    model: str = CreditModel.LAST_TOUCH.value
    half_life_s: float = DEFAULT_HALF_LIFE_S
    k: int = DEFAULT_K
    levels: tuple[float, ...] = LEVELS
    clock_skew_tolerance_s: float = CLOCK_SKEW_TOLERANCE_S
    visit_classes: tuple[str, ...] = ATTRIBUTED_VISIT_CLASSES
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ReportError(f"'model' must be one of {', '.join(MODELS)} (got {self.model!r})")
        if self.k < 1:
            raise ReportError(f"'k' must be >= 1 (got {self.k})")
        if self.half_life_s <= 0:
            raise ReportError(f"'half_life_s' must be > 0 (got {self.half_life_s})")


# --- dialect fragments --------------------------------------------------------------------


def _epoch(dialect: str, col: str) -> str:
    if dialect == "postgresql":
        return f"CAST(EXTRACT(EPOCH FROM {col}) AS DOUBLE PRECISION)"
    # SQLite stores naive UTC text; julianday() parses it (fractional seconds included)
    return f"((julianday({col}) - 2440587.5) * 86400.0)"


def _day(dialect: str, col: str) -> str:
    if dialect == "postgresql":
        return f"to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    return f"date({col})"


def _zones_join(dialect: str, col: str) -> str:
    if dialect == "postgresql":
        return f"CROSS JOIN LATERAL json_array_elements_text(CAST({col} AS JSON)) AS z(value)"
    return f", json_each({col}) AS z"


def _visit_range(campaign: Campaign, extra_s: float = 0.0) -> tuple[datetime, datetime]:
    """Visits counted: from the flight start to the flight end plus the longest window."""
    return campaign.starts_at, campaign.ends_at + timedelta(
        seconds=campaign.windows.longest_s + extra_s
    )


_WINDOW_BY_KIND = (
    "CASE e.kind WHEN 'click' THEN :w_click WHEN 'impression' THEN :w_impression "
    "ELSE :w_engaged END"
)


def _touches_sql(dialect: str, *, kind_windows: bool) -> str:
    """Linked visits (``lv``) joined to the campaign's exposures inside the window.

    One row per (visit, exposure) pair with ``age_s = visit start - exposure time``.
    """
    window = _WINDOW_BY_KIND if kind_windows else ":w_max"
    # SQLite: CROSS JOIN fixes the order (linked visits outer, one covering-index search
    # of exposures per visit) even without ANALYZE statistics, where the planner would
    # otherwise scan the campaign's exposures and build an automatic index on ``lv``.
    join = "CROSS JOIN" if dialect == "sqlite" else "JOIN"
    return f"""WITH lv AS (
  SELECT person_id, store_id, started_at, MIN({_day(dialect, "started_at")}) AS day,
         MIN(v_s) AS v_s, MIN(zones) AS zones
  FROM ({_linked_visits_sql(dialect)}) linked
  GROUP BY person_id, store_id, started_at
),
touches AS (
  SELECT lv.person_id, lv.store_id, lv.day, lv.started_at AS visit_at, lv.zones,
         e.id AS eid, e.ts, e.kind, e.channel, e.creative, e.grp,
         lv.v_s - e.ts_s AS age_s
  FROM lv
  {join} exposures e ON e.person_id = lv.person_id AND e.campaign_id = :campaign_id
  WHERE e.grp IN :groups
    AND lv.v_s - e.ts_s >= -:skew
    AND lv.v_s - e.ts_s <= {window}
)
SELECT * FROM touches"""


SINGLE_TOUCH_MODELS: tuple[str, ...] = (
    CreditModel.LAST_TOUCH.value,
    CreditModel.FIRST_TOUCH.value,
)
# SQLite: separator of the composite touch key; below every printable character, so the
# key's text order is the order of (ts, channel, creative, eid).
_SEP = "char(1)"


def _linked_visits_sql(dialect: str) -> str:
    """Visits of the attributed classes with the person of each link valid at the start.

    One row per (visit, link): a person with two links to the device (or two identical
    visit rows) appears twice; the single-touch steps fold such duplicates.
    """
    # SQLite: '+col' keeps the planner on the device_key index (the store/time index
    # with a skip-scan over stores is far slower here); PostgreSQL plans this itself.
    sv_at = "+sv.started_at" if dialect == "sqlite" else "sv.started_at"
    zones = "CAST(sv.zones AS TEXT)" if dialect == "postgresql" else "sv.zones"
    return f"""SELECT l.person_id, sv.store_id, sv.started_at,
       {_epoch(dialect, "sv.started_at")} AS v_s, {zones} AS zones
FROM store_visits sv
JOIN identity_links l ON l.device_key = sv.device_key
WHERE l.revoked_at IS NULL
  AND sv.started_at >= l.valid_from
  AND (l.valid_to IS NULL OR sv.started_at < l.valid_to)
  AND sv.visit_class IN :visit_classes
  AND {sv_at} >= :visit_from AND {sv_at} < :visit_to"""


def _single_touches_sql() -> str:
    """PostgreSQL: one row per (linked visit, exposure of the person in its window).

    Same linked visits and window as :func:`_touches_sql`, without the linked-visit
    ``GROUP BY``: duplicates fold in :func:`_single_visits_sql` (sets, MIN/MAX and the
    exposure id are insensitive to them). The window is compared on the timestamps
    themselves (no epoch arithmetic per candidate pair).
    """
    return f"""WITH lv AS ({_linked_visits_sql("postgresql")})
SELECT lv.person_id, lv.store_id, lv.started_at AS visit_at, lv.zones, e.id AS eid, e.ts,
       e.channel, e.creative, lv.v_s - e.ts_s AS age_s
FROM lv
JOIN exposures e ON e.person_id = lv.person_id AND e.campaign_id = :campaign_id
WHERE e.grp IN :groups
  AND e.ts <= lv.started_at + :skew * INTERVAL '1 second'
  AND e.ts >= lv.started_at - ({_WINDOW_BY_KIND}) * INTERVAL '1 second'"""


def _touch_key(model: str) -> str:
    """SQLite: the credited touch of a visit as the MAX/MIN of one ordered text key.

    ``ts SEP channel SEP creative SEP eid``: its text order is the order of ``rn`` in
    :func:`_ranked_cte` (ts is fixed-width text, SEP sorts below every printable
    character, eid is zero-padded).
    """
    pick = "MAX" if model == CreditModel.LAST_TOUCH else "MIN"
    # one printf, not six concatenations: a fifth of the join's CPU; the literal holds SEP
    fmt = "\x01".join(("%s", "%s", "%s", "%020d"))
    return f"{pick}(printf('{fmt}', e.ts, e.channel, e.creative, e.id))"


def _single_visits_sql(dialect: str, model: str) -> str:
    """One row per attributed visit: the credited touch, the channel and creative sets.

    The credited touch is the last (``last_touch``) or first (``first_touch``) in the order
    ``ts, channel, creative, eid`` — the order of ``rn`` in :func:`_ranked_cte`.

    SQLite: straight from the linked visits ``ff_lv`` joined to the exposures (one
    covering-index range search on ``(campaign, person id, group, ts_s)`` per linked
    visit), grouped by the ``ff_lv`` row, which is the scan order (no sort). The range on
    ``ts_s`` is one second wider than the window on both sides (it only narrows the
    search); the window itself is the same ``age_s`` test as :func:`_touches_sql`.
    PostgreSQL: from ``ff_touches``, grouped by person, store and start.
    """
    if dialect == "postgresql":
        desc = " DESC" if model == CreditModel.LAST_TOUCH else ""
        # store in the "C" collation (byte equality, cheaper sorts); the credited touch is
        # ordered in the default collation, as in _ranked_cte. The sets may repeat a
        # value: the breakdowns count distinct units.
        order = f"ts{desc}, channel{desc}, creative{desc}, eid{desc}"
        pair = f"(array_agg(ARRAY[channel, creative] ORDER BY {order}))"
        return f"""SELECT person_id, MIN(store_id) AS store_id,
       {_day(dialect, "visit_at")} AS day, visit_at, MIN(zones) AS zones, MIN(age_s) AS min_age,
       {pair}[1][1] AS credited_channel, {pair}[1][2] AS credited_creative,
       array_agg(channel) AS channels, array_agg(creative) AS creatives
FROM ff_touches GROUP BY person_id, store_id COLLATE "C", visit_at"""
    age = "lv.v_s - e.ts_s"
    return f"""SELECT lv.person_id, lv.store_id, {_day(dialect, "lv.started_at")} AS day,
       lv.started_at AS visit_at, lv.zones, MIN({age}) AS min_age,
       {_touch_key(model)} AS touch_key,
       json_group_array(DISTINCT e.channel) AS channels,
       json_group_array(DISTINCT e.creative) AS creatives
FROM ff_lv lv
CROSS JOIN exposures e ON e.person_id = lv.person_id AND e.campaign_id = :campaign_id
WHERE e.grp IN :groups
  AND e.ts_s BETWEEN lv.v_s - :w_max - 1 AND lv.v_s + :skew + 1
  AND {age} BETWEEN -:skew AND {_WINDOW_BY_KIND}
GROUP BY lv.rowid"""


def _single_units_sql(dialect: str) -> str:
    """One row per unit (person, store, UTC day): its earliest attributed visit.

    ``pid`` is the person id, so every breakdown counts distinct integers.
    """
    cols = "store_id, day, zones, min_age, channels, creatives"
    if dialect == "postgresql":
        return f"""SELECT person_id AS pid, ROW_NUMBER() OVER () AS uid, {cols},
       credited_channel, credited_creative
FROM (
  SELECT DISTINCT ON (person_id, store_id COLLATE "C", day) * FROM ff_visits
  ORDER BY person_id, store_id COLLATE "C", day, visit_at
) u"""
    # SQLite: with MIN() the only aggregate, the bare columns come from the row holding
    # the minimum (https://sqlite.org/lang_select.html#bareagg): the earliest visit, and of
    # duplicate rows of that visit the least zones (as MIN(zones) over a visit's rows).
    # touch_key = ts SEP channel SEP creative SEP eid; rest = channel SEP creative SEP eid.
    return f"""WITH first_visit AS (
  SELECT person_id, {cols}, MIN(visit_at || {_SEP} || zones) AS first_at,
         substr(touch_key, instr(touch_key, {_SEP}) + 1) AS rest
  FROM ff_visits GROUP BY person_id, store_id, day
),
split AS (
  SELECT *, substr(rest, 1, instr(rest, {_SEP}) - 1) AS credited_channel,
         substr(rest, instr(rest, {_SEP}) + 1) AS rest2
  FROM first_visit
)
SELECT person_id AS pid, {cols}, credited_channel,
       substr(rest2, 1, instr(rest2, {_SEP}) - 1) AS credited_creative
FROM split"""


def _unnest(dialect: str, col: str) -> str:
    if dialect == "postgresql":
        return f"CROSS JOIN LATERAL unnest({col}) AS z(value)"
    return f", json_each({col}) AS z"


def _single_touch_cells(
    conn: Connection, dialect: str, campaign: Campaign, params: Mapping[str, Any], model: str
) -> tuple[dict[str, list[Cell]], dict[str, tuple[int, int]]]:
    """Every breakdown of a single-touch model from one row per unit (no window functions).

    Each unit credits exactly one touch (1.0): a value's credited visits are the units whose
    credited touch carries it; people and visits count distinct ``pid`` and units.
    """
    if dialect == "postgresql":
        _materialize(conn, "ff_touches", _single_touches_sql(), params)
        _materialize(conn, "ff_visits", _single_visits_sql(dialect, model), {})
    else:
        _materialize(conn, "ff_lv", _linked_visits_sql(dialect), params)
        # Its row count (no scan: the table has no index). Without it the planner guesses a
        # million rows, more searches than exposures has rows, and first scans the whole
        # exposures table into a Bloom filter (12 % of the join's CPU, the index then not
        # covering).
        conn.exec_driver_sql("ANALYZE temp.ff_lv")
        visit_params = {**params, "w_max": campaign.windows.longest_s}
        _materialize(conn, "ff_visits", _single_visits_sql(dialect, model), visit_params)
    _materialize(conn, "ff_units", _single_units_sql(dialect), {})
    counts = "COUNT(DISTINCT pid) AS people, COUNT(*) AS visits"
    cells: dict[str, list[Cell]] = {}
    total = _rows(conn, f"SELECT {counts} FROM ff_units", {})[0]
    cells["campaign"] = [
        Cell("campaign", campaign.id, int(total.people), int(total.visits), float(total.visits))
    ]
    sets = {
        "channel": ("channels", "credited_channel"),
        "creative": ("creatives", "credited_creative"),
    }
    for dim in ("channel", "creative", "store", "day", "zone"):
        dim_counts, value, credit = counts, "z.value", "COUNT(*)"
        if dim in sets:
            col, credited = sets[dim]
            source = f"ff_units {_unnest(dialect, col)}"
            if dialect == "postgresql":  # the sets may repeat a value: distinct units
                dim_counts = "COUNT(DISTINCT pid) AS people, COUNT(DISTINCT uid) AS visits"
                credit = f"COUNT(DISTINCT CASE WHEN {credited} = z.value THEN uid END)"
            else:
                credit = f"SUM(CASE WHEN {credited} = z.value THEN 1.0 ELSE 0.0 END)"
        elif dim == "zone":  # as the ranked path: a zone listed twice is credited twice
            source = f"ff_units {_zones_join(dialect, 'ff_units.zones')}"
            uid = "uid" if dialect == "postgresql" else "ff_units.rowid"
            dim_counts = f"COUNT(DISTINCT pid) AS people, COUNT(DISTINCT {uid}) AS visits"
        else:
            source, value = "ff_units", "store_id" if dim == "store" else "day"
        sql = (
            f"SELECT {value} AS value, {dim_counts}, {credit} AS credited "
            f"FROM {source} GROUP BY {value} ORDER BY 1"
        )
        cells[dim] = [
            Cell(dim, str(r.value), int(r.people), int(r.visits), float(r.credited or 0.0))
            for r in _rows(conn, sql, {})
        ]
    ttv_sql = f"""SELECT CASE {_bucket_case("min_age")} END AS value, {counts}
FROM ff_units GROUP BY 1"""
    ttv = {r.value: (int(r.people), int(r.visits)) for r in _rows(conn, ttv_sql, {})}
    return cells, ttv


def _bucket_case(col: str) -> str:
    whens = " ".join(
        f"WHEN {col} < {upper} THEN '{label}'"
        for label, upper in TIME_TO_VISIT_BUCKETS
        if upper != float("inf")
    )
    return f"{whens} ELSE '{TIME_TO_VISIT_BUCKETS[-1][0]}'"


def _tune(conn: Connection) -> None:
    """Per-connection settings for one large analytical read.

    SQLite: memory-map the file and a 128 MiB page cache (random index look-ups into
    ``exposures`` otherwise cost a system call each), temporary tables in memory.
    PostgreSQL: enough ``work_mem`` for this transaction that sorts and hashes stay in
    memory instead of spilling to disk, and no JIT compilation: the temporary tables have
    no statistics, so their (over)estimated costs would JIT-compile every short breakdown
    query (~0.1 s each, more than the query itself).
    """
    if conn.dialect.name == "sqlite":
        for pragma in (
            "PRAGMA mmap_size=4294967296",
            "PRAGMA cache_size=-131072",
            "PRAGMA temp_store=MEMORY",
        ):
            conn.exec_driver_sql(pragma)
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
        conn.exec_driver_sql("SET LOCAL jit = off")


def _materialize(conn: Connection, name: str, sql: str, params: Mapping[str, Any]) -> None:
    """``CREATE TEMP TABLE name AS sql``: computed once, read by every breakdown."""
    conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
    stmt, values = _bind(f"CREATE TEMP TABLE {name} AS {sql}", params)
    conn.execute(stmt, values)


def _drop(conn: Connection, *names: str) -> None:
    for name in names:
        conn.execute(text(f"DROP TABLE IF EXISTS {name}"))


def _credit_sql(model: str) -> str:
    if model == CreditModel.LAST_TOUCH:
        return "CASE WHEN rn = n THEN 1.0 ELSE 0.0 END"
    if model == CreditModel.FIRST_TOUCH:
        return "CASE WHEN rn = 1 THEN 1.0 ELSE 0.0 END"
    if model == CreditModel.LINEAR:
        return "1.0 / n"
    if model == CreditModel.TIME_DECAY:
        return "decay / decay_sum"
    if model == CreditModel.POSITION_BASED:
        return (
            "CASE WHEN n = 1 THEN 1.0 WHEN n = 2 THEN 0.5 "
            "WHEN rn = 1 OR rn = n THEN 0.4 ELSE 0.2 / (n - 2) END"
        )
    # markov: weights per channel (removal effects) normalised within the visit
    return "CASE WHEN mw_sum > 0 THEN mw / mw_sum ELSE 1.0 / n END"


def _ranked_cte(model: str, markov_weights: Mapping[str, float]) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {}
    cases = []
    for i, (channel, weight) in enumerate(sorted(markov_weights.items())):
        params[f"mc{i}"] = channel
        params[f"mw{i}"] = max(weight, 0.0)
        cases.append(f"WHEN :mc{i} THEN :mw{i}")
    mw = f"(CASE channel {' '.join(cases)} ELSE 0.0 END)" if cases else "0.0"
    part = "PARTITION BY person_id, store_id, day"
    decay = f"EXP(-{LN2} * (CASE WHEN age_s > 0 THEN age_s ELSE 0.0 END) / :half_life)"
    # only the columns the chosen model reads: each window aggregate costs a sort pass
    extra = ""
    if model == CreditModel.TIME_DECAY:
        extra = f", {decay} AS decay, SUM({decay}) OVER ({part}) AS decay_sum"
    elif model == MARKOV:
        extra = f", {mw} AS mw, SUM({mw}) OVER ({part}) AS mw_sum"
    sql = f"""WITH ut AS (
  SELECT * FROM (
    SELECT t.*, MIN(visit_at) OVER ({part}) AS first_at FROM ff_touches t
  ) x WHERE visit_at = first_at
),
ranked0 AS (
  SELECT ut.*,
         ROW_NUMBER() OVER ({part} ORDER BY ts, channel, creative, eid) AS rn,
         COUNT(*) OVER ({part}) AS n
         {extra}
  FROM ut
)
SELECT ranked0.*, {_credit_sql(model)} AS credit,
       person_id || '|' || store_id || '|' || day AS unit
FROM ranked0"""
    return sql, params


def _bind(sql: str, params: Mapping[str, Any]) -> Any:
    stmt = text(sql)
    binds = []
    for name in ("visit_from", "visit_to"):
        if f":{name}" in sql:
            binds.append(bindparam(name, type_=UtcDateTime()))
    for name in ("visit_classes", "groups"):
        if f":{name}" in sql:
            binds.append(bindparam(name, expanding=True))
    stmt = stmt.bindparams(*binds)
    return stmt, dict(params)


def _rows(conn: Connection, sql: str, params: Mapping[str, Any]) -> list[Any]:
    stmt, values = _bind(sql, params)
    return list(conn.execute(stmt, values))


def _common_params(campaign: Campaign, options: ReportOptions) -> dict[str, Any]:
    visit_from, visit_to = _visit_range(campaign)
    return {
        "campaign_id": campaign.id,
        "visit_from": visit_from,
        "visit_to": visit_to,
        "visit_classes": list(options.visit_classes),
        "skew": options.clock_skew_tolerance_s,
        "w_click": campaign.windows.click_s,
        "w_impression": campaign.windows.impression_s,
        "w_engaged": campaign.windows.engaged_view_s,
        "half_life": options.half_life_s,
    }


def _parameter_set(campaign: Campaign, options: ReportOptions, **extra: Any) -> ParameterSet:
    visit_from, visit_to = _visit_range(campaign)
    return ParameterSet(
        campaign_id=campaign.id,
        visit_definition={
            "visit_classes": list(options.visit_classes),
            "unit": "one visit per person_key, store and UTC day (the earliest attributed)",
            "identity": "device_key -> person_key through links valid at visit start, not revoked",
            "visits_from": visit_from.isoformat(),
            "visits_to": visit_to.isoformat(),
        },
        windows_s=campaign.windows.as_dict(),
        clock_skew_tolerance_s=options.clock_skew_tolerance_s,
        model=options.model,
        half_life_s=options.half_life_s,
        k=options.k,
        levels=options.levels,
        extra={**dict(options.extra), **extra},
    )


# --- markov paths -------------------------------------------------------------------------


def markov_paths(
    conn: Connection, dialect: str, options: ReportOptions, campaign_id: str
) -> list[PathCount]:
    """Exposed people's channel paths: converting ones up to their first attributed visit.

    Needs ``ff_touches`` (exposed group) in ``conn``. Fetched set-based: one query for each
    person's first attributed visit, one ordered scan of the exposed exposures.
    """
    first_sql = (
        f"SELECT person_id, MIN({_epoch(dialect, 'visit_at')}) AS first_s "
        "FROM ff_touches GROUP BY person_id"
    )
    exp_sql = (
        "SELECT person_id, ts_s, channel FROM exposures "
        "WHERE campaign_id = :campaign_id AND grp = 'exposed' "
        "ORDER BY person_id, ts, channel"
    )
    params = {"campaign_id": campaign_id}
    first_s = {r.person_id: float(r.first_s) for r in _rows(conn, first_sql, params)}
    per_person: dict[int, list[str]] = {}
    for r in _rows(conn, exp_sql, params):  # ordered by person, then time
        cutoff = first_s.get(r.person_id)
        channels = per_person.setdefault(r.person_id, [])
        if cutoff is None or float(r.ts_s) <= cutoff + options.clock_skew_tolerance_s:
            channels.append(r.channel)
    paths: dict[tuple[tuple[str, ...], bool], int] = {}
    for person, channels in per_person.items():
        if channels:
            key = (tuple(channels), person in first_s)
            paths[key] = paths.get(key, 0) + 1
    return [
        PathCount(chs, float(count) if converted else 0.0, 0.0 if converted else float(count))
        for (chs, converted), count in sorted(paths.items())
    ]


# --- attribution --------------------------------------------------------------------------


def _ranked_cells(
    conn: Connection,
    dialect: str,
    campaign: Campaign,
    params: Mapping[str, Any],
    options: ReportOptions,
) -> tuple[dict[str, list[Cell]], dict[str, tuple[int, int]], dict[str, float] | None]:
    """Every breakdown of a multi-touch model from the ranked touches (window functions)."""
    effects: dict[str, float] | None = None
    breakdowns = {"channel": "channel", "creative": "creative", "store": "store_id", "day": "day"}
    cells: dict[str, list[Cell]] = {}
    try:
        _materialize(conn, "ff_touches", _touches_sql(dialect, kind_windows=True), params)
        if options.model == MARKOV:
            paths = markov_paths(conn, dialect, options, campaign.id)
            effects = dict(markov_attribution(paths).removal_effects) if paths else {}
        ranked, mparams = _ranked_cte(options.model, effects or {})
        _materialize(conn, "ff_ranked", ranked, {**params, **mparams})
        total = _rows(
            conn,
            "SELECT COUNT(DISTINCT person_id) AS people, COUNT(DISTINCT unit) AS visits, "
            "SUM(credit) AS credited FROM ff_ranked",
            {},
        )[0]
        cells["campaign"] = [
            Cell(
                "campaign",
                campaign.id,
                int(total.people),
                int(total.visits),
                float(total.credited or 0.0),
            )
        ]
        for dim, expr in breakdowns.items():
            sql = (
                f"SELECT {expr} AS value, COUNT(DISTINCT person_id) AS people, "
                "COUNT(DISTINCT unit) AS visits, SUM(credit) AS credited "
                f"FROM ff_ranked GROUP BY {expr} ORDER BY 1"
            )
            cells[dim] = [
                Cell(dim, str(r.value), int(r.people), int(r.visits), float(r.credited or 0.0))
                for r in _rows(conn, sql, {})
            ]
        zone_sql = f"""WITH unit_credit AS (
  SELECT unit, person_id, MIN(zones) AS zones, SUM(credit) AS credit
  FROM ff_ranked GROUP BY unit, person_id
)
SELECT z.value AS value, COUNT(DISTINCT person_id) AS people,
   COUNT(DISTINCT unit) AS visits, SUM(credit) AS credited
FROM unit_credit {_zones_join(dialect, "unit_credit.zones")}
GROUP BY z.value ORDER BY 1"""
        cells["zone"] = [
            Cell("zone", str(r.value), int(r.people), int(r.visits), float(r.credited or 0.0))
            for r in _rows(conn, zone_sql, {})
        ]
        ttv_sql = f"""WITH last_age AS (
  SELECT unit, person_id, MIN(age_s) AS age_s FROM ff_ranked GROUP BY unit, person_id
)
SELECT CASE {_bucket_case("age_s")} END AS value,
   COUNT(DISTINCT person_id) AS people, COUNT(*) AS visits
FROM last_age GROUP BY 1"""
        ttv = {r.value: (int(r.people), int(r.visits)) for r in _rows(conn, ttv_sql, {})}
    finally:
        _drop(conn, "ff_ranked", "ff_touches")
    return cells, ttv, effects


@dataclass(frozen=True, slots=True)
class AttributionResult:
    """Breakdowns (suppressed), time-to-visit histogram and Markov effects when asked."""

    report: Report
    cells: Mapping[str, Sequence[Cell]]
    removal_effects: Mapping[str, float] | None


def attribution_report(
    engine: Engine, campaign_id: str, options: ReportOptions | None = None
) -> AttributionResult:
    """Attributed visits of a campaign by campaign, channel, creative, store, zone and day."""
    options = options or ReportOptions()
    campaign = get_campaign(engine, campaign_id)
    dialect = engine.dialect.name
    effects: dict[str, float] | None = None
    params = {**_common_params(campaign, options), "groups": ["exposed"]}
    with engine.connect() as conn:
        _tune(conn)
        if options.model in SINGLE_TOUCH_MODELS:
            try:
                cells, ttv = _single_touch_cells(conn, dialect, campaign, params, options.model)
            finally:
                _drop(conn, "ff_units", "ff_visits", "ff_touches", "ff_lv")
        else:
            cells, ttv, effects = _ranked_cells(conn, dialect, campaign, params, options)
    order = [label for label, _ in TIME_TO_VISIT_BUCKETS]
    cells["time_to_visit"] = [
        Cell("time_to_visit", label, ttv[label][0], ttv[label][1], float(ttv[label][1]))
        for label in order
        if label in ttv
    ]
    shown = {dim: suppress(cs, options.k) for dim, cs in cells.items()}
    report = Report(
        name="attribution",
        parameters=_parameter_set(
            campaign,
            options,
            touches_from_group="exposed",
            time_to_visit="from the latest touch to the attributed visit",
            **({"removal_effects": effects} if effects is not None else {}),
        ),
        sections={
            f"by_{dim}": [
                {
                    "value": c.value,
                    "people": None if c.suppressed else c.people,
                    "visits": c.visits,
                    "credited_visits": c.credited_visits,
                    "suppressed": c.suppressed,
                }
                for c in cs
            ]
            for dim, cs in shown.items()
        },
    )
    return AttributionResult(report, shown, effects)


# --- lift -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArmCounts:
    """Per-arm sufficient statistics computed in SQL."""

    people: int
    visitors: int
    visits: int
    visits_sq: int


def _arm_counts(
    conn: Connection, dialect: str, params: Mapping[str, Any], *, kind_windows: bool
) -> tuple[dict[str, ArmCounts], int]:
    _materialize(conn, "ff_touches", _touches_sql(dialect, kind_windows=kind_windows), params)
    sql = """WITH units AS (
  SELECT person_id, COUNT(DISTINCT store_id || '|' || day) AS v
  FROM ff_touches GROUP BY person_id
),
arms AS (
  SELECT person_id, MIN(grp) AS grp, COUNT(DISTINCT grp) AS ngrp
  FROM exposures WHERE campaign_id = :campaign_id GROUP BY person_id
),
observable AS (
  SELECT a.person_id, a.grp, a.ngrp FROM arms a
  WHERE EXISTS (
    SELECT 1 FROM identity_links l WHERE l.person_id = a.person_id
      AND l.revoked_at IS NULL AND l.valid_from < :visit_to
      AND (l.valid_to IS NULL OR l.valid_to > :visit_from))
),
per_person AS (
  SELECT o.person_id, o.grp, o.ngrp, COALESCE(u.v, 0) AS v
  FROM observable o LEFT JOIN units u ON u.person_id = o.person_id
)
SELECT grp, ngrp, COUNT(*) AS people, SUM(CASE WHEN v > 0 THEN 1 ELSE 0 END) AS visitors,
       SUM(v) AS visits, SUM(v * v) AS visits_sq
FROM per_person GROUP BY grp, ngrp"""
    arms: dict[str, ArmCounts] = {}
    mixed = 0
    rows = _rows(conn, sql, params)
    _drop(conn, "ff_touches")
    for r in rows:
        if int(r.ngrp) > 1:
            mixed += int(r.people)
            continue
        arms[str(r.grp)] = ArmCounts(
            int(r.people), int(r.visitors or 0), int(r.visits or 0), int(r.visits_sq or 0)
        )
    return arms, mixed


def _interval_rows(
    metric: str, value: float | None, intervals: Sequence[Any], method: str
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {
            "metric": metric,
            "level": None,
            "value": value,
            "lower": None,
            "upper": None,
            "method": method,
        }
    ]
    for ci in intervals:
        if ci is None:
            continue
        rows.append(
            {
                "metric": metric,
                "level": ci.level,
                "value": value,
                "lower": ci.lower,
                "upper": ci.upper,
                "method": ci.method,
            }
        )
    return rows


def lift_report(engine: Engine, campaign_id: str, options: ReportOptions | None = None) -> Report:
    """Exposed vs control visit rate and visits per person, lift curve, or DiD without control."""
    options = options or ReportOptions()
    campaign = get_campaign(engine, campaign_id)
    dialect = engine.dialect.name
    params = {**_common_params(campaign, options), "groups": ["exposed", "control"]}
    sections: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        _tune(conn)
        arms, mixed = _arm_counts(conn, dialect, params, kind_windows=True)
        exposed = arms.get("exposed", ArmCounts(0, 0, 0, 0))
        control = arms.get("control", ArmCounts(0, 0, 0, 0))
        sections["arms"] = [
            {
                "arm": name,
                "people": a.people,
                "visitors": a.visitors,
                "visits": a.visits,
                "suppressed": a.people < options.k,
            }
            for name, a in (("exposed", exposed), ("control", control))
        ]
        sections["arms"] = [
            r if not r["suppressed"] else {**r, "people": None, "visitors": None, "visits": None}
            for r in sections["arms"]
        ]
        enough = exposed.people >= options.k and control.people >= options.k
        if (
            campaign.control_design is ControlDesign.RANDOMIZED_HOLDOUT
            and enough
            and control.people > 0
        ):
            rl = rate_lift(
                exposed.visitors, exposed.people, control.visitors, control.people, options.levels
            )
            rows: list[dict[str, Any]] = [
                {"metric": "exposed_rate", "value": rl.exposed_rate, "method": "visitors / people"},
                {"metric": "control_rate", "value": rl.control_rate, "method": "visitors / people"},
                {"metric": "z", "value": rl.z, "method": rl.test_method},
                {"metric": "p_value", "value": rl.p_value, "method": rl.test_method},
                {
                    "metric": "incremental_visitors",
                    "value": rl.incremental_visitors,
                    "method": "(p1 - p0) * n1",
                },
                {
                    "metric": "incremental_share",
                    "value": rl.incremental_share,
                    "method": "incremental visitors / exposed visitors",
                },
            ]
            rows += _interval_rows(
                "absolute_difference", rl.absolute_difference, rl.difference_intervals, "p1 - p0"
            )
            rows += _interval_rows(
                "relative_lift", rl.relative_lift, rl.relative_lift_intervals, "p1 / p0 - 1"
            )
            if exposed.people >= 2 and control.people >= 2:
                ml = mean_lift(
                    ArmMoments(exposed.people, exposed.visits, exposed.visits_sq),
                    ArmMoments(control.people, control.visits, control.visits_sq),
                    options.levels,
                )
                rows += [
                    {
                        "metric": "visits_per_person_exposed",
                        "value": ml.exposed_mean,
                        "method": "visits / people",
                    },
                    {
                        "metric": "visits_per_person_control",
                        "value": ml.control_mean,
                        "method": "visits / people",
                    },
                    {
                        "metric": "visits_per_person_p_value",
                        "value": ml.p_value,
                        "method": ml.test_method,
                    },
                ]
                rows += _interval_rows(
                    "visits_per_person_difference",
                    ml.difference,
                    ml.difference_intervals,
                    "m1 - m0",
                )
                rows += _interval_rows(
                    "visits_per_person_lift",
                    ml.relative_lift,
                    ml.relative_lift_intervals,
                    "m1 / m0 - 1",
                )
            sections["lift"] = rows
            curve_params = {**params, "w_max": max(LIFT_CURVE_WINDOWS_S)}
            curve_params["visit_to"] = campaign.ends_at + timedelta(
                seconds=max(LIFT_CURVE_WINDOWS_S)
            )
            sections["lift_by_window"] = _lift_curve(conn, dialect, curve_params, options)
        elif campaign.control_design is ControlDesign.NONE:
            sections["difference_in_differences"] = _did(conn, dialect, campaign, options, params)
        else:
            sections["lift"] = [
                {
                    "metric": "lift",
                    "value": None,
                    "method": f"not computed: an arm has fewer than k={options.k} people",
                }
            ]
    return Report(
        name="lift",
        parameters=_parameter_set(
            campaign,
            options,
            control_design=campaign.control_design.value,
            people="exposed/control person_keys with an identity link (not revoked) overlapping "
            "the visit period",
            excluded_in_both_arms=mixed,
            visitor="at least one attributed visit unit (kind windows, skew tolerance)",
        ),
        sections=sections,
    )


def _lift_curve(
    conn: Connection, dialect: str, params: Mapping[str, Any], options: ReportOptions
) -> list[dict[str, Any]]:
    """Relative lift when the window is w (same w for every exposure kind)."""
    cols = ", ".join(
        f"SUM(CASE WHEN min_age IS NOT NULL AND min_age <= {w} THEN 1 ELSE 0 END) AS x{i}"
        for i, w in enumerate(LIFT_CURVE_WINDOWS_S)
    )
    _materialize(conn, "ff_touches", _touches_sql(dialect, kind_windows=False), params)
    sql = f"""WITH arms AS (
  SELECT person_id, MIN(grp) AS grp FROM exposures WHERE campaign_id = :campaign_id
  GROUP BY person_id HAVING COUNT(DISTINCT grp) = 1
),
observable AS (
  SELECT a.person_id, a.grp FROM arms a WHERE EXISTS (
    SELECT 1 FROM identity_links l WHERE l.person_id = a.person_id
      AND l.revoked_at IS NULL AND l.valid_from < :visit_to
      AND (l.valid_to IS NULL OR l.valid_to > :visit_from))
),
ages AS (SELECT person_id, MIN(age_s) AS min_age FROM ff_touches GROUP BY person_id)
SELECT o.grp, COUNT(*) AS people, {cols}
FROM observable o LEFT JOIN ages a ON a.person_id = o.person_id GROUP BY o.grp"""
    by_arm = {r.grp: r for r in _rows(conn, sql, params)}
    _drop(conn, "ff_touches")
    out: list[dict[str, Any]] = []
    if "exposed" not in by_arm or "control" not in by_arm:
        return out
    e, c = by_arm["exposed"], by_arm["control"]
    for i, w in enumerate(LIFT_CURVE_WINDOWS_S):
        x1, x0 = int(getattr(e, f"x{i}")), int(getattr(c, f"x{i}"))
        rl = rate_lift(x1, int(e.people), x0, int(c.people), options.levels)
        ci = rl.relative_lift_intervals[-1]
        out.append(
            {
                "window_s": w,
                "exposed_rate": rl.exposed_rate,
                "control_rate": rl.control_rate,
                "relative_lift": rl.relative_lift,
                "level": ci.level if ci else None,
                "lower": ci.lower if ci else None,
                "upper": ci.upper if ci else None,
                "p_value": rl.p_value,
                "method": "katz log ratio; pooled z-test",
            }
        )
    return out


def _did(
    conn: Connection,
    dialect: str,
    campaign: Campaign,
    options: ReportOptions,
    params: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Difference-in-differences: exposed people vs linked people never exposed, pre vs post."""
    post_from, post_to = _visit_range(campaign)
    pre_from = post_from - (post_to - post_from)
    sql = """WITH
visits AS (
  SELECT DISTINCT l.person_id,
         CASE WHEN sv.started_at < :post_from THEN 'pre' ELSE 'post' END AS period
  FROM store_visits sv JOIN identity_links l ON l.device_key = sv.device_key
  WHERE l.revoked_at IS NULL AND sv.started_at >= l.valid_from
    AND (l.valid_to IS NULL OR sv.started_at < l.valid_to)
    AND sv.visit_class IN :visit_classes
    AND sv.started_at >= :visit_from AND sv.started_at < :visit_to
),
people AS (
  SELECT DISTINCT l.person_id,
         CASE WHEN EXISTS (SELECT 1 FROM exposures e WHERE e.campaign_id = :campaign_id
                           AND e.person_id = l.person_id AND e.grp = 'exposed')
              THEN 'exposed' ELSE 'comparison' END AS grp
  FROM identity_links l
  WHERE l.revoked_at IS NULL AND l.valid_from < :visit_to
    AND (l.valid_to IS NULL OR l.valid_to > :visit_from)
)
SELECT p.grp, COUNT(*) AS people,
  SUM(CASE WHEN EXISTS (SELECT 1 FROM visits v WHERE v.person_id = p.person_id
                        AND v.period = 'pre') THEN 1 ELSE 0 END) AS pre,
  SUM(CASE WHEN EXISTS (SELECT 1 FROM visits v WHERE v.person_id = p.person_id
                        AND v.period = 'post') THEN 1 ELSE 0 END) AS post
FROM people p GROUP BY p.grp"""
    stmt = text(sql).bindparams(
        bindparam("visit_from", type_=UtcDateTime()),
        bindparam("visit_to", type_=UtcDateTime()),
        bindparam("post_from", type_=UtcDateTime()),
        bindparam("visit_classes", expanding=True),
    )
    values = {
        "campaign_id": campaign.id,
        "visit_classes": list(options.visit_classes),
        "visit_from": pre_from,
        "visit_to": post_to,
        "post_from": post_from,
    }
    rows = {r.grp: r for r in conn.execute(stmt, values)}
    if "exposed" not in rows or "comparison" not in rows:
        return [
            {
                "metric": "difference_in_differences",
                "value": None,
                "method": "not computed: no exposed or no comparison people",
            }
        ]
    e, c = rows["exposed"], rows["comparison"]
    if min(int(e.people), int(c.people)) < options.k:
        return [
            {
                "metric": "difference_in_differences",
                "value": None,
                "method": f"not computed: a group has fewer than k={options.k} people",
            }
        ]
    d = diff_in_diff(
        (int(e.pre), int(e.people)),
        (int(e.post), int(e.people)),
        (int(c.pre), int(c.people)),
        (int(c.post), int(c.people)),
        options.levels,
    )
    rows_out = [
        {
            "metric": "exposed_rate_pre",
            "value": int(e.pre) / int(e.people),
            "method": "visitors / people",
        },
        {
            "metric": "exposed_rate_post",
            "value": int(e.post) / int(e.people),
            "method": "visitors / people",
        },
        {
            "metric": "comparison_rate_pre",
            "value": int(c.pre) / int(c.people),
            "method": "visitors / people",
        },
        {
            "metric": "comparison_rate_post",
            "value": int(c.post) / int(c.people),
            "method": "visitors / people",
        },
        {"metric": "p_value", "value": d.p_value, "method": d.label},
    ]
    rows_out += _interval_rows("difference_in_differences", d.estimate, d.intervals, d.label)
    return rows_out
