"""The gateway: MQTT ingest, database schema and migrations, store visits, the API.

Modules (import them directly; this package imports nothing heavy, so
``footfall --help`` stays fast):

- ``gateway.settings`` — :class:`GatewaySettings` (``FOOTFALL_GATEWAY_*``)
- ``gateway.db`` — ``make_engine``, ``make_session_factory``, ``UtcDateTime``
- ``gateway.models`` — SQLAlchemy models; ``gateway.migrate`` — ``upgrade(url)``
- ``gateway.schemas`` — pydantic MQTT payload models (events v1, status, occupancy)
- ``gateway.ingest`` — pure ``classify`` and ``Batcher``; ``gateway.store`` — ``write_batch``
- ``gateway.service`` — the paho ingest loop; ``gateway.bootstrap`` — ``build_ingest``
- ``gateway.visits`` — ``merge_visits`` (pure) and ``update_visits``
- ``gateway.retention`` — ``purge_events``; ``gateway.metrics`` — Prometheus text
"""

__all__: list[str] = []
