"""The read model's follower lets the broker gather records (fewer, fuller fetches under steady
traffic, COMPLAINTFLOW_READ_MODEL_FETCH_MAX_WAIT_MS); the history reader, which answers a request,
takes what is there."""

from __future__ import annotations

from services.feed import FOLLOW_FETCH_MIN_BYTES, ReadModelFeed
from services.settings import Settings


async def test_the_follower_gathers_for_the_configured_wait_and_the_history_reader_does_not() -> None:
    feed = ReadModelFeed(Settings(read_model_fetch_max_wait_ms=250))
    follower, reader = feed._new_consumer(gathering=True), feed._new_consumer()
    try:
        assert (follower._fetch_min_bytes, follower._fetch_max_wait_ms) == (FOLLOW_FETCH_MIN_BYTES, 250)
        assert reader._fetch_min_bytes == 1, "a history request is answered with what the broker has"
    finally:
        for consumer in (follower, reader):
            consumer._closed = True  # never started: nothing to stop
