"""Shared fixtures: a private Mosquitto per test session, throw-away PostgreSQL databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.mosquitto import Mosquitto, mosquitto_available
from tests.support.postgres import postgres_reachable, temporary_database

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
TEST_DATA = Path(__file__).resolve().parent / "data"


def shared_data(*parts: str) -> Path:
    """A path under ``../shared/data``; the test skips when a user's clone does not have it."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"public data set not present at {path} (see tests/data/README.md)")
    return path


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A private broker for the whole session; use a unique topic per test."""
    if not mosquitto_available():
        pytest.skip("mosquitto is not installed (.ci/run installs it)")
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def own_mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A broker for one test alone, which the test may stop, kill and restart."""
    if not mosquitto_available():
        pytest.skip("mosquitto is not installed (.ci/run installs it)")
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.start()
    yield broker
    if broker.running:
        broker.stop()


@pytest.fixture(scope="session")
def _postgres_up() -> None:
    if not postgres_reachable():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432 (.ci/run starts it)")


@pytest.fixture
def postgres_url(_postgres_up: None) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty PostgreSQL database, dropped after the test."""
    with temporary_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """SQLAlchemy URL of a fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'footfall.db'}"
