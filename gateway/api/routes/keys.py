"""API keys (admin): create (the key is shown once), list, revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from gateway.api.auth import Role, create_key, list_keys, require, revoke_key
from gateway.api.deps import ClockDep, SessionDep
from gateway.api.routes.common import CONFLICT, ERRORS, NOT_FOUND
from gateway.api.schemas import KeyCreatedOut, KeyIn, KeyOut

router = APIRouter(tags=["keys"], responses=ERRORS, dependencies=[require()])


@router.get("/keys")
def keys(session: SessionDep) -> list[KeyOut]:
    """Every key (never the key itself: only its hash is stored)."""
    return [KeyOut.model_validate(k, from_attributes=True) for k in list_keys(session)]


@router.post("/keys", status_code=201, responses=CONFLICT)
def new_key(body: KeyIn, session: SessionDep, clock: ClockDep) -> KeyCreatedOut:
    """Create a key; the answer is the only time the key is shown."""
    info, key = create_key(session, body.name, Role(body.role), clock())
    return KeyCreatedOut(
        id=info.id,
        name=info.name,
        role=info.role,
        created_at=info.created_at,
        revoked_at=info.revoked_at,
        key=key,
    )


@router.delete("/keys/{key_id}", responses=NOT_FOUND)
def revoke(
    key_id: Annotated[int, Path(ge=1, le=2**53)], session: SessionDep, clock: ClockDep
) -> KeyOut:
    """Revoke a key at once (its dashboard sessions end too)."""
    return KeyOut.model_validate(revoke_key(session, key_id, clock()), from_attributes=True)
