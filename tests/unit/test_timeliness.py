"""An event may not claim to have happened after it was published (beyond the allowed clock skew)."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone, tzinfo

import orjson
import pytest

from events.codec import decode_event
from events.errors import FromTheFuture
from projections.case import accept_event
from services.rules import load_rulebook
from services.settings import Settings
from tests.wire import T0, received

RULES = load_rulebook(Settings(max_clock_skew_seconds=300))


@pytest.mark.parametrize("ahead", [timedelta(0), timedelta(minutes=5), -timedelta(days=3)])
def test_an_event_within_the_skew_of_its_publication_is_accepted(ahead: timedelta) -> None:
    event = decode_event(orjson.dumps(received("C-1", at=T0 + ahead)))

    case = accept_event(None, event, RULES, published_at=T0)

    assert case.complaint.received_at == T0 + ahead


def test_an_event_later_than_its_publication_plus_the_skew_is_from_the_future() -> None:
    event = decode_event(orjson.dumps(received("C-1", at=T0 + timedelta(minutes=5, seconds=1))))

    with pytest.raises(FromTheFuture) as raised:
        accept_event(None, event, RULES, published_at=T0)

    assert raised.value.code == "from_the_future"
    assert (raised.value.complaint_id, raised.value.event_id) == ("C-1", event.event_id)
    assert "clock" in str(raised.value)


@pytest.mark.parametrize("logged_in", [UTC, timezone(timedelta(hours=-5))])
def test_the_skew_is_judged_between_instants_whatever_offset_the_log_time_has(logged_in: tzinfo) -> None:
    """The log gives UTC, the channels +08:00: the limit is the same instant in any offset."""
    published = T0.astimezone(logged_in)
    on_the_limit = decode_event(orjson.dumps(received("C-1", at=T0 + timedelta(minutes=5))))
    beyond = decode_event(orjson.dumps(received("C-2", at=T0 + timedelta(minutes=5, microseconds=1))))

    assert accept_event(None, on_the_limit, RULES, published_at=published).complaint.complaint_id == "C-1"
    with pytest.raises(FromTheFuture) as raised:
        accept_event(None, beyond, RULES, published_at=published)
    assert f"published ({published.isoformat()})" in str(raised.value)


def test_without_a_publication_time_nothing_is_judged_late() -> None:
    event = decode_event(orjson.dumps(received("C-1", at=T0 + timedelta(days=365))))

    assert accept_event(None, event, RULES).complaint.received_at == T0 + timedelta(days=365)
