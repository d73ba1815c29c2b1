"""The dashboard in a real headless Chromium against a real uvicorn on loopback.

Screenshots go to ``artifacts/screenshots/`` (git-ignored); the campaign page's is the
one copied to ``docs/img/dashboard.png`` by hand when the look changes.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.support.mosquitto import free_port, wait_for_port

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = REPO_ROOT / "artifacts" / "screenshots"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not at /usr/bin/chromium"
    ),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A seeded SQLite gateway served by uvicorn in a thread on a free loopback port."""
    import uvicorn

    from gateway.api import ApiSettings, create_app
    from gateway.db import make_session_factory
    from tests.integration.api_seed import fixed_clock, seed_all

    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'footfall.db'}"
    seeded = seed_all(url)
    app = create_app(
        ApiSettings(sse_interval_s=0.3), make_session_factory(seeded.engine), clock=fixed_clock()
    )
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    wait_for_port(port, up=True)
    yield {"base": f"http://127.0.0.1:{port}", "keys": seeded.keys}
    uv.should_exit = True
    thread.join(timeout=10)
    seeded.engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def _login(page: Any, base: str, key: str) -> None:
    page.goto(f"{base}/dashboard")
    assert "/login" in page.url
    page.fill("#api_key", key)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/dashboard**")


def test_marketer_logs_in_sees_lift_chart_and_downloads_csv(
    server: dict[str, Any], browser: Any, tmp_path: Path
) -> None:
    """A marketer logs in, opens the campaign page, sees the CI lift chart, downloads CSV."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    base = server["base"]

    _login(page, base, server["keys"]["marketer"])
    page.wait_for_selector("table[data-table=footfall] tbody tr")
    # the occupancy table is refreshed by the SSE script (data-updated set on each event)
    page.wait_for_function(
        "document.querySelector('table[data-table=occupancy]').dataset.updated !== undefined",
        timeout=10_000,
    )
    page.screenshot(path=str(SHOTS / "overview.png"), full_page=True)

    page.click("text=Campaigns")
    page.click("text=spring-1")
    page.wait_for_url(f"{base}/dashboard/campaigns/spring-1")
    chart = page.locator("svg[aria-label^='Lift with 90']")
    chart.wait_for()
    assert chart.locator("circle.point").count() >= 1
    assert chart.locator("line[data-level='0.9']").count() >= 1
    assert chart.locator("line[data-level='0.95']").count() >= 1
    assert page.locator("svg[aria-label^='Relative lift by window'] circle.point").count() >= 3
    assert page.locator("svg[aria-label^='Time from the latest exposure']").count() == 1
    page.screenshot(path=str(SHOTS / "campaign.png"), full_page=True)
    page.locator("#lift").screenshot(path=str(SHOTS / "campaign-lift.png"))

    with page.expect_download() as info:
        page.click("#lift a.csv")
    target = tmp_path / "lift.csv"
    info.value.save_as(target)
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert {"metric", "level", "value", "lower", "upper"} <= set(rows[0])
    levels = {r["level"] for r in rows if r["metric"] == "relative_lift"}
    assert {"0.9", "0.95"} <= levels

    page.select_option("select[name=model]", "linear")
    page.wait_for_url("**model=linear**")
    assert "Credited visits (linear)" in page.content()
    assert problems == [], problems  # no CSP violation, no script error
    context.close()


def test_technician_sees_agents_and_is_refused_campaigns(
    server: dict[str, Any], browser: Any
) -> None:
    """A technician lands on the agents page (online/offline) and may not open a campaign."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    base = server["base"]
    page.goto(f"{base}/login")
    page.fill("#api_key", server["keys"]["technician"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/dashboard/agents")
    statuses = page.locator("table[data-table=agents] tbody tr td:nth-child(3)").all_inner_texts()
    assert sorted(statuses) == ["offline", "online"]
    page.screenshot(path=str(SHOTS / "agents.png"), full_page=True)
    response = page.goto(f"{base}/dashboard/campaigns/spring-1")
    assert response is not None
    assert response.status == 403
    context.close()


def test_revoked_key_cannot_log_in(server: dict[str, Any], browser: Any) -> None:
    """The login form refuses a revoked key and sets no session."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server['base']}/login")
    page.fill("#api_key", server["keys"]["revoked"])
    page.click("button[type=submit]")
    page.wait_for_selector(".error")
    assert "/login" in page.url
    assert not [c for c in context.cookies() if c["name"] == "ff_session"]
    context.close()
