"""The agent against a real private Mosquitto: outages, SIGKILL, refused credentials.

Each test runs the real ``footfall agent run`` process on the synthetic store and
a real subscriber with a persistent session, then checks the contract: every
event the agent persisted arrives, first arrivals in seq order, duplicates only
as re-sent identical events.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.mosquitto import Mosquitto, free_port, wait_for_port

pytestmark = [pytest.mark.mosquitto]

SECRET = "it-k2j3h4g5f6d7s8a9q0w1e2r3"
STORE = "teststore"


def write_config(
    path: Path,
    *,
    agent_id: str,
    port: int,
    outbox: Path,
    username: str | None = None,
    password: str | None = None,
) -> Path:
    lines = [
        f'store_id = "{STORE}"',
        f'agent_id = "{agent_id}"',
        f'site_secret = "{SECRET}"',
        "[mqtt]",
        'host = "127.0.0.1"',
        f"port = {port}",
        "backoff_base_s = 1.5",
        "backoff_cap_s = 1.0",
        "ack_timeout_s = 5.0",
    ]
    if username is not None:
        lines.append(f'username = "{username}"')
    if password is not None:
        lines.append(f'password = "{password}"')
    lines += [
        "[[zones]]",
        'name = "door"',
        "min_rssi_dbm = -60",
        "[[zones]]",
        'name = "floor"',
        "min_rssi_dbm = -85",
        "[outbox]",
        f'path = "{outbox}"',
        "[status]",
        "interval_s = 1.0",
        "occupancy_interval_s = 1.0",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def agent_cmd(config: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from footfall.cli import main; main()",
        "--log-level",
        "INFO",
        "agent",
        "run",
        "--config",
        str(config),
        *args,
    ]


@dataclass
class Subscriber:
    """A persistent-session QoS 1 subscriber that survives broker restarts."""

    port: int
    topic: str
    username: str | None = None
    password: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"test-sub-{uuid.uuid4().hex[:8]}",
            clean_session=False,
        )
        if self.username:
            self.client.username_pw_set(self.username, self.password)
        self.client.reconnect_delay_set(1, 1)
        subscribed = threading.Event()

        def on_connect(c: paho.Client, *_: object) -> None:
            c.subscribe([(f"{self.topic}/events", 1), (f"{self.topic}/status", 1)])

        def on_subscribe(*_: object) -> None:
            subscribed.set()

        def on_message(c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
            doc = json.loads(msg.payload)
            with self.lock:
                if msg.topic.endswith("/events"):
                    self.messages.append(doc)
                else:
                    self.statuses.append(doc)

        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_message
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        assert subscribed.wait(10), "subscriber never subscribed"

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [e for m in self.messages for e in m["events"]]


@pytest.fixture
def agent_id() -> str:
    return f"a{uuid.uuid4().hex[:10]}"


@pytest.fixture
def subscriber_factory() -> Iterator[list[Subscriber]]:
    subs: list[Subscriber] = []
    yield subs
    for sub in subs:
        sub.stop()


def persisted_last_seq(outbox: Path) -> int:
    with sqlite3.connect(outbox) as db:
        return int(db.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()[0]) - 1


def wait_until(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def check_delivery(events: list[dict[str, Any]], last_seq: int, agent_id: str) -> int:
    """All seqs 1..last_seq arrived, first arrivals in order, duplicates identical; returns dups."""
    first: dict[str, dict[str, Any]] = {}
    order: list[int] = []
    dups = 0
    for event in events:
        if event["event_id"] in first:
            assert first[event["event_id"]] == event, "a re-sent event differs from the original"
            dups += 1
            continue
        first[event["event_id"]] = event
        order.append(event["seq"])
        assert event["event_id"] == f"{agent_id}:{event['seq']:012d}"
    assert order == sorted(order), "first arrivals are out of seq order"
    missing = set(range(1, last_seq + 1)) - set(order)
    assert not missing, f"{len(missing)} events never arrived, e.g. {sorted(missing)[:5]}"
    assert max(order) == last_seq
    return dups


def test_outage_and_sigkill_lose_nothing_and_keep_order(
    own_mosquitto: Mosquitto, tmp_path: Path, agent_id: str, subscriber_factory: list[Subscriber]
) -> None:
    """Broker stopped, agent SIGKILLed during the outage, both restarted: every event arrives."""
    outbox = tmp_path / "outbox.sqlite"
    config = write_config(
        tmp_path / "agent.toml", agent_id=agent_id, port=own_mosquitto.port, outbox=outbox
    )
    sub = Subscriber(own_mosquitto.port, f"footfall/v1/{STORE}/{agent_id}")
    sub.start()
    subscriber_factory.append(sub)
    log1 = (tmp_path / "agent1.log").open("wb")
    first = subprocess.Popen(
        agent_cmd(
            config,
            "--simulate",
            "--sim",
            "synthetic",
            "--speed",
            "40",
            "--arrivals-per-s",
            "1",
            "--duration-s",
            "7200",
            "--seed",
            "11",
        ),
        stdout=subprocess.DEVNULL,
        stderr=log1,
    )
    try:
        wait_until(lambda: len(sub.events()) > 100, 60, "the first events")
        own_mosquitto.stop()
        arrived_before_outage = len(sub.events())
        before_kill = persisted_last_seq(outbox)
        wait_until(
            lambda: persisted_last_seq(outbox) > before_kill + 100,
            60,
            "events generated during the outage",
        )
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
        log1.close()
    killed_at_seq = persisted_last_seq(outbox)
    assert killed_at_seq > arrived_before_outage
    own_mosquitto.start()
    second = subprocess.run(
        agent_cmd(
            config,
            "--simulate",
            "--sim",
            "synthetic",
            "--speed",
            "0",
            "--duration-s",
            "300",
            "--seed",
            "12",
            "--json",
        ),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert second.returncode == 0, second.stderr.decode()[-2000:]
    summary = json.loads(second.stdout.decode().strip().splitlines()[-1])
    assert summary["outbox_depth"] == 0
    last_seq = persisted_last_seq(outbox)
    assert summary["first_seq"] == killed_at_seq + 1
    assert summary["last_seq"] == last_seq
    wait_until(
        lambda: {e["seq"] for e in sub.events()} >= set(range(1, last_seq + 1)),
        30,
        "every event at the subscriber",
    )
    check_delivery(sub.events(), last_seq, agent_id)
    # A clean exit leaves a retained offline status (not the will: the agent said goodbye).
    wait_until(lambda: sub.statuses and sub.statuses[-1]["state"] == "offline", 10, "offline")


def test_refused_credentials_keep_events_until_the_right_ones(
    tmp_path: Path, agent_id: str, subscriber_factory: list[Subscriber]
) -> None:
    """A broker refusing the password gets a clear error and loses nothing; fixed, all arrive."""
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "agent", "right-pw"], check=True)
    subprocess.run(["mosquitto_passwd", "-b", str(passwd), "reader", "reader-pw"], check=True)
    broker = Mosquitto(
        tmp_path / "broker", extra_conf=[f"password_file {passwd}", "allow_anonymous false"]
    )
    broker.start()
    try:
        sub = Subscriber(broker.port, f"footfall/v1/{STORE}/{agent_id}", "reader", "reader-pw")
        sub.start()
        subscriber_factory.append(sub)
        outbox = tmp_path / "outbox.sqlite"
        config = write_config(
            tmp_path / "agent.toml",
            agent_id=agent_id,
            port=broker.port,
            outbox=outbox,
            username="agent",
            password="wrong-pw",
        )
        refused = subprocess.run(
            agent_cmd(
                config,
                "--simulate",
                "--sim",
                "synthetic",
                "--speed",
                "0",
                "--duration-s",
                "300",
                "--seed",
                "5",
                "--drain-timeout-s",
                "3",
                "--json",
            ),
            capture_output=True,
            timeout=60,
            check=False,
        )
        stderr = refused.stderr.decode()
        assert refused.returncode == 0, stderr[-2000:]
        assert "refused the credentials" in stderr
        assert "wrong-pw" not in stderr
        summary = json.loads(refused.stdout.decode().strip().splitlines()[-1])
        assert summary["last_seq"] > 0
        assert summary["outbox_depth"] == summary["last_seq"], "events were lost or sent"
        assert sub.events() == []
        env = {**os.environ, "FOOTFALL_AGENT_MQTT__PASSWORD": "right-pw"}
        fixed = subprocess.run(
            agent_cmd(
                config,
                "--simulate",
                "--sim",
                "synthetic",
                "--speed",
                "0",
                "--duration-s",
                "120",
                "--seed",
                "6",
                "--json",
            ),
            capture_output=True,
            timeout=60,
            check=False,
            env=env,
        )
        assert fixed.returncode == 0, fixed.stderr.decode()[-2000:]
        assert json.loads(fixed.stdout.decode().strip().splitlines()[-1])["outbox_depth"] == 0
        last_seq = persisted_last_seq(outbox)
        wait_until(
            lambda: len({e["seq"] for e in sub.events()}) >= last_seq,
            30,
            "every event at the subscriber",
        )
        check_delivery(sub.events(), last_seq, agent_id)
    finally:
        broker.stop()


def test_status_online_counters_config_and_last_will(
    own_mosquitto: Mosquitto, tmp_path: Path, agent_id: str, subscriber_factory: list[Subscriber]
) -> None:
    """Status has counters and config outcomes; a SIGKILLed agent is left offline by its will."""
    outbox = tmp_path / "outbox.sqlite"
    config = write_config(
        tmp_path / "agent.toml", agent_id=agent_id, port=own_mosquitto.port, outbox=outbox
    )
    root = f"footfall/v1/{STORE}/{agent_id}"
    sub = Subscriber(own_mosquitto.port, root)
    sub.start()
    subscriber_factory.append(sub)
    log = (tmp_path / "agent.log").open("wb")
    proc = subprocess.Popen(
        agent_cmd(
            config,
            "--simulate",
            "--sim",
            "synthetic",
            "--speed",
            "20",
            "--duration-s",
            "7200",
            "--keep-running",
        ),
        stdout=subprocess.DEVNULL,
        stderr=log,
    )

    def last_status() -> dict[str, Any]:
        with sub.lock:
            return sub.statuses[-1] if sub.statuses else {}

    def publish_config(doc: dict[str, Any] | str) -> None:
        payload = doc if isinstance(doc, str) else json.dumps(doc)
        pub = paho.Client(CallbackAPIVersion.VERSION2)
        pub.connect("127.0.0.1", own_mosquitto.port)
        pub.loop_start()
        pub.publish(f"{root}/config", payload, qos=1, retain=True).wait_for_publish(5)
        pub.loop_stop()
        pub.disconnect()

    try:
        wait_until(
            lambda: last_status().get("counters", {}).get("tracked_devices", 0) > 0,
            30,
            "an online status with counters",
        )
        status = last_status()
        assert status["state"] == "online"
        assert status["schema"] == 1
        counters = status["counters"]
        for name in ("adverts_per_s", "probes_per_s", "outbox_depth", "outbox_age_s", "drops"):
            assert name in counters
        publish_config({"schema": 1, "version": "v2", "zones": [{"name": "x", "min_rssi_dbm": 0}]})
        wait_until(
            lambda: last_status().get("config", {}).get("version") == "v2",
            15,
            "config v2 on status",
        )
        assert last_status()["config"]["state"] == "applied"
        publish_config({"schema": 1, "version": "v3", "zones": [{"name": "x", "min_rssi_dbm": 9}]})
        wait_until(
            lambda: last_status().get("config", {}).get("version") == "v3",
            15,
            "config v3 on status",
        )
        rejected = last_status()["config"]
        assert rejected["state"] == "rejected"
        assert "min_rssi_dbm" in rejected["reason"]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        wait_until(lambda: last_status().get("state") == "offline", 15, "the last will")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()


def make_tls_files(d: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1 (openssl CLI)."""
    d.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt = d / "ca.key", d / "ca.crt"
    key, csr, crt = d / "server.key", d / "server.csr", d / "server.crt"
    ext = d / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run = [
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=footfall-test-ca",
            "-keyout",
            str(ca_key),
            "-out",
            str(ca_crt),
        ],
        [
            "openssl",
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(csr),
        ],
        [
            "openssl",
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(ca_crt),
            "-CAkey",
            str(ca_key),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            str(ext),
            "-out",
            str(crt),
        ],
    ]
    for cmd in run:
        subprocess.run(cmd, check=True, capture_output=True)
    return ca_crt, crt, key


