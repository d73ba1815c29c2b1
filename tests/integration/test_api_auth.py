"""The auth matrix: every route of the app refuses no key, a revoked key and a wrong role.

Routes are enumerated from the app, so a new endpoint cannot escape: an API route without
a role dependency, or a dashboard page missing from ``PAGE_ROLES``, fails the test.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from gateway.api import ApiSettings, create_app
from gateway.api.auth import Role
from gateway.dashboard.views import PAGE_ROLES, PUBLIC_PATHS
from gateway.db import make_session_factory
from tests.integration.api_seed import Seeded, fixed_clock, seed_all

PATH_VALUES = {
    "store_id": "krakow-01",
    "zone": "dairy",
    "campaign_id": "spring-1",
    "key_id": "999",
}
OPENAPI_PATHS = {
    "/api/v1/openapi.json",
    "/api/v1/docs",
    "/api/v1/redoc",
    "/api/v1/docs/oauth2-redirect",
}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    s = seed_all(f"sqlite:///{tmp_path_factory.mktemp('auth') / 'footfall.db'}")
    yield s
    s.engine.dispose()


@pytest.fixture(scope="module")
def app(seeded: Seeded) -> FastAPI:
    return create_app(ApiSettings(), make_session_factory(seeded.engine), clock=fixed_clock())


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


def _roles_of(dependant: Any) -> frozenset[Role] | None:
    """The roles the route's ``require(...)`` dependency admits (searched recursively)."""
    stack = list(dependant.dependencies)
    while stack:
        dep = stack.pop()
        allowed = getattr(dep.call, "allowed_roles", None)
        if allowed is not None:
            return frozenset(allowed)
        stack.extend(dep.dependencies)
    return None


def _routes(app: FastAPI) -> list[Any]:
    """Every route with its effective (prefixed) path, included routers flattened."""
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    return list(flatten(app.routes)) if flatten is not None else list(app.routes)


def _matrix(app: FastAPI) -> list[tuple[str, str, frozenset[Role], bool]]:
    """(method, path template, roles, is_api) for every protected route of the app."""
    rows = []
    for route in _routes(app):
        inner = getattr(route, "route", route)
        if not isinstance(inner, APIRoute):
            path = getattr(route, "path", "")
            assert path in OPENAPI_PATHS | {"/static"}, f"unexpected non-API route {path}"
            continue
        path = route.path
        for method in sorted(set(route.methods) - {"HEAD"}):
            if path.startswith("/api/"):
                roles = _roles_of(route.dependant)
                assert roles is not None, f"{method} {path} has no role check"
                rows.append((method, path, roles, True))
            elif path in PUBLIC_PATHS:
                continue
            else:
                assert path in PAGE_ROLES, f"dashboard route {path} not in PAGE_ROLES"
                rows.append((method, path, PAGE_ROLES[path], False))
    return rows


def _url(path: str) -> str:
    for name, value in PATH_VALUES.items():
        path = path.replace("{" + name + "}", value)
    return path + ("?limit=1" if path.endswith("/stream") else "")


def test_every_route_is_covered(app: FastAPI) -> None:
    """Every API route has a role dependency and every dashboard page an entry in PAGE_ROLES."""
    rows = _matrix(app)
    assert len([r for r in rows if r[3]]) >= 25
    assert {r[1] for r in rows if not r[3]} == set(PAGE_ROLES)


@pytest.mark.anyio
async def test_no_key_is_refused_everywhere(app: FastAPI, client: httpx.AsyncClient) -> None:
    """Without a key the API answers 401 and the dashboard sends the browser to log in."""
    for method, path, _roles, is_api in _matrix(app):
        r = await client.request(method, _url(path))
        if is_api:
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.headers["www-authenticate"] == "Bearer"
        else:
            assert r.status_code == 303, (method, path, r.status_code)
            assert r.headers["location"].startswith("/login?next=")


@pytest.mark.anyio
async def test_revoked_and_unknown_keys_are_refused_everywhere(
    app: FastAPI, client: httpx.AsyncClient, seeded: Seeded
) -> None:
    """A revoked key and a made-up key get 401 on every route, API and dashboard alike."""
    for key in (seeded.keys["revoked"], "ff_" + "x" * 43):
        for method, path, _roles, _is_api in _matrix(app):
            for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
                r = await client.request(method, _url(path), headers=headers)
                assert r.status_code == 401, (method, path, r.status_code)


@pytest.mark.anyio
async def test_wrong_roles_are_refused_and_right_roles_admitted(
    app: FastAPI, client: httpx.AsyncClient, seeded: Seeded
) -> None:
    """Each role outside a route's set gets 403; each role inside gets past auth (GETs)."""
    checked = 0
    for method, path, roles, _is_api in _matrix(app):
        for role in Role:
            headers = {"X-API-Key": seeded.keys[role.value]}
            if role not in roles:
                r = await client.request(method, _url(path), headers=headers)
                assert r.status_code == 403, (method, path, role, r.status_code)
                checked += 1
            elif method == "GET":
                r = await client.request(method, _url(path), headers=headers)
                assert r.status_code not in (401, 403), (method, path, role, r.status_code)
    assert checked > 40


@pytest.mark.anyio
async def test_ingest_role_reaches_only_imports(app: FastAPI) -> None:
    """The ingest role is admitted to exposure and link imports and nothing else."""
    ingest = {(m, p) for m, p, roles, _ in _matrix(app) if Role.INGEST in roles}
    assert ingest == {
        ("POST", "/api/v1/campaigns/{campaign_id}/exposures"),
        ("POST", "/api/v1/campaigns/{campaign_id}/exposures/stream"),
        ("POST", "/api/v1/links"),
        ("POST", "/api/v1/links/revoke"),
    }


@pytest.mark.anyio
async def test_failed_auth_is_logged_without_the_key(
    client: httpx.AsyncClient, seeded: Seeded, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused key is logged with the reason and at most its first four characters."""
    key = seeded.keys["revoked"]
    with caplog.at_level(logging.WARNING, logger="gateway.api.auth"):
        r = await client.get("/api/v1/stores", headers={"X-API-Key": key})
    assert r.status_code == 401
    text = caplog.text
    assert "revoked" in text
    assert key[:4] in text
    assert key[:5] not in text
    assert key not in r.text
