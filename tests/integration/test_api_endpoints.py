"""The API and dashboard over real SQLite and PostgreSQL, called through httpx's ASGI transport.

Seeded through the real tables and import functions (``tests.integration.api_seed``);
expected numbers are recomputed in plain Python from the same rows.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from campaigns.reports import render_csv
from gateway import models
from gateway.api import ApiSettings, create_app
from gateway.db import make_session_factory
from gateway.reports import ReportOptions, attribution_report, lift_report
from tests.integration.api_seed import STORE, Seeded, fixed_clock, seed_all
from tests.support.postgres import postgres_reachable, temporary_database

PERSON_KEY = re.compile(r"\b[0-9a-f]{64}\b")
FROM, TO = "2026-10-01T00:00:00Z", "2026-10-21T00:00:00Z"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seeded]:
    if request.param == "sqlite":
        s = seed_all(f"sqlite:///{tmp_path_factory.mktemp('api') / 'footfall.db'}")
        yield s
        s.engine.dispose()
        return
    if not postgres_reachable():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    with temporary_database() as url:
        s = seed_all(url)
        yield s
        s.engine.dispose()


@pytest.fixture(scope="module")
def app(seeded: Seeded) -> FastAPI:
    settings = ApiSettings(max_body_bytes=64 * 1024, sse_interval_s=0.01)
    return create_app(settings, make_session_factory(seeded.engine), clock=fixed_clock())


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


def h(seeded: Seeded, role: str = "admin") -> dict[str, str]:
    return {"X-API-Key": seeded.keys[role]}


def _visits(seeded: Seeded, start: datetime, end: datetime) -> list[Any]:
    with seeded.engine.connect() as conn:
        return list(
            conn.execute(select(models.StoreVisit).where(models.StoreVisit.store_id == STORE))
        )


@pytest.mark.anyio
async def test_footfall_matches_a_python_recount(client: httpx.AsyncClient, seeded: Seeded) -> None:
    """Totals, capture rate and new/repeat split equal a plain recount of the stored visits."""
    r = await client.get(
        f"/api/v1/footfall?store_id={STORE}&from={FROM}&to={TO}", headers=h(seeded)
    )
    assert r.status_code == 200
    body = r.json()
    start, end = datetime.fromisoformat(FROM), datetime.fromisoformat(TO)
    everything = _visits(seeded, start, end)
    rows = [v for v in everything if start <= v.started_at < end]
    visits = [v for v in rows if v.visit_class in ("visitor", "engaged")]
    horizon = timedelta(days=30)
    by_device: dict[str, list[datetime]] = {}
    for p in everything:
        if p.visit_class in ("visitor", "engaged"):
            by_device.setdefault(p.device_key, []).append(p.started_at)
    repeat = sum(
        1
        for v in visits
        if v.id_class != "wifi_randomized"
        and any(v.started_at - horizon <= t < v.started_at for t in by_device[v.device_key])
    )
    total = body["total"]
    assert total["visits"] == len(visits)
    assert total["passers_by"] == sum(1 for v in rows if v.visit_class == "passer_by")
    assert total["engaged"] == sum(1 for v in rows if v.visit_class == "engaged")
    assert total["capture_rate"] == pytest.approx(len(visits) / len(rows))
    assert total["repeat_visits"] == repeat
    assert total["unknown_visits"] == sum(1 for v in visits if v.id_class == "wifi_randomized")
    assert total["new_visits"] + total["repeat_visits"] + total["unknown_visits"] == len(visits)
    shown = [d for d in body["days"] if not d["suppressed"]]
    assert len(shown) >= 10
    assert sum(d["visits"] for d in body["days"] if not d["suppressed"]) <= len(visits)
    csv = await client.get(
        f"/api/v1/footfall?store_id={STORE}&from={FROM}&to={TO}&format=csv", headers=h(seeded)
    )
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("day,visits,passers_by")


@pytest.mark.anyio
async def test_small_cells_are_suppressed_and_k_is_never_lowered(
    client: httpx.AsyncClient, seeded: Seeded
) -> None:
    """k below the server minimum is raised to it; a huge k blanks every cell."""
    low = (await client.get("/api/v1/footfall/dwell?k=1", headers=h(seeded))).json()
    assert low["k"] == 10
    high = (await client.get("/api/v1/footfall/dwell?k=100000", headers=h(seeded))).json()
    assert all(b["suppressed"] and b["visits"] is None for b in high["buckets"])
    days = (
        await client.get(f"/api/v1/footfall?from={FROM}&to={TO}&k=100000", headers=h(seeded))
    ).json()
    assert all(d["visits"] is None for d in days["days"])


@pytest.mark.anyio
async def test_dwell_buckets_count_visits_by_duration(
    client: httpx.AsyncClient, seeded: Seeded
) -> None:
    """Each shown dwell bucket holds exactly the visits whose dwell falls in it."""
    r = await client.get(
        f"/api/v1/footfall/dwell?store_id={STORE}&from={FROM}&to={TO}", headers=h(seeded)
    )
    start, end = datetime.fromisoformat(FROM), datetime.fromisoformat(TO)
    visits = [
        v
        for v in _visits(seeded, start, end)
        if start <= v.started_at < end and v.visit_class != "passer_by"
    ]
    for b in r.json()["buckets"]:
        inside = [v for v in visits if b["lower_s"] <= v.dwell_s < (b["upper_s"] or float("inf"))]
        if not b["suppressed"]:
            assert b["visits"] == len(inside), b
        else:
            assert len({v.device_key for v in inside}) < 10


@pytest.mark.anyio
async def test_occupancy_is_the_max_over_agents_of_fresh_samples(
    client: httpx.AsyncClient, seeded: Seeded
) -> None:
    """Samples older than the max age are ignored; two agents on one zone give the max."""
    body = (await client.get("/api/v1/occupancy", headers=h(seeded, "technician"))).json()
    zones = {z["zone"]: (z["devices"], z["agents"]) for z in body["zones"]}
    assert zones == {"entrance": (7, 1), "dairy": (5, 2), "bakery": (2, 1)}
    r = await client.get("/api/v1/occupancy/stream?limit=2", headers=h(seeded, "marketer"))
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [line for line in r.text.splitlines() if line.startswith("event: ")]
    assert events == ["event: occupancy", "event: occupancy"]
    assert r.text.startswith("retry: ")


@pytest.mark.anyio
async def test_agents_are_offline_when_not_heard_from(
    client: httpx.AsyncClient, seeded: Seeded
) -> None:
    """An agent silent for three hours is offline even though its last status said online."""
    body = (await client.get("/api/v1/agents", headers=h(seeded, "technician"))).json()
    state = {a["agent_id"]: a["online"] for a in body}
    assert state == {"entrance-a": True, "back-b": False}
    assert body[0]["outbox_depth"] == 12


@pytest.mark.anyio
async def test_zone_crud_with_conflicts_and_unknowns(
    client: httpx.AsyncClient, seeded: Seeded
) -> None:
    """Zones are created, changed and deleted; duplicates 409, unknown 404, bad names 422."""
    t = h(seeded, "technician")
    base = "/api/v1/stores/krakow-02/zones"
    r = await client.post(
        base, json={"name": "tills", "min_rssi_dbm": -60, "position": 2}, headers=t
    )
    assert r.status_code == 201
    assert r.json()["config_push"] == {
        "pushed": False,
        "version": None,
        "agents": [],
        "error": "config push is off",
    }
    assert (await client.post(base, json={"name": "tills"}, headers=t)).status_code == 409
    assert (await client.post(base, json={"name": "a b"}, headers=t)).status_code == 422
    assert (
        await client.post(base, json={"name": "x", "min_rssi_dbm": 5}, headers=t)
    ).status_code == 422
    r = await client.put(f"{base}/tills", json={"label": "Tills", "min_rssi_dbm": -65}, headers=t)
    assert r.json()["zone"]["min_rssi_dbm"] == -65
    assert r.json()["zone"]["label"] == "Tills"
    assert (await client.put(f"{base}/nope", json={}, headers=t)).status_code == 404
    assert (await client.get("/api/v1/stores/nowhere/zones", headers=t)).status_code == 404
    assert (await client.delete(f"{base}/tills", headers=t)).status_code == 200
    assert (await client.get(base, headers=t)).json() == []


@pytest.mark.anyio
async def test_reports_equal_the_report_functions_the_cli_uses(
    client: httpx.AsyncClient, seeded: Seeded
) -> None:
    """The lift JSON and the attribution CSV are exactly what gateway.reports produces."""
    m = h(seeded, "marketer")
    lift = (await client.get("/api/v1/campaigns/spring-1/lift", headers=m)).json()
    assert lift == lift_report(seeded.engine, "spring-1", ReportOptions()).as_dict()
    levels = {r["level"] for r in lift["sections"]["lift"] if r["metric"] == "relative_lift"}
    assert levels == {None, 0.9, 0.95}
    r = await client.get(
        "/api/v1/campaigns/spring-1/attribution?model=linear&format=csv", headers=m
    )
    expected = attribution_report(seeded.engine, "spring-1", ReportOptions(model="linear"))
    assert r.text == render_csv(expected.report)
    bad = await client.get("/api/v1/campaigns/spring-1/attribution?model=magic", headers=m)
    assert bad.status_code == 422
    missing = await client.get("/api/v1/campaigns/nope/lift", headers=m)
    assert missing.status_code == 404
    assert "does not exist" in missing.json()["detail"]


@pytest.mark.anyio
async def test_imports_are_all_or_nothing_and_streams_drop_by_reason(
    client: httpx.AsyncClient, seeded: Seeded
) -> None:
    """A file with a bad row imports nothing; a stream keeps good events and counts bad ones."""
    admin, ingest = h(seeded), h(seeded, "ingest")
    r = await client.post(
        "/api/v1/campaigns",
        json={
            "id": "autumn",
            "name": "Autumn",
            "channels": ["social"],
            "starts_at": "2026-10-01T00:00:00Z",
            "ends_at": "2026-10-10T00:00:00Z",
        },
        headers=admin,
    )
    assert r.status_code == 201
    assert (
        await client.post(
            "/api/v1/campaigns",
            json={
                "id": "autumn",
                "name": "A",
                "starts_at": "2026-10-01T00:00:00Z",
                "ends_at": "2026-10-10T00:00:00Z",
            },
            headers=admin,
        )
    ).status_code == 409
    good = (
        "person,ts,kind,channel,group\n"
        "a@example.com,2026-10-02T10:00:00Z,click,social,exposed\n"
        "b@example.com,2026-10-02T11:00:00Z,impression,social,control\n"
    )
    bad = good + "c@example.com,yesterday,click,social,exposed\n"
    url = "/api/v1/campaigns/autumn/exposures"
    refused = await client.post(url, files={"file": ("x.csv", bad)}, headers=ingest)
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"line": 4, "field": "ts", "reason": refused.json()["errors"][0]["reason"]}
    ]
    first = await client.post(url, files={"file": ("x.csv", good)}, headers=ingest)
    assert first.json() == {"rows": 2, "inserted": 2, "already_present": 0, "duplicates_in_file": 0}
    again = await client.post(url, files={"file": ("x.csv", good)}, headers=ingest)
    assert again.json()["inserted"] == 0
    stream = await client.post(
        f"{url}/stream",
        content=b'{"person":"d@example.com","ts":"2026-10-03T10:00:00Z","kind":"click",'
        b'"channel":"social","group":"exposed"}\nnot json\n{"person":"e@example.com"}\n',
        headers={**ingest, "Content-Type": "application/x-ndjson"},
    )
    assert stream.status_code == 200
    assert stream.json()["inserted"] == 1
    assert stream.json()["dropped"]["json"] == 1
    assert sum(stream.json()["dropped"].values()) == 2
    with seeded.engine.connect() as conn:
        rows = conn.execute(
            select(models.Exposure.person_key).where(models.Exposure.campaign_id == "autumn")
        ).all()
    assert len(rows) == 3
    assert all(PERSON_KEY.fullmatch(r.person_key) for r in rows)  # hashed, never the e-mail
    links = (
        "device_key,person,source,consented_at\ndk1_zz0001,a@example.com,app,2026-09-01T00:00:00Z\n"
    )
    r = await client.post("/api/v1/links", files={"file": ("l.csv", links)}, headers=ingest)
    assert r.json()["inserted"] == 1
    r = await client.post("/api/v1/links/revoke", json={"device_key": "dk1_zz0001"}, headers=ingest)
    assert r.json() == {"revoked": 1}
    r = await client.post("/api/v1/links/revoke", json={}, headers=ingest)
    assert r.status_code == 422


@pytest.mark.anyio
async def test_no_response_carries_an_identifier(client: httpx.AsyncClient, seeded: Seeded) -> None:
    """No JSON, CSV or dashboard page contains a device key or a person key."""
    admin = h(seeded)
    paths = [
        "/api/v1/stores",
        "/api/v1/agents",
        f"/api/v1/footfall?from={FROM}&to={TO}",
        f"/api/v1/footfall?from={FROM}&to={TO}&format=csv",
        "/api/v1/footfall/dwell",
        "/api/v1/footfall/hours",
        f"/api/v1/stores/{STORE}/zone-stats",
        "/api/v1/occupancy",
        "/api/v1/campaigns",
        "/api/v1/campaigns/spring-1/lift",
        "/api/v1/campaigns/spring-1/attribution?model=markov",
        "/api/v1/campaigns/spring-1/attribution?format=csv",
        "/api/v1/metrics",
        "/dashboard",
        f"/dashboard/stores/{STORE}",
        f"/dashboard/stores/{STORE}/zones/dairy",
        "/dashboard/campaigns",
        "/dashboard/campaigns/spring-1",
        "/dashboard/agents",
    ]
    for path in paths:
        r = await client.get(path, headers=admin)
        assert r.status_code == 200, path
        assert "dk1_" not in r.text, path
        assert not PERSON_KEY.search(r.text), path


@pytest.mark.anyio
async def test_every_dashboard_table_downloads_as_csv(
    client: httpx.AsyncClient, seeded: Seeded
) -> None:
    """Every table on every dashboard page has a CSV link that returns its rows as CSV."""
    admin = h(seeded)
    pages = [
        "/dashboard",
        f"/dashboard/stores/{STORE}",
        f"/dashboard/stores/{STORE}/zones/dairy",
        "/dashboard/campaigns",
        "/dashboard/campaigns/spring-1",
        "/dashboard/agents",
    ]
    fetched = 0
    for page in pages:
        html = (await client.get(page, headers=admin)).text
        tables = re.findall(r'<table data-table="([a-z_]+)"', html)
        links = re.findall(r'csv=([a-z_]+)"', html)
        assert tables
        assert sorted(tables) == sorted(links), page
        for name in links:
            r = await client.get(f"{page}?csv={name}", headers=admin)
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/csv")
            assert "attachment" in r.headers["content-disposition"]
            fetched += 1
    assert fetched >= 15
    assert (await client.get("/dashboard?csv=nosuch", headers=admin)).status_code == 404


@pytest.mark.anyio
async def test_bodies_over_the_limit_are_refused(client: httpx.AsyncClient, seeded: Seeded) -> None:
    """413 for a declared length over the limit and for a chunked body that grows past it."""
    url = "/api/v1/campaigns/spring-1/exposures/stream"
    big = b"x" * (65 * 1024)
    r = await client.post(url, content=big, headers=h(seeded, "ingest"))
    assert r.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"y" * 1024

    r = await client.post(url, content=chunks(), headers=h(seeded, "ingest"))
    assert r.status_code == 413
    assert "at most 65536 bytes" in r.json()["detail"]


@pytest.mark.anyio
async def test_security_headers_and_closed_cors(client: httpx.AsyncClient, seeded: Seeded) -> None:
    """Responses carry the security headers; without configured origins CORS stays closed."""
    r = await client.get("/api/v1/stores", headers={**h(seeded), "Origin": "https://evil.example"})
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"
    assert "access-control-allow-origin" not in r.headers
    pre = await client.options(
        "/api/v1/stores",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in pre.headers


@pytest.mark.anyio
async def test_cors_opens_only_to_configured_origins(seeded: Seeded) -> None:
    """With an origin configured, that origin (and no other) gets the CORS headers."""
    app = create_app(
        ApiSettings(cors_origins=("https://bi.example",)),
        make_session_factory(seeded.engine),
        clock=fixed_clock(),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        ok = await c.get("/api/v1/stores", headers={**h(seeded), "Origin": "https://bi.example"})
        other = await c.get("/api/v1/stores", headers={**h(seeded), "Origin": "https://x.example"})
    assert ok.headers["access-control-allow-origin"] == "https://bi.example"
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=2026-10-01T00:00:00", "must carry a zone"),
        ("from=2026-10-05T00:00:00Z&to=2026-10-01T00:00:00Z", "'from' must be before 'to'"),
        ("from=1999-01-01T00:00:00Z", "between 2000 and 2100"),
        ("from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "at most 400 days"),
        ("store_id=../etc", ""),
        ("k=0", ""),
    ],
)
async def test_bad_parameters_are_422_with_a_message(
    client: httpx.AsyncClient, seeded: Seeded, query: str, message: str
) -> None:
    """Bad periods, names and k are refused with 422 naming the problem, never a 500."""
    r = await client.get(f"/api/v1/footfall?{query}", headers=h(seeded))
    assert r.status_code == 422
    assert message in str(r.json()["detail"])


@pytest.mark.anyio
async def test_keys_created_over_the_api_work_until_revoked(
    client: httpx.AsyncClient, seeded: Seeded
) -> None:
    """A key is shown once at creation, works, and is refused once revoked."""
    r = await client.post(
        "/api/v1/keys", json={"name": "bi-tool", "role": "marketer"}, headers=h(seeded)
    )
    assert r.status_code == 201
    key, key_id = r.json()["key"], r.json()["id"]
    assert key.startswith("ff_")
    listed = (await client.get("/api/v1/keys", headers=h(seeded))).text
    assert key not in listed
    assert (await client.get("/api/v1/campaigns", headers={"X-API-Key": key})).status_code == 200
    assert (await client.delete(f"/api/v1/keys/{key_id}", headers=h(seeded))).status_code == 200
    assert (await client.get("/api/v1/campaigns", headers={"X-API-Key": key})).status_code == 401
    assert (await client.delete("/api/v1/keys/99999", headers=h(seeded))).status_code == 404


@pytest.mark.anyio
async def test_a_store_needs_a_known_time_zone(client: httpx.AsyncClient, seeded: Seeded) -> None:
    """An IANA name is stored as given; anything else is refused naming the field."""
    r = await client.post(
        "/api/v1/stores", json={"id": "gdansk-03", "timezone": "Mars/Olympus"}, headers=h(seeded)
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == "timezone"
    assert "unknown time zone 'Mars/Olympus'" in r.json()["detail"][0]["msg"]
    r = await client.post(
        "/api/v1/stores", json={"id": "gdansk-03", "timezone": "Europe/Warsaw"}, headers=h(seeded)
    )
    assert r.status_code == 201, r.text
    r = await client.get("/api/v1/stores/gdansk-03", headers=h(seeded))
    assert r.json()["timezone"] == "Europe/Warsaw"
