"""All configuration in one object, read from the environment (prefix COMPLAINTFLOW_).

`KAFKA_BOOTSTRAP_SERVERS` is also read without the prefix, because that is the name operators
already use; when it is unset, `complaintflow up` starts the embedded Tansu broker instead.
Documented, field by field, in docs/configuration.md.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from events.models import CHANNELS


class Settings(BaseSettings):
    """complaintflow's settings; every field can be set as COMPLAINTFLOW_<FIELD> in the environment."""

    model_config = SettingsConfigDict(env_prefix="COMPLAINTFLOW_", frozen=True, extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "COMPLAINTFLOW_KAFKA_BOOTSTRAP_SERVERS"),
        description="host:port[,host:port]; unset = the embedded broker on embedded_broker_port.",
    )
    embedded_broker_port: int = Field(default=19092, description="Port of the embedded Tansu broker (127.0.0.1).")
    app_id: str = Field(default="complaintflow", description="Faust app id: consumer group and changelog prefix.")
    topic_prefix: str = Field(default="", description="Prepended to every topic name (e.g. 'staging.').")
    partitions: int = Field(default=4, ge=1, description="Partitions of every topic; bounds the number of workers.")
    replication_factor: int = Field(default=1, ge=1, description="Replication of every topic (3 in production).")
    store: str = Field(default="memory://", description="Faust table store: memory:// or rocksdb://.")
    data_dir: str = Field(default=".complaintflow", description="Worker data directory (table stores).")
    web_host: str = Field(default="127.0.0.1", description="Address the worker's web server binds.")
    web_port: int = Field(default=6066, description="Port of the worker's web server.")
    session_timeout_seconds: float = Field(
        default=8.0, gt=0, description="Consumer group session timeout (6-10 s keeps Tansu's group joins short)."
    )
    log_level: str = Field(default="info", description="Worker log level.")
    policy_file: Path | None = Field(
        default=None,
        description="SLA policy TOML in force for new complaints; unset = the shipped default (DOMAIN.md's rules).",
    )
    policy_history_dir: Path | None = Field(
        default=None,
        description="Directory of earlier policy TOML files: complaints received under them are still judged by them.",
    )
    calendar_file: Path | None = Field(
        default=None, description="Working-day calendar TOML for working-day clocks; unset = the shipped one (China)."
    )
    producer_linger_ms: float = Field(
        default=5.0,
        ge=0,
        description="How long the worker's producer waits to fill a batch (throughput against latency).",
    )
    max_clock_skew_seconds: float = Field(
        default=300.0,
        ge=0,
        description="How far an event's occurred_at may lie past its publication time before it is rejected.",
    )
    alert_timer_interval_seconds: float = Field(
        default=1.0, gt=0, le=1.0, description="How often the SLA timer wakes complaints whose next deadline passed."
    )

    channel_tokens: dict[str, SecretStr] = Field(
        default_factory=dict,
        description=(
            'JSON {"channel": "token"}: bearer tokens for POST /events; a token publishes only its own channel\'s '
            "events (source). Unset = the HTTP API accepts no events."
        ),
    )
    dashboard_tokens: list[SecretStr] = Field(
        default_factory=list,
        description="JSON list of read-only bearer tokens for the read endpoints and the dashboard. Unset = no data.",
    )
    metrics_require_token: bool = Field(
        default=False, description="Whether GET /metrics needs a dashboard token (Prometheus then sends it)."
    )
    max_request_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest POST /events body accepted; larger ones get 413."
    )

    @field_validator("channel_tokens")
    @classmethod
    def _known_channels(cls, tokens: dict[str, SecretStr]) -> dict[str, SecretStr]:
        unknown = sorted(set(tokens) - set(CHANNELS))
        if unknown:
            raise ValueError(f"channel_tokens names unknown channels {unknown}; channels are {list(CHANNELS)}")
        return tokens

    @property
    def uses_embedded_broker(self) -> bool:
        return not self.kafka_bootstrap_servers

    @cached_property
    def bootstrap_servers(self) -> str:
        """Where clients connect: the configured cluster, or the embedded broker."""
        return self.kafka_bootstrap_servers or f"127.0.0.1:{self.embedded_broker_port}"

    def topic(self, name: str) -> str:
        """The full name of a registry topic under this deployment's prefix."""
        return f"{self.topic_prefix}{name}"
