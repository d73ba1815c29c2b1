"""Agent provisioning: credentials and the Mosquitto lines that confine an agent to its own topics.

Pure functions: the caller passes the random bytes in (``secrets.token_bytes``
in the CLI, fixed bytes in tests). The password-file line uses Mosquitto 2's
own format (``$7$``: PBKDF2-HMAC-SHA512, 101 iterations, 12-byte salt), so
``mosquitto -c`` accepts it without running ``mosquitto_passwd``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

# Mosquitto 2.0's mosquitto_passwd defaults: PBKDF2-SHA512 ($7$), 101 rounds, 12-byte salt.
MOSQUITTO_PBKDF2_ITERATIONS = 101
MOSQUITTO_SALT_BYTES = 12
TOPIC_ROOT = "footfall/v1"
# Store and agent ids become MQTT topic levels and file names: no wildcards, separators or spaces.
_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def validate_id(field: str, value: str) -> str:
    """Return ``value`` if it is a safe store/agent id, else raise naming the field."""
    if not _ID_PATTERN.fullmatch(value):
        raise ValueError(
            f"'{field}' must be 1-63 lower-case letters, digits, '-' or '_', "
            f"starting with a letter or digit (got {value!r})"
        )
    return value


def mosquitto_password_line(username: str, password: str, salt: bytes) -> str:
    """A ``password_file`` line for Mosquitto 2 (``username:$7$101$salt$hash``)."""
    if len(salt) != MOSQUITTO_SALT_BYTES:
        raise ValueError(f"'salt' must be {MOSQUITTO_SALT_BYTES} bytes (got {len(salt)})")
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, MOSQUITTO_PBKDF2_ITERATIONS)
    salt_b64 = base64.b64encode(salt).decode()
    hash_b64 = base64.b64encode(digest).decode()
    return f"{username}:$7${MOSQUITTO_PBKDF2_ITERATIONS}${salt_b64}${hash_b64}"


def agent_username(store_id: str, agent_id: str) -> str:
    return f"agent-{store_id}-{agent_id}"


def agent_acl_block(store_id: str, agent_id: str) -> str:
    """ACL lines: the agent writes only under its own topic and reads only its own config."""
    base = f"{TOPIC_ROOT}/{store_id}/{agent_id}"
    return "\n".join(
        [
            f"user {agent_username(store_id, agent_id)}",
            f"topic write {base}/events",
            f"topic write {base}/status",
            f"topic write {base}/occupancy",
            f"topic write {base}/rssi",
            f"topic read {base}/config",
            "",
        ]
    )


@dataclass(frozen=True, slots=True)
class AgentCredentials:
    """What ``footfall provision agent`` hands out: shown once, then only the hash is kept."""

    store_id: str
    agent_id: str
    username: str
    password: str
    password_line: str
    acl_block: str


def provision_agent(
    store_id: str, agent_id: str, *, password_bytes: bytes, salt: bytes
) -> AgentCredentials:
    """Credentials and broker lines for one agent, from caller-supplied random bytes."""
    validate_id("store_id", store_id)
    validate_id("agent_id", agent_id)
    if len(password_bytes) < 16:
        raise ValueError(f"'password_bytes' must be >= 16 bytes (got {len(password_bytes)})")
    password = base64.urlsafe_b64encode(password_bytes).decode().rstrip("=")
    username = agent_username(store_id, agent_id)
    return AgentCredentials(
        store_id=store_id,
        agent_id=agent_id,
        username=username,
        password=password,
        password_line=mosquitto_password_line(username, password, salt),
        acl_block=agent_acl_block(store_id, agent_id),
    )


def gateway_acl_block(username: str) -> str:
    """ACL lines for a gateway: reads every agent's topics, writes the retained config topics."""
    return "\n".join(
        [
            f"user {username}",
            f"topic read {TOPIC_ROOT}/#",
            f"topic write {TOPIC_ROOT}/+/+/config",
            "",
        ]
    )
