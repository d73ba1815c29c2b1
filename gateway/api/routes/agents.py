"""Agents and their health, from their retained ``status`` messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gateway.api import queries
from gateway.api.auth import Role, require
from gateway.api.deps import ClockDep, SessionDep, SettingsDep
from gateway.api.routes.common import ERRORS
from gateway.api.schemas import AgentOut
from gateway.schemas import NAME_PATTERN

router = APIRouter(tags=["agents"], responses=ERRORS)


@router.get("/agents", dependencies=[require(Role.TECHNICIAN)])
def list_agents(
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    store_id: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
) -> list[AgentOut]:
    """Every agent: online/offline, last seen, rates, outbox depth, drops by reason."""
    rows = queries.agents(session, store_id, clock(), settings.agent_offline_after_s)
    return [AgentOut.model_validate(a, from_attributes=True) for a in rows]