def test_tls_broker_verified_with_the_configured_ca(
    tmp_path: Path, agent_id: str, subscriber_factory: list[Subscriber]
) -> None:
    """Over TLS, verified against the configured CA, every event arrives; a wrong CA is refused."""
    ca, crt, key = make_tls_files(tmp_path)
    broker = Mosquitto(tmp_path / "broker")
    plain_port = broker.port
    tls_port = free_port()
    broker.extra_conf = [
        f"listener {tls_port} 127.0.0.1",
        f"cafile {ca}",
        f"certfile {crt}",
        f"keyfile {key}",
    ]
    broker.start()
    wait_for_port(tls_port, up=True)
    try:
        sub = Subscriber(plain_port, f"footfall/v1/{STORE}/{agent_id}")
        sub.start()
        subscriber_factory.append(sub)
        outbox = tmp_path / "outbox.sqlite"
        config = write_config(
            tmp_path / "agent.toml", agent_id=agent_id, port=tls_port, outbox=outbox
        )
        text = config.read_text().replace("[mqtt]\n", f'[mqtt]\ntls = true\nca = "{ca}"\n')
        config.write_text(text)
        args = ["--simulate", "--sim", "synthetic", "--speed", "0", "--duration-s", "120", "--json"]
        ok = subprocess.run(agent_cmd(config, *args), capture_output=True, timeout=60, check=False)
        assert ok.returncode == 0, ok.stderr.decode()[-2000:]
        assert json.loads(ok.stdout.decode().strip().splitlines()[-1])["outbox_depth"] == 0
        last_seq = persisted_last_seq(outbox)
        wait_until(lambda: len({e["seq"] for e in sub.events()}) >= last_seq, 30, "events")
        check_delivery(sub.events(), last_seq, agent_id)
        # The same broker with a CA that did not sign it: nothing is sent, everything kept.
        other_ca, _, _ = make_tls_files(tmp_path / "other")
        config.write_text(text.replace(f'ca = "{ca}"', f'ca = "{other_ca}"'))
        bad = subprocess.run(
            agent_cmd(config, *args[:-1], "--seed", "9", "--drain-timeout-s", "2", "--json"),
            capture_output=True,
            timeout=60,
            check=False,
        )
        summary = json.loads(bad.stdout.decode().strip().splitlines()[-1])
        assert summary["outbox_depth"] == summary["last_seq"] - last_seq > 0
        assert "failed TLS verification" in bad.stderr.decode()
    finally:
        broker.stop()


