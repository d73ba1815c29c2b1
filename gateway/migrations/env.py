"""Alembic environment: runs the versions in this folder against the configured URL.

Called programmatically by :func:`gateway.migrate.upgrade` (``footfall gateway
migrate``) and by the tests; the URL comes from ``sqlalchemy.url`` in the config.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import types

from gateway.db import UtcDateTime, make_engine
from gateway.models import Base, alembic_include_object

target_metadata = Base.metadata


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write our UTC type as a plain ``DateTime(timezone=True)`` so versions stay self-contained."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_online() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("alembic config has no 'sqlalchemy.url'")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


def _run(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_item=_render_item,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=alembic_include_object(connection.dialect.name),
        compare_type=lambda *_a: False if isinstance(_a[2], types.TypeDecorator) else None,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
