"""The worker's consumer takes COMPLAINTFLOW_CONSUMER_FETCH_MAX_WAIT_MS (services/fetching.py), and
the Faust method it wraps still hard-codes the 1.5 s wait the wrapper exists for."""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from unittest import mock

import aiokafka
import faust
import pytest
from aiokafka.consumer.fetcher import Fetcher

from events.errors import ConfigurationError
from services import fetching
from tests.upstream import source_hash

# sha256 of inspect.getsource() of the wrapped method in faust-streaming 0.15.3. A Faust upgrade
# that changes it fails here: re-read it, keep or drop the wrapper, then record the new hash.
WRAPPED_SOURCE = "c2701bfc3e6f6cad95c2be36d6a255a86e2c57d18d36cc1082b5fb5c482d99d7"


def test_faust_still_hard_codes_the_fetch_wait_the_wrapper_replaces() -> None:
    source = inspect.getsource(fetching._ORIGINAL_CREATE_WORKER_CONSUMER)

    assert "fetch_max_wait_ms=1500" in source
    assert source_hash(fetching._ORIGINAL_CREATE_WORKER_CONSUMER) == WRAPPED_SOURCE


async def test_the_worker_consumer_waits_what_the_settings_say() -> None:
    import services.app as worker

    consumer = worker.app.consumer._thread._create_worker_consumer(worker.app.transport)  # type: ignore[attr-defined]
    try:
        assert consumer._fetch_max_wait_ms == worker.settings.consumer_fetch_max_wait_ms
        assert consumer._max_poll_records == worker.MAX_POLL_RECORDS
        assert consumer._group_id == worker.settings.app_id, "everything else is Faust's own configuration"
    finally:
        await consumer.stop()


def test_a_batch_taken_from_the_consumer_fits_in_the_agent_queue_above_the_pause() -> None:
    """What Faust hands over after pausing a partition's fetching must find room without waiting."""
    import services.app as worker

    queue = worker.complaint_inputs.queue  # the complaint agent's queue, as Faust builds it
    room_above_the_pause = queue.maxsize - queue.pressure_high_size

    assert queue.maxsize == worker.AGENT_QUEUE_SIZE
    assert 0 < worker.MAX_POLL_RECORDS <= room_above_the_pause / 3, "room for three partitions' batches"


@pytest.mark.parametrize("module", [faust, aiokafka])
def test_another_faust_or_aiokafka_version_is_refused_with_what_to_do(module: object) -> None:
    with mock.patch.object(module, "__version__", "0.99.0"), pytest.raises(ConfigurationError) as refused:
        fetching.install(20)

    assert "0.99.0" in str(refused.value) and "pins" in str(refused.value)


# sha256 of inspect.getsource() of aiokafka 0.14.0's Fetcher._get_actions_per_node: the rule the
# shorter backoff tunes (no fetch to a broker while one of its partitions holds records not taken).
FETCH_ACTIONS_SOURCE = "1dab2cf937d165d0eeacc8da8ed2b0ebd80b321bb6583757e01cdc1013d31635"


def test_aiokafka_still_holds_fetches_back_for_records_not_taken_for_a_fixed_tenth_of_a_second() -> None:
    source = inspect.getsource(Fetcher._get_actions_per_node)

    assert "backoff_by_nodes" in source
    assert inspect.signature(Fetcher.__init__).parameters["prefetch_backoff"].default == 0.1
    assert source_hash(Fetcher._get_actions_per_node) == FETCH_ACTIONS_SOURCE


async def test_the_started_worker_consumer_waits_briefly_for_faust_to_take_what_it_fetched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import services.app as worker

    async def start_without_a_broker(consumer: aiokafka.AIOKafkaConsumer) -> None:
        consumer._fetcher = SimpleNamespace(_prefetch_backoff=0.1)  # what aiokafka's start creates

    monkeypatch.setattr(aiokafka.AIOKafkaConsumer, "start", start_without_a_broker)
    consumer = worker.app.consumer._thread._create_worker_consumer(worker.app.transport)  # type: ignore[attr-defined]

    try:
        await consumer.start()

        assert consumer._fetcher._prefetch_backoff == fetching.PREFETCH_BACKOFF_SECONDS < 0.1
    finally:
        consumer._closed = True  # never connected: nothing to stop