def test_sigterm_flushes_and_says_offline(
    own_mosquitto: Mosquitto, tmp_path: Path, agent_id: str, subscriber_factory: list[Subscriber]
) -> None:
    """SIGTERM stops the agent within seconds: exit 0, events delivered, retained offline status."""
    outbox = tmp_path / "outbox.sqlite"
    config = write_config(
        tmp_path / "agent.toml", agent_id=agent_id, port=own_mosquitto.port, outbox=outbox
    )
    sub = Subscriber(own_mosquitto.port, f"footfall/v1/{STORE}/{agent_id}")
    sub.start()
    subscriber_factory.append(sub)
    proc = subprocess.Popen(
        agent_cmd(
            config,
            "--simulate",
            "--sim",
            "synthetic",
            "--speed",
            "30",
            "--keep-running",
            "--duration-s",
            "7200",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: len(sub.events()) > 20, 60, "some events")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err.decode()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    wait_until(lambda: sub.statuses and sub.statuses[-1]["state"] == "offline", 10, "offline")
    last_seq = persisted_last_seq(outbox)
    with sqlite3.connect(outbox) as db:
        kept = {int(r[0]) for r in db.execute("SELECT seq FROM events")}
    # Whatever was not acknowledged before the exit is still in the outbox for the next start.
    wanted = set(range(1, last_seq + 1)) - kept
    wait_until(lambda: {e["seq"] for e in sub.events()} >= wanted, 20, "all sent events")
    assert {e["seq"] for e in sub.events()} | kept == set(range(1, last_seq + 1))
