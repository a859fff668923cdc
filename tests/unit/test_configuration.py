"""The settings object, its environment names, and the table in docs/configuration.md agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.settings import Settings

DOC = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_documented_under_its_environment_name(field: str) -> None:
    assert f"`COMPLAINTFLOW_{field.upper()}`" in DOC


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLAINTFLOW_PARTITIONS", "12")
    monkeypatch.setenv("COMPLAINTFLOW_TOPIC_PREFIX", "staging.")
    settings = Settings()
    assert settings.partitions == 12
    assert settings.topic("complaints.events") == "staging.complaints.events"


def test_the_plain_kafka_variable_selects_a_cluster_instead_of_the_embedded_broker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("COMPLAINTFLOW_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("COMPLAINTFLOW_EMBEDDED_BROKER_PORT", "29092")
    assert Settings().uses_embedded_broker and Settings().bootstrap_servers == "127.0.0.1:29092"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    assert not Settings().uses_embedded_broker
    assert Settings().bootstrap_servers == "kafka-1:9092,kafka-2:9092"


def test_an_invalid_value_is_refused_with_the_field_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLAINTFLOW_PARTITIONS", "0")
    with pytest.raises(ValueError, match="partitions"):
        Settings()
