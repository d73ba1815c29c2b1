"""A private Mosquitto broker on its own loopback port, which a test can stop, kill and restart."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, *, up: bool, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} did not come {'up' if up else 'down'} in {timeout_s} s")


@dataclass
class Mosquitto:
    """One private ``mosquitto`` process; config written under ``workdir``.

    ``extra_conf`` lines are appended (password_file, acl_file, ...). Persistence is
    on, so a restarted broker keeps retained messages and persistent sessions.
    """

    workdir: Path
    port: int = field(default_factory=free_port)
    extra_conf: list[str] = field(default_factory=list)
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def conf_path(self) -> Path:
        return self.workdir / "mosquitto.conf"

    def write_conf(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence true",
            f"persistence_location {self.workdir}/",
            "log_dest stderr",
            "log_type error",
            "max_queued_messages 0",
            "max_inflight_messages 0",
        ]
        if os.geteuid() == 0:
            # As root, mosquitto drops to the 'mosquitto' user, which cannot read our temp dirs.
            lines.append("user root")
        if not any(
            line.startswith(("password_file", "allow_anonymous")) for line in self.extra_conf
        ):
            lines.append("allow_anonymous true")
        self.conf_path.write_text("\n".join([*lines, *self.extra_conf]) + "\n")

    def start(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.write_conf()
        with (self.workdir / "mosquitto.log").open("ab") as log:
            self._proc = subprocess.Popen(
                [binary, "-c", str(self.conf_path)], stdout=subprocess.DEVNULL, stderr=log
            )
        wait_for_port(self.port, up=True)

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), so the broker saves its persistence file."""
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)
            self._proc = None
            wait_for_port(self.port, up=False)

    def kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=10)
            self._proc = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None


def mosquitto_available() -> bool:
    return shutil.which("mosquitto") is not None or Path("/usr/sbin/mosquitto").exists()
