"""``footfall gateway keys ...`` and ``footfall gateway serve`` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.payloads import status_payload
from gateway.migrate import upgrade
from tests.support.mosquitto import Mosquitto, free_port, wait_for_port

FOOTFALL = [str(Path(sys.executable).with_name("footfall"))]


class _Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _run(*args: str, env: dict[str, str]) -> _Result:
    """The real command tree in-process (one import of the stack instead of one per call)."""
    from typer.testing import CliRunner

    from footfall.cli import build_app

    result = CliRunner().invoke(build_app(), list(args), env=env)
    return _Result(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def env(sqlite_url: str) -> dict[str, str]:
    upgrade(sqlite_url)
    return {**os.environ, "FOOTFALL_GATEWAY_DATABASE_URL": sqlite_url}


def test_keys_create_list_revoke(env: dict[str, str]) -> None:
    """A key is printed once, listed without the key, refused to a bad role, and revoked."""
    created = _run(
        "gateway", "keys", "create", "--role", "marketer", "--name", "ana", "--json", env=env
    )
    assert created.returncode == 0, created.stderr
    info = json.loads(created.stdout)
    assert info["key"].startswith("ff_")
    listed = _run("gateway", "keys", "list", "--json", env=env)
    assert info["key"] not in listed.stdout
    assert json.loads(listed.stdout)[0]["name"] == "ana"
    bad = _run("gateway", "keys", "create", "--role", "boss", "--name", "x", env=env)
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("error: 'role' must be one of")
    dup = _run("gateway", "keys", "create", "--role", "admin", "--name", "ana", env=env)
    assert dup.returncode == 2
    assert "already used" in dup.stderr
    revoked = _run("gateway", "keys", "revoke", "ana", "--json", env=env)
    assert json.loads(revoked.stdout)["revoked"] is True
    missing = _run("gateway", "keys", "revoke", "nobody", env=env)
    assert missing.returncode == 2


def test_serve_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    """Serving an empty database stops with one line that says to migrate."""
    env = {**os.environ, "FOOTFALL_GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'e.db'}"}
    r = _run("gateway", "serve", "--no-ingest", "--port", str(free_port()), env=env)
    assert r.returncode == 2
    assert "footfall gateway migrate" in r.stderr


@pytest.mark.mosquitto
def test_serve_runs_the_api_and_the_ingest_in_one_process(
    env: dict[str, str], mosquitto: Mosquitto
) -> None:
    """An agent's status published to the broker shows up in /api/v1/agents of 'serve'."""
    key = json.loads(
        _run(
            "gateway", "keys", "create", "--role", "technician", "--name", "t", "--json", env=env
        ).stdout
    )["key"]
    port = free_port()
    proc = subprocess.Popen(
        [*FOOTFALL, "gateway", "serve", "--port", str(port), "--mqtt-port", str(mosquitto.port)],
        env={**env, "FOOTFALL_GATEWAY_MQTT_CLIENT_ID": f"gw-{port}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, up=True, timeout_s=20)
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"agent-{port}")
        client.connect("127.0.0.1", mosquitto.port)
        client.loop_start()
        payload = status_payload(
            online=True,
            version="9.9",
            now_s=time.time(),
            uptime_s=5.0,
            counters={"outbox_depth": 4},
        )
        topic = f"footfall/v1/cli-store/a{port}/status"
        client.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)
        client.loop_stop()
        client.disconnect()
        agents: list[dict[str, object]] = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            r = httpx.get(
                f"http://127.0.0.1:{port}/api/v1/agents?store_id=cli-store",
                headers={"X-API-Key": key},
            )
            agents = r.json()
            if agents:
                break
            time.sleep(0.2)
        assert agents, "the in-process ingest never stored the status"
        assert agents[0]["version"] == "9.9"
        assert agents[0]["outbox_depth"] == 4
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    # uvicorn re-raises the signal it caught once it has shut down (exit status 130)
    assert proc.returncode in (0, 130, -signal.SIGINT)
