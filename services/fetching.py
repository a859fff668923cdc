"""How long the worker's consumer waits: for the broker to answer a fetch, and for Faust to take
what was fetched before fetching again.

faust-streaming 0.15.3 builds its consumer with `fetch_max_wait_ms=1500`, hard-coded
(`AIOKafkaConsumerThread._create_worker_consumer`). On Apache Kafka that costs no latency: a held
fetch returns as soon as a record arrives. The embedded broker, Tansu, answers a fetch that found
nothing only when the wait expires (measured with a plain aiokafka consumer, 50 messages
produced 37 ms apart: p50 132 ms with a 500 ms wait, 24 ms with 100 ms, 4 ms with 10 ms), so a
worker that has caught up saw each new event up to 1.5 s late: most of the latency figure.

aiokafka's fetcher (0.14.0) sends no new fetch to a broker while a partition it fetched from
there still holds records the application has not taken, for up to `prefetch_backoff`, 100 ms,
not configurable. Faust takes a fetched batch only once it has handed the previous one to the
agents, one message at a time between agent steps, so under steady traffic the fetcher often sits
out that whole wait: runs of events all 100-130 ms late, every 100 ms or so in a fresh worker's
first second, then now and then (`python -m benchmarks.live`, 500 events/s: the agent saw nothing
for 95 ms while events kept arriving). The worker's fetcher waits `PREFETCH_BACKOFF_SECONDS`
instead: p99 46 and 50 ms against 102 and 117 (one run each, quiet machine), the worker's CPU per
event unchanged within the runs' spread (10 ms fixed the tail too, but cost more fetches).

`install` wraps Faust's method so the consumer takes COMPLAINTFLOW_CONSUMER_FETCH_MAX_WAIT_MS and,
once started, that backoff; everything else Faust configures stays. It refuses any other Faust or
aiokafka version, and tests/unit/test_fetching.py fails when a wrapped method changes upstream.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import aiokafka
import faust
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from events.errors import ConfigurationError
from services.pins import FAUST_VERSION

PATCHED_AIOKAFKA_VERSION = "0.14.0"
_ORIGINAL_CREATE_WORKER_CONSUMER = AIOKafkaConsumerThread._create_worker_consumer
PREFETCH_BACKOFF_SECONDS = 0.03
"""How long the worker's fetcher waits for Faust to take a fetched batch before it fetches again."""


def install(fetch_max_wait_ms: int) -> None:
    """Make the worker's consumer wait at most `fetch_max_wait_ms` for new records per fetch, and its
    fetcher at most `PREFETCH_BACKOFF_SECONDS` for Faust to take what it fetched."""
    if faust.__version__ != FAUST_VERSION or aiokafka.__version__ != PATCHED_AIOKAFKA_VERSION:
        raise ConfigurationError(
            f"services/fetching.py wraps faust-streaming {FAUST_VERSION} on aiokafka "
            f"{PATCHED_AIOKAFKA_VERSION}, found {faust.__version__} on {aiokafka.__version__}: re-check how "
            "Faust builds its consumer (fetch_max_wait_ms) and how aiokafka's fetcher backs off (prefetch_backoff) "
            "before changing the pins"
        )

    def create_worker_consumer(self: AIOKafkaConsumerThread, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = _ORIGINAL_CREATE_WORKER_CONSUMER(self, transport)
        consumer._fetch_max_wait_ms = fetch_max_wait_ms  # read when the consumer starts its fetcher
        consumer.start = partial(_start_backing_off_briefly, consumer, consumer.start)  # type: ignore[method-assign]
        return consumer

    AIOKafkaConsumerThread._create_worker_consumer = create_worker_consumer  # type: ignore[method-assign]


async def _start_backing_off_briefly(consumer: aiokafka.AIOKafkaConsumer, start: Any) -> None:
    """Start the consumer; its fetcher (created by `start`) then waits `PREFETCH_BACKOFF_SECONDS`."""
    await start()
    fetcher = consumer._fetcher
    assert fetcher is not None  # `start` created it, or raised
    fetcher._prefetch_backoff = PREFETCH_BACKOFF_SECONDS
