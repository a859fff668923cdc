"""How long the worker's consumer lets the broker hold a fetch that finds nothing new.

faust-streaming 0.15.3 builds its consumer with `fetch_max_wait_ms=1500`, hard-coded
(`AIOKafkaConsumerThread._create_worker_consumer`). On Apache Kafka that costs no latency: a held
fetch returns as soon as a record arrives. The embedded broker, Tansu, answers a fetch that found
nothing only when the wait expires (measured with a plain aiokafka consumer, 50 messages
produced 37 ms apart: p50 132 ms with a 500 ms wait, 24 ms with 100 ms, 4 ms with 10 ms), so a
worker that has caught up saw each new event up to 1.5 s late: most of the latency figure.

`install` wraps that method so the consumer takes COMPLAINTFLOW_CONSUMER_FETCH_MAX_WAIT_MS
instead; everything else Faust configures stays. It refuses any other Faust version, and
tests/unit/test_fetching.py fails when the wrapped method changes upstream.
"""

from __future__ import annotations

from typing import Any

import aiokafka
import faust
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from events.errors import ConfigurationError

PATCHED_FAUST_VERSION = "0.15.3"
PATCHED_AIOKAFKA_VERSION = "0.14.0"
_ORIGINAL_CREATE_WORKER_CONSUMER = AIOKafkaConsumerThread._create_worker_consumer


def install(fetch_max_wait_ms: int) -> None:
    """Make the worker's consumer wait at most `fetch_max_wait_ms` for new records per fetch."""
    if faust.__version__ != PATCHED_FAUST_VERSION or aiokafka.__version__ != PATCHED_AIOKAFKA_VERSION:
        raise ConfigurationError(
            f"services/fetching.py wraps faust-streaming {PATCHED_FAUST_VERSION} on aiokafka "
            f"{PATCHED_AIOKAFKA_VERSION}, found {faust.__version__} on {aiokafka.__version__}: re-check how "
            "Faust builds its consumer (fetch_max_wait_ms) before changing the pins"
        )

    def create_worker_consumer(self: AIOKafkaConsumerThread, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = _ORIGINAL_CREATE_WORKER_CONSUMER(self, transport)
        consumer._fetch_max_wait_ms = fetch_max_wait_ms  # read when the consumer starts its fetcher
        return consumer

    AIOKafkaConsumerThread._create_worker_consumer = create_worker_consumer  # type: ignore[method-assign]
