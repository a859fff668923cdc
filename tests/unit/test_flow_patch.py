"""The Faust consumer-loop fix (services/flow.py) still fits the Faust it patches.

What the fix does is shown on the real broker by tests/integration/test_recovery.py (a worker
restarted while events wait in the topic must process every one of them); these tests make sure
an upgrade of Faust cannot silently drop or misapply it.
"""

from __future__ import annotations

import inspect
from unittest import mock

import faust
import pytest
from faust.transport.consumer import Consumer

from events.errors import ConfigurationError
from services import flow


def test_the_pinned_faust_is_the_one_the_fix_was_written_for() -> None:
    assert faust.__version__ == flow.PATCHED_FAUST_VERSION


@pytest.mark.parametrize("name", sorted(flow.ORIGINAL_SOURCE_SHA256))
def test_the_replaced_methods_are_unchanged_upstream(name: str) -> None:
    """A changed upstream method must be re-read before the replacement is kept."""
    assert flow.original_source_digest(name) == flow.ORIGINAL_SOURCE_SHA256[name]


def test_the_fetcher_still_drains_through_the_replaced_loop() -> None:
    from faust.transport.consumer import Fetcher

    assert "_drain_messages(" in inspect.getsource(Fetcher)
    assert "perform_seek()" in inspect.getsource(Consumer.getmany), "a stopped flow still seeks back"


def test_importing_the_app_installs_the_fix() -> None:
    import services.app  # noqa: F401  (builds the app, which installs the fix)

    assert Consumer._drain_messages is flow.drain_messages
    assert Consumer.perform_seek is flow.perform_seek


def test_the_loop_marks_an_event_read_only_when_the_agents_took_it() -> None:
    source = inspect.getsource(flow.drain_messages)

    assert source.index("delivery not in outcome.done") < source.index("read_offsets[tp] = offset")


def test_another_faust_version_is_refused_with_what_to_do() -> None:
    with mock.patch.object(faust, "__version__", "0.99.0"), pytest.raises(ConfigurationError) as refused:
        flow.install()

    assert "0.15.3" in str(refused.value) and "test_recovery" in str(refused.value)


async def test_seeks_are_counted_before_and_after_the_seek() -> None:
    class Seeking:
        pass

    consumer = Seeking()
    seen: list[int] = []

    async def original(self: object) -> None:
        seen.append(flow.seeks(consumer))  # type: ignore[arg-type]

    with mock.patch.object(flow, "_ORIGINAL_PERFORM_SEEK", original):
        await flow.perform_seek(consumer)  # type: ignore[arg-type]

    assert seen == [1], "a batch fetched during the seek is already stale"
    assert flow.seeks(consumer) == 2  # type: ignore[arg-type]
