"""The Faust recovery fix (services/recovery.py) still fits the Faust it patches."""

from __future__ import annotations

import inspect
from unittest import mock

import faust
import pytest
from faust.tables.recovery import Recovery
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

from events.errors import ConfigurationError
from services import recovery


def test_the_pinned_faust_is_the_one_the_fix_was_written_for() -> None:
    assert faust.__version__ == recovery.PATCHED_FAUST_VERSION


def test_the_wrapped_method_keeps_its_shape() -> None:
    assert list(recovery.wrapped_signature().parameters) == ["self", "partitions"]
    assert inspect.iscoroutinefunction(recovery._ORIGINAL)


def test_recovery_still_asks_the_consumer_for_highwaters() -> None:
    """If Faust stops calling consumer.highwaters() to bound recovery, the fix no longer applies."""
    assert "consumer.highwaters(" in inspect.getsource(Recovery._build_highwaters)
    assert "_highwaters" in inspect.getsource(AIOKafkaConsumerThread.highwaters)


def test_importing_the_app_installs_the_fix() -> None:
    import services.app  # noqa: F401  (builds the app, which installs the fix)

    assert AIOKafkaConsumerThread._highwaters is not recovery._ORIGINAL
    assert AIOKafkaConsumerThread._highwaters.__qualname__.startswith("install.")


def test_another_faust_version_is_refused_with_what_to_do() -> None:
    with mock.patch.object(faust, "__version__", "0.99.0"), pytest.raises(ConfigurationError) as refused:
        recovery.install(lambda: None)  # type: ignore[arg-type,return-value]

    assert "0.99.0" in str(refused.value) and "pin" in str(refused.value)
