"""Start, poll and stop the local servers that the Kedro-Viz tests use.

Every server binds to 127.0.0.1. Subprocesses get proxy settings that point at a
loopback port where no process listens, so a request to any other host fails at once
instead of leaving the machine. Kedro-Viz 12.5 asks PyPI for its latest version
on `kedro viz run`, and that request is the one this stops.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

LOOPBACK = "127.0.0.1"

# Seconds between two polls of a starting server.
POLL_INTERVAL = 0.5

# Seconds a stopped server gets to exit after SIGTERM before it is killed.
STOP_TIMEOUT = 10

# Ports tried by free_port: registered ports, below the ephemeral range that
# Linux and macOS use for outgoing connections.
FIRST_PORT = 20000
LAST_PORT = 32000
PORT_ATTEMPTS = 100

# Characters of a server's output shown in a failure message.
LOG_TAIL = 4000

_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")
_NO_PROXY_VARIABLES = ("NO_PROXY", "no_proxy")
_ALL_PROXY_VARIABLES = ("ALL_PROXY", "all_proxy")

# Loopback requests made by the tests ignore any proxy in the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago.

    The port is below the ephemeral range, because `kedro viz run` 12.5 rejects
    ports above 49151.

    Raises:
        RuntimeError: If no port in the range can be bound.
    """
    candidates = list(range(FIRST_PORT, LAST_PORT + 1))
    random.shuffle(candidates)
    for port in candidates[:PORT_ATTEMPTS]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((LOOPBACK, port))
            except OSError:
                continue
            return port

    raise RuntimeError(
        f"No free TCP port found on {LOOPBACK} after {PORT_ATTEMPTS} attempts "
        f"between {FIRST_PORT} and {LAST_PORT}."
    )


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """Hold a port on 127.0.0.1 that is bound but not listening.

    Connections to it are refused at once, which makes it a proxy that fails
    every request sent through it.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sink:
        sink.bind((LOOPBACK, 0))
        yield sink.getsockname()[1]


def offline_environment(proxy_port: int, **extra: str) -> dict[str, str]:
    """Return ``os.environ`` with every proxy set to ``127.0.0.1:proxy_port``.

    Requests to 127.0.0.1 and localhost bypass the proxy, so Kedro-Viz can still
    poll its own server. ``COLUMNS`` is wide so that Rich writes each log record
    on one line, which keeps messages searchable in the captured output.
    """
    environment = {**os.environ, "COLUMNS": "1000", **extra}
    for name in _ALL_PROXY_VARIABLES:
        environment.pop(name, None)
    for name in _PROXY_VARIABLES:
        environment[name] = f"http://{LOOPBACK}:{proxy_port}"
    for name in _NO_PROXY_VARIABLES:
        environment[name] = f"{LOOPBACK},localhost"
    return environment


def start_server(
    command: list[str], cwd: Path, environment: dict[str, str], log: IO[bytes]
) -> subprocess.Popen:
    """Start ``command`` in its own process group, writing its output to ``log``.

    `kedro viz run` serves from a child process that it spawns. The group lets
    ``stop_server`` end both processes.
    """
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_server(process: subprocess.Popen) -> None:
    """Stop ``process`` and every process in its group: SIGTERM, then SIGKILL."""
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)

    # The group can outlive its leader, for example Kedro-Viz's server process.
    with contextlib.suppress(ProcessLookupError):
        _signal_group(process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen, signal_number: int) -> None:
    if hasattr(os, "killpg"):
        os.killpg(process.pid, signal_number)
    else:  # pragma: no cover - Windows has no process groups to signal
        process.send_signal(signal_number)


def read_log(path: Path) -> str:
    """Return the end of a server's captured output for a failure message."""
    return path.read_text(encoding="utf-8", errors="replace")[-LOG_TAIL:]


def wait_until_serving(
    url: str, process: subprocess.Popen, log_path: Path, timeout: float
) -> None:
    """Poll ``url`` until it returns status 200, ``process`` exits or ``timeout`` passes.

    Raises:
        AssertionError: If the server exits or does not return status 200
            within ``timeout`` seconds. The message contains the server's output.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"Server exited with code {process.returncode} before {url} "
                f"returned status 200. Output:\n{read_log(log_path)}"
            )
        try:
            with _OPENER.open(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(POLL_INTERVAL)

    raise AssertionError(
        f"Timed out after {timeout} s waiting for {url} to return status 200. Output:\n{read_log(log_path)}"
    )


def get_bytes(url: str) -> bytes:
    """Return the body of a GET request to a loopback ``url``."""
    with _OPENER.open(url, timeout=60) as response:
        return response.read()


def get_json(url: str) -> Any:
    """Return the decoded JSON body of a GET request to a loopback ``url``."""
    return json.loads(get_bytes(url))
