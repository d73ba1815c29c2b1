"""API keys, roles and the FastAPI dependencies that check them.

A key is ``ff_`` + 43 URL-safe characters (256 random bits). Only its SHA-256 hex is
stored; the plain key is shown once, when created. A request presents it as
``Authorization: Bearer ff_...`` or ``X-API-Key: ff_...``; the dashboard trades it for
a signed session cookie (key id, expiry, HMAC bound to the key's hash, so revoking the
key ends its sessions too). Every failure is logged with at most the key's first four
characters.

Roles (``admin`` may do everything):

==========  ===============================================================
marketer    read footfall, occupancy, campaigns and reports; create campaigns
technician  stores, zones (pushed to agents), agents and their health, occupancy
ingest      import exposures and identity links, nothing else
==========  ===============================================================
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.api.deps import SessionDep
from gateway.models import ApiKey

_LOGGER = logging.getLogger(__name__)

KEY_PREFIX = "ff_"
KEY_RANDOM_BYTES = 32  # 256 bits: guessing is hopeless, so a plain SHA-256 (no KDF) is enough
MAX_KEY_CHARS = 128
SESSION_COOKIE = "ff_session"
LOGGED_KEY_CHARS = 4  # failed attempts are logged with at most this much of the key


class Role(StrEnum):
    ADMIN = "admin"
    MARKETER = "marketer"
    TECHNICIAN = "technician"
    INGEST = "ingest"


class ApiKeyError(ValueError):
    """A key operation the caller asked for cannot be done (duplicate name, unknown key)."""


class ApiKeyNotFoundError(ApiKeyError):
    """No key has that id or name."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request: the key's id, name and role."""

    key_id: int
    name: str
    role: Role


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    id: int
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None


def generate_key() -> str:
    """A new random key, ``ff_`` + URL-safe base64 of 32 random bytes."""
    return KEY_PREFIX + secrets.token_urlsafe(KEY_RANDOM_BYTES)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_hint(key: str | None) -> str:
    """What a log line may show of a presented key: its first four characters at most."""
    if not key:
        return "-"
    return key[:LOGGED_KEY_CHARS] + "..."


def _info(row: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(row.id, row.name, Role(row.role), row.created_at, row.revoked_at)


def create_key(session: Session, name: str, role: Role, now: datetime) -> tuple[ApiKeyInfo, str]:
    """Store a new key's hash; returns its record and the plain key (shown once, never stored)."""
    if not name.strip() or len(name) > 200:
        raise ApiKeyError(f"'name' must be 1-200 characters (got {len(name.strip())})")
    key = generate_key()
    row = ApiKey(name=name, role=role.value, key_hash=hash_key(key), created_at=now)
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ApiKeyError(f"'name' {name!r} is already used by another key") from None
    _LOGGER.info("api key %d (%s) created with role %s", row.id, name, role.value)
    return _info(row), key


def list_keys(session: Session) -> list[ApiKeyInfo]:
    return [_info(r) for r in session.scalars(select(ApiKey).order_by(ApiKey.id))]


def revoke_key(session: Session, key: int | str, now: datetime) -> ApiKeyInfo:
    """Revoke a key by id or name; revoking twice keeps the first time."""
    stmt = select(ApiKey)
    stmt = stmt.where(ApiKey.id == key) if isinstance(key, int) else stmt.where(ApiKey.name == key)
    row = session.scalars(stmt).first()
    if row is None:
        raise ApiKeyNotFoundError(f"'key' {key!r} does not exist")
    if row.revoked_at is None:
        row.revoked_at = now
        session.commit()
        _LOGGER.info("api key %d (%s) revoked", row.id, row.name)
    return _info(row)


def authenticate(session: Session, presented: str) -> tuple[Principal | None, str]:
    """The principal of a presented key, or ``None`` and the reason (for the log)."""
    if not presented.startswith(KEY_PREFIX) or len(presented) > MAX_KEY_CHARS:
        return None, "malformed"
    digest = hash_key(presented)
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == digest)).first()
    # the lookup is by hash (an index): timing tells nothing about the key itself
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        return None, "unknown"
    if row.revoked_at is not None:
        return None, "revoked"
    return Principal(row.id, row.name, Role(row.role)), "ok"


