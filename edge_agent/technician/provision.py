"""Files ``footfall provision agent`` writes: the agent's TOML and its secrets file (pure).

The TOML follows ``hardware/deploy/agent.example.toml`` (the format
``edge_agent.config.load_settings`` reads); secrets never go into it but into
``<agent>.env`` (mode 0600, ``FOOTFALL_AGENT_*`` variables read by the systemd
unit's ``EnvironmentFile=``).
"""

from __future__ import annotations

import json

from edge_agent.provisioning import AgentCredentials

__all__ = ["agent_env", "agent_toml"]


def _q(value: str) -> str:
    """A TOML basic string (JSON's escaping is a subset TOML accepts)."""
    return json.dumps(value)


def agent_toml(
    creds: AgentCredentials, *, broker_host: str, broker_port: int, tls: bool, zone: str
) -> str:
    """An agent config for ``creds`` with BLE and Wi-Fi on and one proximity zone."""
    if not 1 <= broker_port <= 65535:
        raise ValueError(f"'broker_port' must be in [1, 65535] (got {broker_port})")
    if not broker_host.strip():
        raise ValueError("'broker_host' must not be empty")
    return f"""\
# Footfall edge agent {creds.agent_id} of store {creds.store_id}
# (written by `footfall provision agent`; see hardware/deploy/agent.example.toml for every key).
# Secrets are in {creds.agent_id}.env: FOOTFALL_AGENT_MQTT__PASSWORD, FOOTFALL_AGENT_SITE_SECRET.
# Check with: footfall agent check-config --config {creds.agent_id}.toml

store_id = {_q(creds.store_id)}
agent_id = {_q(creds.agent_id)}
tracker = "kalman"

[infrastructure_beacons]        # the store's own beacons: beacon id -> name shown in clear

[sensor_zones]                  # kalman tracker: sensor id -> zone
{_q(creds.agent_id)} = {_q(zone)}

[[zones]]
name = {_q(zone)}
min_rssi_dbm = -88

[mqtt]
host = {_q(broker_host)}
port = {broker_port}
tls = {"true" if tls else "false"}
username = {_q(creds.username)}

[sources.ble]
enabled = true
adapter = "hci0"
passive = true

[sources.wifi]
enabled = true
iface = "wlan1mon"
channels = [1, 6, 11]

[outbox]
path = "/var/lib/footfall/outbox.sqlite"
"""


def agent_env(creds: AgentCredentials, site_secret: str | None) -> str:
    """The secrets file; without a site secret a comment says where to put the store's."""
    lines = [
        f"# secrets of footfall agent {creds.agent_id} (store {creds.store_id}); keep mode 0600",
        f"FOOTFALL_AGENT_MQTT__PASSWORD={creds.password}",
    ]
    if site_secret is None:
        lines.append(
            "# FOOTFALL_AGENT_SITE_SECRET=<the store's site secret: the same on every agent "
            "of the store, so device keys match>"
        )
    else:
        lines.append(f"FOOTFALL_AGENT_SITE_SECRET={site_secret}")
    return "\n".join(lines) + "\n"
