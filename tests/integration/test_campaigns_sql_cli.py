"""The campaigns and report commands against a real migrated SQLite database."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from footfall.cli import build_app
from gateway import models
from gateway.db import make_engine
from gateway.migrate import upgrade

GOOD = """person,ts,kind,channel,creative,group
ann@example.com,2026-10-02T09:15:00+02:00,click,social,c1,exposed
+48 600 123 456,2026-10-02T10:00:00Z,impression,search,c2,control
"""
BAD = """person,ts,kind,channel,creative,group
ann@example.com,2026-10-02T09:15:00+02:00,click,social,c1,exposed
bob@example.com,2026-10-02T10:00:00,impression,search,c2,control
cy@example.com,2026-10-02T10:00:00Z,poke,search,c2,control
dee@example.com,2026-10-02T10:00:00Z,click,search,c2,exposed
"""


@pytest.fixture
def db(sqlite_url: str) -> str:
    upgrade(sqlite_url)
    return sqlite_url


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(build_app(), list(args))
    return result.exit_code, result.stdout, result.stderr


def _count(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(models.Exposure)).scalar_one())
    finally:
        engine.dispose()


def _create(db: str) -> None:
    code, _, err = _run(
        "campaigns",
        "create",
        "c1",
        "--name",
        "Autumn",
        "--starts",
        "2026-10-01T00:00:00Z",
        "--ends",
        "2026-10-15T00:00:00Z",
        "--channels",
        "social,search",
        "--db",
        db,
    )
    assert code == 0, err


def test_bad_file_imports_nothing_and_reports_every_bad_line(db: str, tmp_path: Path) -> None:
    """Two bad rows: both reported with line numbers, exit code 2, and no row stored."""
    _create(db)
    path = tmp_path / "bad.csv"
    path.write_text(BAD)
    code, _, err = _run("campaigns", "import-exposures", str(path), "--campaign", "c1", "--db", db)
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[0].startswith("line 3: ts:")
    assert lines[1].startswith("line 4: kind:")
    assert lines[-1] == "error: 2 bad exposure row(s); nothing imported"
    assert "bob@example.com" not in err
    assert _count(db) == 0


def test_reimport_adds_nothing(db: str, tmp_path: Path) -> None:
    """The same file imported twice stores its rows once."""
    _create(db)
    path = tmp_path / "good.csv"
    path.write_text(GOOD)
    args = ("campaigns", "import-exposures", str(path), "--campaign", "c1", "--db", db, "--json")
    code, out, err = _run(*args)
    assert code == 0, err
    assert json.loads(out)["inserted"] == 2
    code, out, _ = _run(*args)
    assert json.loads(out) == {
        "rows": 2,
        "inserted": 0,
        "already_present": 2,
        "duplicates_in_file": 0,
    }
    assert _count(db) == 2
    engine = make_engine(db)
    with engine.connect() as conn:
        keys = set(conn.execute(select(models.Exposure.person_key)).scalars())
    engine.dispose()
    assert all(len(k) == 64 for k in keys)  # hashed, never the raw e-mail or phone


def test_reports_print_json_and_csv_with_parameters(db: str) -> None:
    """Report commands carry the parameter set in JSON and in the CSV comment line."""
    _create(db)
    code, out, err = _run(
        "report", "attribution", "--campaign", "c1", "--model", "linear", "--json", "--db", db
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["parameters"]["model"] == "linear"
    assert doc["parameters"]["windows_s"]["click_s"] == 30 * 86_400
    code, out, _ = _run("report", "lift", "--campaign", "c1", "--csv", "--db", db)
    assert code == 0
    assert out.startswith("# parameters: ")
    rows = list(csv.DictReader(io.StringIO(out.split("\n", 1)[1])))
    assert {r["section"] for r in rows} >= {"arms"}


def test_unknown_model_is_one_line_exit_2(db: str) -> None:
    """A bad --model fails with one stderr line naming the field."""
    code, _, err = _run("report", "attribution", "--campaign", "c1", "--model", "magic", "--db", db)
    assert code == 2
    assert err.strip().startswith("error: 'model' must be one of")
    assert len(err.strip().splitlines()) == 1


def test_links_import_and_revoke_by_person(db: str, tmp_path: Path) -> None:
    """JSON-lines links import idempotently; revoking by e-mail revokes that person's links."""
    path = tmp_path / "links.jsonl"
    path.write_text(
        '{"device_key": "dk1_a", "person": "Ann@Example.com", "source": "app",'
        ' "consented_at": "2026-09-01T00:00:00Z"}\n'
        '{"device_key": "dk1_b", "person": "ann@example.com", "source": "wifi_login",'
        ' "consented_at": "2026-09-01T00:00:00Z"}\n'
        '{"device_key": "dk1_c", "person": "bob@example.com", "source": "app",'
        ' "consented_at": "2026-09-01T00:00:00Z"}\n'
    )
    code, out, err = _run("campaigns", "import-links", str(path), "--db", db, "--json")
    assert code == 0, err
    assert json.loads(out)["inserted"] == 3
    code, out, _ = _run("campaigns", "import-links", str(path), "--db", db, "--json")
    assert json.loads(out)["inserted"] == 0
    code, out, _ = _run(
        "campaigns", "revoke-link", "--person", " ANN@example.com", "--db", db, "--json"
    )
    assert code == 0
    assert json.loads(out) == {"revoked": 2}
    engine = make_engine(db)
    with engine.connect() as conn:
        live = set(
            conn.execute(
                select(models.IdentityLink.device_key).where(
                    models.IdentityLink.revoked_at.is_(None)
                )
            ).scalars()
        )
    engine.dispose()
    assert live == {"dk1_c"}