# --- sessions ---------------------------------------------------------------------------


def session_token(secret: bytes, key_id: int, key_hash: str, expires_s: int) -> str:
    """``<key id>.<expiry>.<hmac>``; the HMAC covers the key's hash, so revocation ends it."""
    mac = hmac.new(secret, f"{key_id}.{expires_s}.{key_hash}".encode(), hashlib.sha256)
    return f"{key_id}.{expires_s}.{mac.hexdigest()}"


def principal_from_session(
    session: Session, secret: bytes, token: str, now_s: float
) -> tuple[Principal | None, str]:
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None, "malformed session"
    key_id, expires_s = int(parts[0]), int(parts[1])
    if expires_s < now_s:
        return None, "session expired"
    row = session.get(ApiKey, key_id)
    if row is None:
        return None, "unknown session"
    expected = session_token(secret, key_id, row.key_hash, expires_s)
    if not hmac.compare_digest(expected, token):
        return None, "bad session signature"
    if row.revoked_at is not None:
        return None, "revoked"
    return Principal(row.id, row.name, Role(row.role)), "ok"


# --- FastAPI dependencies --------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer ff_...")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: ff_...")


def _client(request: Request) -> str:
    return request.client.host if request.client else "-"


def refuse(request: Request, status: int, reason: str, presented: str | None) -> HTTPException:
    """Log a refused request (never the key) and build the 401/403 to raise."""
    metrics = getattr(request.app.state, "api_metrics", None)
    if metrics is not None:
        metrics.refused(reason if status == 401 else "role")
    _LOGGER.warning(
        "auth refused (%s): key %s, %s %s from %s",
        reason,
        key_hint(presented),
        request.method,
        request.url.path,
        _client(request),
    )
    if status == 401:
        return HTTPException(
            401,
            detail=f"authentication required: {reason} API key "
            "(send 'Authorization: Bearer ff_...' or 'X-API-Key')",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return HTTPException(403, detail=reason)


def presented_key(request: Request) -> tuple[str | None, str | None]:
    """The key a request presents, or why its credentials are unusable.

    An ``Authorization`` header that is not ``Bearer <key>``, or two headers carrying
    different keys, is refused outright rather than falling back to the other header.
    """
    auth = request.headers.get("authorization")
    header = request.headers.get("x-api-key")
    bearer: str | None = None
    if auth is not None:
        scheme, _, credentials = auth.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            return credentials or auth, "malformed Authorization header"
        bearer = credentials.strip()
    if bearer is not None and header is not None and bearer != header:
        return bearer, "two different keys in Authorization and X-API-Key"
    return bearer or header, None


def require(*roles: Role) -> Any:
    """A dependency admitting keys of ``roles`` (and ``admin``); 401 without a valid key."""
    allowed = frozenset({Role.ADMIN, *roles})
    names = ", ".join(sorted(r.value for r in allowed))

    def _check(
        request: Request,
        db: SessionDep,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
        header: Annotated[str | None, Security(_header)],
    ) -> Principal:
        del bearer, header  # declared for the OpenAPI security schemes; read raw below
        presented, problem = presented_key(request)
        if problem is not None:
            raise refuse(request, 401, problem, presented)
        if not presented:
            raise refuse(request, 401, "missing", None)
        principal, reason = authenticate(db, presented)
        if principal is None:
            raise refuse(request, 401, reason, presented)
        if principal.role not in allowed:
            raise refuse(
                request,
                403,
                f"role '{principal.role.value}' may not do this (needs one of: {names})",
                presented,
            )
        request.state.principal = principal
        return principal

    _check.allowed_roles = allowed  # type: ignore[attr-defined]  # read by the auth-matrix test
    return Depends(_check)


RoleCheck = Callable[..., Principal]
