"""``footfall demo``: the whole system on one machine, with nothing installed beyond Python.

What runs (each part is the real one, wired here):

- an MQTT broker: the embedded amqtt one, or ``--broker mqtt://host:port`` (Mosquitto);
- a database: SQLite in the work directory, or ``--db postgresql+psycopg://...``;
- the gateway: MQTT ingest (validation, idempotent insert, store visits) and the HTTP
  API with the dashboard, in this process;
- one edge agent per simulated store, each in its own process: the store simulator
  feeds the real decoders, privacy keys, Kalman tracker, outbox and MQTT link;
  one opening hour of each store is simulated per wall-clock minute;
- when the agents are done: a seeded campaign whose exposed and control groups are
  drawn from the simulated app shoppers with a known true effect
  (:mod:`footfall.demo_campaign`), imported like a real one, and the lift report.

It prints the dashboard URL, an admin API key and a summary that puts the measured
lift next to the true one, then serves the dashboard until Ctrl-C or SIGTERM (or exits at once
with ``--exit``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import secrets
import signal
import threading
import time
import webbrowser
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlparse

import typer

_LOGGER = logging.getLogger(__name__)

# One simulated opening hour per wall-clock minute and store: the agents pace the
# simulation at this speed and keep up on a 2-core machine.
SIM_SECONDS_PER_WALL_SECOND = 60.0
DEMO_STORES = ("krakow-01", "warsaw-02")
# More loyalty-app users and shoppers than the simulator's defaults, so that a few
# simulated hours give the campaign enough linked visitors for a useful interval.
DEMO_SHOPPERS_PER_HOUR = 100.0
DEMO_APP_SHARE = 0.6
# A 50/50 holdout: the control arm is as large as the exposed one (the tightest CI).
DEMO_EXPOSED_SHARE = 0.5
DEMO_TRUE_LIFT = 0.5
DEMO_P_CONTROL = 0.05


def register(app: typer.Typer) -> None:
    app.command("demo", help="Run a simulated store chain end to end on this machine.")(demo)


def demo(
    minutes: Annotated[
        float,
        typer.Option(help="Wall-clock minutes of simulation (one opening hour per minute)."),
    ] = 3.0,
    seed: Annotated[int, typer.Option(help="Seed of the simulation and the campaign.")] = 7,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Do not open the dashboard in a browser.")
    ] = False,
    broker: Annotated[
        str | None,
        typer.Option(help="Use this MQTT broker (mqtt://host:port) instead of the embedded one."),
    ] = None,
    db: Annotated[
        str | None, typer.Option(help="Use this database URL instead of SQLite in --workdir.")
    ] = None,
    port: Annotated[int, typer.Option(help="Dashboard/API port on 127.0.0.1 (0: any).")] = 8000,
    workdir: Annotated[
        Path | None,
        typer.Option(help="Where the database, outboxes and logs go (default: a temp dir)."),
    ] = None,
    exit_after: Annotated[
        bool, typer.Option("--exit", help="Exit after the summary instead of serving.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run a simulated store chain end to end: agents, broker, gateway, campaign, dashboard."""
    if minutes <= 0:
        typer.echo(f"error: --minutes must be > 0 (got {minutes})", err=True)
        raise typer.Exit(2)
    if broker is not None and urlparse(broker).scheme not in ("mqtt", "tcp"):
        typer.echo(f"error: --broker must look like mqtt://host:port (got {broker!r})", err=True)
        raise typer.Exit(2)
    options = DemoOptions(
        minutes=minutes,
        seed=seed,
        broker_url=broker,
        db_url=db,
        port=port,
        workdir=workdir,
    )
    run = DemoRun(options)
    # systemd, docker and kill stop with SIGTERM: the same clean stop as Ctrl-C
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        summary = run.start_and_measure(progress=not as_json)
        if as_json:
            typer.echo(json.dumps(summary, indent=2, default=str))
        else:
            typer.echo(format_summary(summary))
        if not exit_after:
            if not no_browser:
                with contextlib.suppress(Exception):
                    webbrowser.open(summary["dashboard_url"])
            typer.echo("Serving the dashboard; press Ctrl-C to stop.", err=True)
            run.wait_for_interrupt()
    except DemoError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        typer.echo("\nstopping...", err=True)
    finally:
        run.stop()
    typer.echo("demo stopped cleanly", err=True)


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


