"""services/monitor.py stands in for Faust's monitor on every message: the app must use it, it must
keep what the lag is worked out from, and the hooks it replaces must still be the ones Faust calls
(a Faust upgrade that changes them fails here)."""

from __future__ import annotations

import inspect
from time import monotonic
from types import SimpleNamespace

import pytest
from faust.sensors import Monitor
from faust.sensors.base import Sensor
from faust.types import TP

from services.monitor import LagMonitor
from services.settings import Settings

OVERRIDDEN = (
    "on_message_in",
    "on_stream_event_in",
    "on_stream_event_out",
    "on_message_out",
    "on_table_get",
    "on_table_set",
)


def test_the_app_monitors_with_it() -> None:
    from services.app import create_app

    assert isinstance(create_app(Settings(app_id="monitor-test")).monitor, LagMonitor)


def test_it_keeps_each_partitions_offsets_and_when_its_stream_took_an_event_and_nothing_else() -> None:
    """The offsets give the lag; the time is what Faust's stall check (`verify_event_path`) reads,
    without which every partition a worker is behind on is logged as a stream that never started."""
    monitor, events, ticks = LagMonitor(), TP("complaints.events", 2), TP("complaints.sla-ticks", 2)
    started = monotonic()
    message, stream, event = SimpleNamespace(time_in=None), SimpleNamespace(task_owner=object()), object()
    for offset in (7, 8):
        monitor.on_message_in(events, offset, message)  # type: ignore[arg-type]
        state = monitor.on_stream_event_in(events, offset, stream, event)  # type: ignore[arg-type]
        monitor.on_stream_event_out(events, offset, stream, event, state)  # type: ignore[arg-type]
        monitor.on_message_out(events, offset, message)  # type: ignore[arg-type]
    monitor.on_message_in(ticks, 0, message)  # type: ignore[arg-type]
    monitor.track_tp_end_offset(events, 12)
    assert monitor.tp_read_offsets == {events: 8, ticks: 0}
    assert monitor.tp_end_offsets == {events: 12}
    assert (
        set(monitor.stream_inbound_time) == {events} and started <= monitor.stream_inbound_time[events] <= monotonic()
    )
    assert (monitor.messages_received_total, monitor.events_total, len(monitor.events_runtime)) == (0, 0, 0)
    assert message.time_in is None


@pytest.mark.parametrize("hook", OVERRIDDEN)
def test_the_hooks_it_replaces_keep_their_names_and_parameters(hook: str) -> None:
    """Faust calls these through its sensor delegate on every message (or table read and write):
    the same parameters as Faust's own monitor and the sensor base class, or an upgrade changed them."""
    ours = list(inspect.signature(getattr(LagMonitor, hook)).parameters)
    assert ours == list(inspect.signature(getattr(Monitor, hook)).parameters)
    assert ours == list(inspect.signature(getattr(Sensor, hook)).parameters)
