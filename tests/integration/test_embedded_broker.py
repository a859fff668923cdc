"""The embedded broker runs in a session of its own (a Ctrl-C in the terminal does not reach it),
so a start that fails or is interrupted must stop it: otherwise it keeps the port, and the next
`make run` is refused with "port already in use"."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from services import broker as embedded
from services.broker import EmbeddedBroker, free_port, stop_process

pytestmark = pytest.mark.integration


def test_a_start_interrupted_before_the_broker_listens_leaves_no_broker_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[subprocess.Popen[bytes]] = []
    popen = subprocess.Popen

    def recorded(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        started.append(popen(*args, **kwargs))
        return started[-1]

    asked: list[int] = []

    def interrupted_while_waiting(port: int) -> bool:
        asked.append(port)
        if len(asked) > 1:  # the first asks whether the port is free; later ones wait for the broker
            raise KeyboardInterrupt  # the user's Ctrl-C while the broker is still starting
        return False

    monkeypatch.setattr(embedded.subprocess, "Popen", recorded)
    monkeypatch.setattr(embedded, "port_is_open", interrupted_while_waiting)
    broker = EmbeddedBroker(free_port())

    try:
        with pytest.raises(KeyboardInterrupt):
            broker.start()

        assert len(started) == 1 and started[0].poll() is not None, "the broker process was stopped"
        assert not broker.running
    finally:
        for process in started:  # should the test fail, it leaves no broker either
            stop_process(process, grace_seconds=5)