class DemoError(RuntimeError):
    """Something the demo needs could not be set up; the message says what to do."""


@dataclass(frozen=True, slots=True)
class DemoOptions:
    minutes: float
    seed: int
    broker_url: str | None = None
    db_url: str | None = None
    port: int = 8000
    workdir: Path | None = None
    stores: tuple[str, ...] = DEMO_STORES


@dataclass(frozen=True, slots=True)
class AgentJob:
    """What one agent process needs: picklable, so it crosses into a spawned process."""

    store_id: str
    agent_id: str
    seed: int
    duration_s: float
    start_ts_s: float
    site_secret: str
    mqtt_host: str
    mqtt_port: int
    outbox_path: str
    speed: float | None
    shoppers_per_hour: float = DEMO_SHOPPERS_PER_HOUR
    ble_app_share: float = DEMO_APP_SHARE
    demo_pid: int | None = None
    """The demo process: the agent stops once it is no longer the agent's parent."""


@dataclass
class DemoRun:
    """Starts every part, measures, and stops them all; ``stop`` is safe to call twice."""

    options: DemoOptions
    site_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    _workdir: Path | None = None
    _broker: Any = None
    _served: Any = None
    _server: Any = None
    _server_thread: threading.Thread | None = None
    _agents: list[Any] = field(default_factory=list)
    _interrupted: threading.Event = field(default_factory=threading.Event)

    # -- start -------------------------------------------------------------------------

    def start_and_measure(self, *, progress: bool = True) -> dict[str, Any]:
        from rich.console import Console

        console = Console(stderr=True, quiet=not progress)
        opts = self.options
        workdir = self._make_workdir()
        db_url = opts.db_url or f"sqlite:///{workdir / 'footfall.db'}"
        host, port = self._start_broker()
        console.print(f"[bold]broker[/] mqtt://{host}:{port}")
        self._migrate(db_url)
        console.print(f"[bold]database[/] {_redact(db_url)}")
        api_key, dashboard_url = self._start_gateway(db_url, host, port)
        console.print(f"[bold]dashboard[/] {dashboard_url}")
        start_ts_s = _opening_time_yesterday()
        duration_s = opts.minutes * 60.0 * SIM_SECONDS_PER_WALL_SECOND
        jobs = [
            AgentJob(
                store_id=store_id,
                agent_id=f"{store_id}-a",  # agent ids are unique across the fleet
                seed=opts.seed * 100 + i,
                duration_s=duration_s,
                start_ts_s=start_ts_s,
                site_secret=self.site_secret,
                mqtt_host=host,
                mqtt_port=port,
                outbox_path=str(workdir / f"outbox-{store_id}.sqlite"),
                speed=SIM_SECONDS_PER_WALL_SECOND,
                demo_pid=os.getpid(),
            )
            for i, store_id in enumerate(opts.stores)
        ]
        results = self._run_agents(jobs, console)
        console.print("[bold]agents done[/]; waiting for the gateway to store every event")
        stored = self._wait_for_ingest(db_url, sum(r["events"] for r in results))
        plan = self._seed_campaign(db_url, jobs)
        lift = self._lift(db_url, plan.campaign.id)
        footfall_counts = self._footfall(db_url)
        return {
            "dashboard_url": dashboard_url,
            "api_key": api_key,
            "workdir": str(workdir),
            "database": _redact(db_url),
            "broker": f"mqtt://{host}:{port}",
            "simulated_hours_per_store": duration_s / 3600.0,
            "agents": results,
            "events_stored": stored,
            "footfall": footfall_counts,
            "campaign": {
                "id": plan.campaign.id,
                "people_exposed": plan.people_exposed,
                "people_control": plan.people_control,
                "true_relative_lift": plan.true_relative_lift,
                "true_visitors_exposed": plan.visitors_exposed,
                "true_visitors_control": plan.visitors_control,
            },
            "lift": lift,
        }

    def _make_workdir(self) -> Path:
        import tempfile

        if self.options.workdir is not None:
            self.options.workdir.mkdir(parents=True, exist_ok=True)
            self._workdir = self.options.workdir
        else:
            self._workdir = Path(tempfile.mkdtemp(prefix="footfall-demo-"))
        return self._workdir

    def _start_broker(self) -> tuple[str, int]:
        if self.options.broker_url is not None:
            url = urlparse(self.options.broker_url)
            return url.hostname or "127.0.0.1", url.port or 1883
        from footfall.broker import EmbeddedBroker, EmbeddedBrokerError

        self._broker = EmbeddedBroker()
        try:
            self._broker.start()
        except EmbeddedBrokerError as exc:
            raise DemoError(f"{exc}; pass --broker mqtt://host:port to use another") from None
        return self._broker.host, self._broker.port

    def _migrate(self, db_url: str) -> None:
        from sqlalchemy.exc import SQLAlchemyError

        from gateway.migrate import upgrade

        try:
            upgrade(db_url)
        except SQLAlchemyError as exc:
            raise DemoError(
                f"cannot migrate {_redact(db_url)}: {str(exc).splitlines()[0]}"
            ) from None

    def _gateway_settings(self, db_url: str, host: str, port: int) -> Any:
        from gateway.settings import GatewaySettings

        return GatewaySettings(
            database_url=db_url,
            mqtt_host=host,
            mqtt_port=port,
            mqtt_protocol="3.1.1" if self._broker is not None else "5",
            mqtt_client_id=f"footfall-demo-gateway-{secrets.token_hex(3)}",
            visits_every_s=2.0,
        )

    def _start_gateway(self, db_url: str, host: str, port: int) -> tuple[str, str]:
        """Ingest and the API/dashboard, as ``footfall gateway serve`` wires them, in threads."""
        import uvicorn

        from gateway.api.auth import Role, create_key
        from gateway.api.settings import ApiSettings
        from gateway.db import make_session_factory
        from gateway.serve import build

        served = build(
            self._gateway_settings(db_url, host, port),
            ApiSettings(port=self.options.port, push_config=False),
        )
        self._served = served
        with make_session_factory(served.engine)() as session:
            _, api_key = create_key(
                session, f"demo-admin-{secrets.token_hex(3)}", Role.ADMIN, datetime.now(UTC)
            )
        served.start_background()
        if served.ingest is not None and not served.ingest.service.wait_subscribed(30):
            raise DemoError(f"the gateway could not subscribe on mqtt://{host}:{port} in 30 s")
        server = uvicorn.Server(
            uvicorn.Config(
                served.app, host="127.0.0.1", port=self.options.port, log_level="warning"
            )
        )
        self._server = server
        self._server_thread = threading.Thread(target=server.run, name="api", daemon=True)
        self._server_thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not self._server_thread.is_alive():
                raise DemoError(
                    f"the dashboard could not listen on 127.0.0.1:{self.options.port}; "
                    "pass --port with a free port"
                )
            time.sleep(0.05)
        bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
        return api_key, f"http://127.0.0.1:{bound}/"

    # -- agents ------------------------------------------------------------------------

    def _run_agents(self, jobs: list[AgentJob], console: Any) -> list[dict[str, Any]]:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        ctx = multiprocessing.get_context("spawn")
        result_queue: Any = ctx.Queue()
        for job in jobs:
            proc = ctx.Process(
                target=agent_process_main, args=(job, result_queue), name=f"agent-{job.store_id}"
            )
            proc.start()
            self._agents.append(proc)
        expected_s = jobs[0].duration_s / SIM_SECONDS_PER_WALL_SECOND
        results: list[dict[str, Any]] = []
        started = time.monotonic()
        with Progress(
            TextColumn("[bold]simulating[/] {task.description}"),
            BarColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task(f"{len(jobs)} stores", total=expected_s)
            while len(results) < len(jobs):
                with contextlib.suppress(Exception):
                    results.append(result_queue.get(timeout=0.5))
                bar.update(task, completed=min(expected_s, time.monotonic() - started))
                if all(not p.is_alive() for p in self._agents) and result_queue.empty():
                    break
        for proc in self._agents:
            proc.join(timeout=30)
        failed = [r for r in results if r.get("error")]
        if failed or len(results) < len(jobs):
            detail = "; ".join(f"{r['store_id']}: {r['error']}" for r in failed) or "exited early"
            raise DemoError(f"an agent failed ({detail}); see the log above")
        return sorted(results, key=lambda r: str(r["store_id"]))

    # -- measuring ---------------------------------------------------------------------

    def _wait_for_ingest(self, db_url: str, expected_events: int, timeout_s: float = 120) -> int:
        from sqlalchemy import func, select

        from gateway.db import make_engine
        from gateway.models import PresenceEventRow, VisitDirty

        engine = make_engine(db_url)
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                with engine.connect() as conn:
                    stored = conn.execute(select(func.count()).select_from(PresenceEventRow))
                    n = int(stored.scalar_one())
                    dirty = int(
                        conn.execute(select(func.count()).select_from(VisitDirty)).scalar_one()
                    )
                if (n >= expected_events and dirty == 0) or time.monotonic() > deadline:
                    if n < expected_events:
                        _LOGGER.warning("only %d of %d events stored", n, expected_events)
                    return n
                time.sleep(0.5)
        finally:
            engine.dispose()

    def _seed_campaign(self, db_url: str, jobs: list[AgentJob]) -> Any:
        import numpy as np

        from footfall.demo_campaign import plan_campaign
        from gateway.campaign_store import create_campaign, import_exposures, import_links
        from gateway.db import make_engine
        from hardware.privacy import DeviceKeyer

        shoppers = [s for job in jobs for s in app_shoppers(job)]
        keyer = DeviceKeyer(self.site_secret.encode())
        plan = plan_campaign(
            shoppers,
            device_key=lambda beacon_id: keyer.key_beacon(beacon_id)[0],
            rng=np.random.default_rng(self.options.seed),
            p_control=DEMO_P_CONTROL,
            true_lift=DEMO_TRUE_LIFT,
            exposed_share=DEMO_EXPOSED_SHARE,
        )
        engine = make_engine(db_url)
        try:
            create_campaign(engine, plan.campaign, datetime.now(UTC))
            import_exposures(engine, plan.campaign.id, plan.exposures)
            import_links(engine, plan.links)
        finally:
            engine.dispose()
        return plan

    def _lift(self, db_url: str, campaign_id: str) -> dict[str, Any]:
        from gateway.db import make_engine
        from gateway.reports import lift_report

        engine = make_engine(db_url)
        try:
            report: dict[str, Any] = lift_report(engine, campaign_id).as_dict()
            return report
        finally:
            engine.dispose()

    def _footfall(self, db_url: str) -> dict[str, Any]:
        from sqlalchemy import func, select

        from gateway.db import make_engine
        from gateway.models import StoreVisit

        engine = make_engine(db_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(StoreVisit.store_id, StoreVisit.visit_class, func.count())
                    .group_by(StoreVisit.store_id, StoreVisit.visit_class)
                    .order_by(StoreVisit.store_id, StoreVisit.visit_class)
                ).all()
        finally:
            engine.dispose()
        counts: dict[str, dict[str, int]] = {}
        for store_id, visit_class, n in rows:
            counts.setdefault(store_id, {})[visit_class] = int(n)
        return counts

    # -- stop --------------------------------------------------------------------------

    def wait_for_interrupt(self) -> None:
        while not self._interrupted.wait(0.5):
            pass

    def stop(self) -> None:
        for proc in self._agents:
            if proc.is_alive():
                proc.terminate()
        for proc in self._agents:
            proc.join(timeout=15)
        self._agents.clear()
        if self._server is not None:
            self._server.should_exit = True
            if self._server_thread is not None:
                self._server_thread.join(timeout=15)
            self._server = self._server_thread = None
        if self._served is not None:
            self._served.close()
            self._served = None
        if self._broker is not None:
            self._broker.stop()
            self._broker = None


def app_shoppers(job: AgentJob) -> list[Any]:
    """The loyalty-app shoppers of one store's simulation (deterministic from the job)."""
    from footfall.demo_campaign import AppShopper
    from hardware.simulator import PersonKind

    store = _simulated_store(job)
    shoppers: list[AppShopper] = []
    for person in store.people:
        if person.kind is not PersonKind.SHOPPER or person.ble is None:
            continue
        shoppers.append(
            AppShopper(
                store_id=job.store_id,
                beacon_id=person.ble.beacon_id,
                visit_start_ts_s=person.track.start_s,
            )
        )
    return shoppers


def _simulated_store(job: AgentJob) -> Any:
    from hardware.simulator import PopulationConfig, SimConfig, SimulatedStore

    population = PopulationConfig(
        shoppers_per_hour=job.shoppers_per_hour, ble_app_share=job.ble_app_share
    )
    config = SimConfig(duration_s=job.duration_s, start_ts_s=job.start_ts_s, population=population)
    return SimulatedStore(config=config, seed=job.seed)


def agent_process_main(job: AgentJob, results: Any) -> None:
    """Entry of one agent process: simulate the store through the real agent, report counts."""
    from edge_agent.bootstrap import build_agent
    from edge_agent.config import AgentSettings, MqttSettings, OutboxSettings
    from edge_agent.sources.store_sim import StoreSimSource
    from hardware.simulator import default_store

    try:
        settings = AgentSettings(
            store_id=job.store_id,
            agent_id=job.agent_id,
            site_secret=job.site_secret,
            mqtt=MqttSettings(host=job.mqtt_host, port=job.mqtt_port),
            outbox=OutboxSettings(path=Path(job.outbox_path)),
            sensor_zones=default_store().sensor_zones(),
        )
        source = StoreSimSource(_simulated_store(job), job.site_secret, speed=job.speed)
        agent = build_agent(settings)

        async def main() -> Any:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            watch = asyncio.create_task(_stop_when_orphaned(stop, job.demo_pid))
            try:
                return await agent.run([source], stop, exit_when_done=True, drain_timeout_s=60)
            finally:
                watch.cancel()

        result = asyncio.run(main())
        results.put({"store_id": job.store_id, "error": None, **asdict(result)})
    except Exception as exc:  # reported to the parent, which stops the demo
        _LOGGER.exception("agent %s failed", job.store_id)
        results.put({"store_id": job.store_id, "error": f"{type(exc).__name__}: {exc}"})


async def _stop_when_orphaned(
    stop: asyncio.Event, demo_pid: int | None, every_s: float = 1.0
) -> None:
    """Set ``stop`` once the demo that started this agent is gone (killed with SIGKILL, or
    crashed): its agents must not go on simulating on their own. ``demo_pid`` is passed
    in, not read at start: the demo may already be gone when a slow start gets here."""
    if demo_pid is None:
        return
    while not stop.is_set():
        if os.getppid() != demo_pid:
            _LOGGER.warning("demo process gone; agent stopping")
            stop.set()
        await asyncio.sleep(every_s)


def format_summary(summary: dict[str, Any]) -> str:
    """The human summary: footfall, campaign, measured lift next to the true one."""
    lines = [
        "",
        "Footfall demo",
        f"  dashboard  {summary['dashboard_url']}",
        f"  API key    {summary['api_key']}   (admin; shown once)",
        f"  work dir   {summary['workdir']}",
        "",
        f"Simulated {summary['simulated_hours_per_store']:.1f} opening hours in each store;"
        f" {summary['events_stored']} presence events stored.",
    ]
    for store_id, counts in summary["footfall"].items():
        visitors = counts.get("visitor", 0) + counts.get("engaged", 0)
        lines.append(
            f"  {store_id}: {visitors} visits ({counts.get('engaged', 0)} engaged), "
            f"{counts.get('passer_by', 0)} passers-by"
        )
    camp = summary["campaign"]
    lines += [
        "",
        f"Campaign {camp['id']}: {camp['people_exposed']} people exposed, "
        f"{camp['people_control']} in the randomized holdout.",
    ]
    lift = _lift_numbers(summary["lift"])
    if lift is None:
        lines.append("  lift: not enough data for a report (see the dashboard)")
    else:
        lines += [
            f"  visit rate exposed {lift['rate_exposed']:.2%}  control {lift['rate_control']:.2%}",
            f"  relative lift {lift['lift']:+.1%}  95% CI [{lift['ci_low']:+.1%}, "
            f"{lift['ci_high']:+.1%}]  p = {lift['p_value']:.3g}",
            f"  incremental visitors {lift['incremental']:.1f}",
            f"  measured visitors exposed {lift['visitors_exposed']:.0f}, control "
            f"{lift['visitors_control']:.0f}; simulated {camp['true_visitors_exposed']}, "
            f"{camp['true_visitors_control']} (realised lift {_realised(camp):+.1%})",
            f"  true lift (simulated) {camp['true_relative_lift']:+.1%}  -> "
            + (
                "inside the CI"
                if lift["ci_low"] <= camp["true_relative_lift"] <= lift["ci_high"]
                else "outside the CI"
            ),
        ]
    return "\n".join(lines)


def _realised(campaign: dict[str, Any]) -> float:
    """The lift the simulated audience actually realised (sampling noise around the truth)."""
    exposed = campaign["true_visitors_exposed"] / max(campaign["people_exposed"], 1)
    control = campaign["true_visitors_control"] / max(campaign["people_control"], 1)
    return exposed / control - 1 if control else float("nan")


def _lift_numbers(report: dict[str, Any]) -> dict[str, float] | None:
    """Pull the headline numbers out of the lift report (None when it has none)."""
    arms = {r["arm"]: r for r in report.get("sections", {}).get("arms") or []}
    rows = report.get("sections", {}).get("lift") or []
    value = {r["metric"]: r["value"] for r in rows if r.get("level") is None}
    ci95 = next(
        (r for r in rows if r["metric"] == "relative_lift" and r.get("level") == 0.95), None
    )
    try:
        return {
            "rate_exposed": float(value["exposed_rate"]),
            "rate_control": float(value["control_rate"]),
            "lift": float(value["relative_lift"]),
            "ci_low": float(ci95["lower"]) if ci95 else float("nan"),
            "ci_high": float(ci95["upper"]) if ci95 else float("nan"),
            "p_value": float(value["p_value"]),
            "incremental": float(value["incremental_visitors"]),
            "visitors_exposed": float(arms["exposed"]["visitors"]),
            "visitors_control": float(arms["control"]["visitors"]),
        }
    except (KeyError, TypeError):
        return None


def _opening_time_yesterday() -> float:
    """09:00 UTC yesterday: the simulated day ends before now, as a real report would see it."""
    today = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    return (today - timedelta(days=1)).timestamp()


def _redact(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url
