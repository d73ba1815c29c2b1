"""Stores and zones; zone changes are pushed to the store's agents (retained ``config``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from gateway.api import queries
from gateway.api.auth import Role, require
from gateway.api.config_push import PushResult, ZoneConfig, push_zones
from gateway.api.deps import ClockDep, SessionDep
from gateway.api.routes.common import CONFLICT, ERRORS, NOT_FOUND
from gateway.api.schemas import (
    ConfigPushOut,
    StoreIn,
    StoreOut,
    ZoneChangeOut,
    ZoneIn,
    ZoneOut,
    ZoneUpdateIn,
)
from gateway.schemas import NAME_PATTERN

router = APIRouter(tags=["stores and zones"], responses={**ERRORS, **NOT_FOUND})

StoreId = Annotated[str, Path(pattern=NAME_PATTERN, description="Store id.")]
ZoneName = Annotated[str, Path(pattern=NAME_PATTERN, description="Zone name.")]
READ = require(Role.MARKETER, Role.TECHNICIAN)
WRITE = require(Role.TECHNICIAN)


def _push(request: Request, session: SessionDep, store_id: str) -> ConfigPushOut:
    state = request.app.state
    zones = [ZoneConfig(z.name, z.min_rssi_dbm) for z in queries.zones(session, store_id)]
    result: PushResult = push_zones(
        state.publisher if state.settings.push_config else None,
        state.topic_root,
        store_id,
        queries.agent_ids(session, store_id),
        zones,
    )
    return ConfigPushOut(
        pushed=result.pushed, version=result.version, agents=list(result.agents), error=result.error
    )


@router.get("/stores", dependencies=[READ])
def list_stores(session: SessionDep) -> list[StoreOut]:
    """Every store with its number of zones."""
    return [StoreOut.model_validate(s, from_attributes=True) for s in queries.stores(session)]


@router.post("/stores", status_code=201, dependencies=[WRITE], responses=CONFLICT)
def create_store(body: StoreIn, session: SessionDep, clock: ClockDep) -> StoreOut:
    """Register a store (agents also appear by themselves when they report)."""
    info = queries.create_store(session, body.id, body.name, body.timezone, clock())
    return StoreOut.model_validate(info, from_attributes=True)


@router.get("/stores/{store_id}", dependencies=[READ])
def get_store(store_id: StoreId, session: SessionDep) -> StoreOut:
    return StoreOut.model_validate(queries.get_store(session, store_id), from_attributes=True)


@router.get("/stores/{store_id}/zones", dependencies=[READ])
def list_zones(store_id: StoreId, session: SessionDep) -> list[ZoneOut]:
    """The store's zones in the order agents try them (nearest first)."""
    return [
        ZoneOut.model_validate(z, from_attributes=True) for z in queries.zones(session, store_id)
    ]


@router.post("/stores/{store_id}/zones", status_code=201, dependencies=[WRITE], responses=CONFLICT)
def create_zone(
    store_id: StoreId, body: ZoneIn, session: SessionDep, request: Request
) -> ZoneChangeOut:
    """Add a zone and push the store's zones to its agents."""
    zone = queries.create_zone(
        session, store_id, body.name, body.label, body.min_rssi_dbm, body.position
    )
    return ZoneChangeOut(
        zone=ZoneOut.model_validate(zone, from_attributes=True),
        config_push=_push(request, session, store_id),
    )


@router.put("/stores/{store_id}/zones/{zone}", dependencies=[WRITE])
def update_zone(
    store_id: StoreId, zone: ZoneName, body: ZoneUpdateIn, session: SessionDep, request: Request
) -> ZoneChangeOut:
    """Change a zone's label, RSSI threshold or order and push the zones to the agents."""
    changes = body.model_dump(exclude_none=True)
    info = queries.update_zone(session, store_id, zone, changes)
    return ZoneChangeOut(
        zone=ZoneOut.model_validate(info, from_attributes=True),
        config_push=_push(request, session, store_id),
    )


@router.delete("/stores/{store_id}/zones/{zone}", dependencies=[WRITE])
def delete_zone(
    store_id: StoreId, zone: ZoneName, session: SessionDep, request: Request
) -> ZoneChangeOut:
    """Remove a zone and push the remaining zones to the agents."""
    queries.delete_zone(session, store_id, zone)
    return ZoneChangeOut(zone=None, config_push=_push(request, session, store_id))


@router.post("/stores/{store_id}/config/push", dependencies=[WRITE])
def push_config(store_id: StoreId, session: SessionDep, request: Request) -> ConfigPushOut:
    """Publish the store's zones again (after a broker outage, or to a newly added agent)."""
    queries.get_store(session, store_id)
    return _push(request, session, store_id)
