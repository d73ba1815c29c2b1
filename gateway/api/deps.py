"""FastAPI dependencies shared by the routes: the database session, engine, settings, clock.

Everything hangs off ``app.state`` (set by :func:`gateway.api.app.create_app`), so two
apps in one process (tests) never share a session factory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gateway.api.settings import ApiSettings

Clock = Callable[[], datetime]


def get_db(request: Request) -> Iterator[Session]:
    """One session per request, closed afterwards (routes commit what they change)."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory() as session:
        yield session


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


SessionDep = Annotated[Session, Depends(get_db)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
