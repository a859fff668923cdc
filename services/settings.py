"""All configuration in one object, read from the environment (prefix COMPLAINTFLOW_).

`KAFKA_BOOTSTRAP_SERVERS` is also read without the prefix, because that is the name operators
already use; when it is unset, `complaintflow up` starts the embedded Tansu broker instead.
Documented, field by field, in docs/configuration.md.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from events.models import CHANNELS

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})
SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
STORES = ("memory://", "rocksdb://")


class Settings(BaseSettings):
    """complaintflow's settings; every field can be set as COMPLAINTFLOW_<FIELD> in the environment."""

    model_config = SettingsConfigDict(
        env_prefix="COMPLAINTFLOW_",
        frozen=True,
        extra="ignore",
        populate_by_name=True,
        hide_input_in_errors=True,  # the input holds passwords and tokens
    )

    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "COMPLAINTFLOW_KAFKA_BOOTSTRAP_SERVERS"),
        description="host:port[,host:port]; unset = the embedded broker on embedded_broker_port.",
    )
    embedded_broker_port: int = Field(default=19092, description="Port of the embedded Tansu broker (127.0.0.1).")
    security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT",
        description=(
            "How clients reach the brokers: PLAINTEXT, SSL (TLS), SASL_SSL (TLS and a user), "
            "SASL_PLAINTEXT (a user without TLS: trusted networks only)."
        ),
    )
    sasl_mechanism: SaslMechanism | None = Field(
        default=None, description="With SASL_*: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."
    )
    sasl_username: str | None = Field(default=None, description="With SASL_*: the Kafka user.")
    sasl_password: SecretStr | None = Field(default=None, description="With SASL_*: the Kafka user's password.")
    ssl_cafile: Path | None = Field(
        default=None,
        description="With SSL or SASL_SSL: PEM bundle of the CA that signed the brokers' certificates; unset = the "
        "system's trusted CAs.",
    )
    ssl_certfile: Path | None = Field(
        default=None, description="With SSL or SASL_SSL: PEM client certificate, for brokers that require mutual TLS."
    )
    ssl_keyfile: Path | None = Field(
        default=None,
        description="With SSL or SASL_SSL: PEM private key of the client certificate (unencrypted); unset = inside "
        "the certificate file.",
    )
    producer_idempotence: bool = Field(
        default=False,
        description="Idempotent producers for the commands that publish (publish, simulate, import, redrive, "
        "adopt-policy): on for Apache Kafka; the embedded broker cannot grant it. The workers publish through Faust, "
        "which has no such switch (docs/operations.md).",
    )
    app_id: str = Field(default="complaintflow", description="Faust app id: consumer group and changelog prefix.")
    topic_prefix: str = Field(default="", description="Prepended to every topic name (e.g. 'staging.').")
    partitions: int = Field(default=4, ge=1, description="Partitions of every topic; bounds the number of workers.")
    replication_factor: int = Field(default=1, ge=1, description="Replication of every topic (3 in production).")
    min_insync_replicas: int | None = Field(
        default=None,
        ge=1,
        description="min.insync.replicas of every topic `complaintflow topics` creates (2 with replication 3); "
        "unset = the broker's default.",
    )
    store: str = Field(
        default="memory://",
        description="Faust table store: memory:// (dev, tests) or rocksdb:// (on disk under data_dir: production).",
    )
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
        default=10.0,
        ge=0,
        description=(
            "How long the worker's producer waits to fill a batch (state records, changelogs, shares); what the "
            "agent waits for (alerts, rejections) goes through a second producer that never lingers. On the dev "
            "broker 10 ms instead of 0 took figure 1 from 499 to 679 events/s and the broker's CPU per event "
            "from 0.83 to 0.18 ms."
        ),
    )
    producer_batch_bytes: int = Field(
        default=65_536,
        ge=1024,
        le=1_000_000,
        description=(
            "The largest batch the worker's producer builds for one partition before it sends it without "
            "lingering (at most 1,000,000: under Kafka's default max.message.bytes). Catching up, a partition's "
            "state records fill aiokafka's default of 16 KiB in ~12 records: 64 KiB instead took half of figure "
            "1's backlog from ~5,300 produce requests to ~1,700 and the broker's CPU per event down a sixth. "
            "256 KiB took them to ~1,200, for a larger worker (figure 5: ~50 more bytes per open complaint)."
        ),
    )
    consumer_fetch_max_wait_ms: int = Field(
        default=20,
        ge=1,
        le=30_000,
        description=(
            "How long a worker's consumer lets the broker hold a fetch that found nothing new. Apache Kafka "
            "answers a held fetch as soon as a record arrives, so 500 costs no latency there and fewer idle "
            "requests; the embedded broker answers only when the wait expires, so it is the latency floor."
        ),
    )
    read_model_fetch_max_wait_ms: int = Field(
        default=100,
        ge=1,
        le=30_000,
        description=(
            "How long the dashboards' read model lets the broker gather records (up to 64 KiB) before it "
            "answers a fetch: fewer, fuller fetches while traffic flows, and dashboards at most this much later."
        ),
    )
    case_cache_size: int = Field(
        default=1000,
        ge=0,
        description=(
            "How many recently used complaints the worker keeps decoded beside the table (~6 KB each; 0: "
            "none): their next event skips decoding the stored case, ~22 µs of CPU. Helps most while a "
            "worker catches up, when a complaint's events come close together."
        ),
    )
    unsaved_cases_limit: int = Field(
        default=10000,
        ge=1,
        description=(
            "How many changed complaints the worker may hold decoded (~6 KB each) before it writes them to the "
            "table and its changelog: it writes them before every offset commit anyway, once per complaint "
            "however many of its events came in between. Past the limit it writes them at once."
        ),
    )
    max_clock_skew_seconds: float = Field(
        default=300.0,
        ge=0,
        description="How far an event's occurred_at may lie past its publication time before it is rejected.",
    )
    alert_timer_interval_seconds: float = Field(
        default=1.0, gt=0, le=1.0, description="How often the SLA timer wakes complaints whose next deadline passed."
    )
    workload_interval_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description=(
            "How often a worker publishes the workload shares of its partitions that changed: department "
            "workloads lag by up to this much, and cost messages per department, not per event."
        ),
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

    @field_validator("store")
    @classmethod
    def _known_store(cls, store: str) -> str:
        if not store.startswith(STORES):
            raise ValueError(f"store {store!r} is not one of {', '.join(STORES)}")
        return store

    @model_validator(mode="after")
    def _consistent_kafka_security(self) -> Settings:
        """Refuse combinations that would fail later at connection time, or silently ignore a credential."""
        protocol = self.security_protocol
        if protocol != "PLAINTEXT" and self.uses_embedded_broker:
            raise ValueError(
                f"COMPLAINTFLOW_SECURITY_PROTOCOL={protocol}: the embedded broker speaks PLAINTEXT only; set "
                "KAFKA_BOOTSTRAP_SERVERS to your cluster, or COMPLAINTFLOW_SECURITY_PROTOCOL=PLAINTEXT"
            )
        sasl = {
            "COMPLAINTFLOW_SASL_MECHANISM": self.sasl_mechanism,
            "COMPLAINTFLOW_SASL_USERNAME": self.sasl_username,
            "COMPLAINTFLOW_SASL_PASSWORD": self.sasl_password,
        }
        if protocol in SASL_PROTOCOLS:
            missing = [name for name, value in sasl.items() if not value]
            if missing:
                raise ValueError(f"COMPLAINTFLOW_SECURITY_PROTOCOL={protocol} needs {', '.join(missing)}")
        elif given := [name for name, value in sasl.items() if value]:
            raise ValueError(
                f"{', '.join(given)} set but COMPLAINTFLOW_SECURITY_PROTOCOL is {protocol}, which sends no "
                "credentials: set COMPLAINTFLOW_SECURITY_PROTOCOL=SASL_SSL (or SASL_PLAINTEXT), or unset them"
            )
        tls = {
            "COMPLAINTFLOW_SSL_CAFILE": self.ssl_cafile,
            "COMPLAINTFLOW_SSL_CERTFILE": self.ssl_certfile,
            "COMPLAINTFLOW_SSL_KEYFILE": self.ssl_keyfile,
        }
        if protocol not in TLS_PROTOCOLS and (given := [name for name, value in tls.items() if value]):
            raise ValueError(
                f"{', '.join(given)} set but COMPLAINTFLOW_SECURITY_PROTOCOL is {protocol}, which uses no TLS: "
                "set COMPLAINTFLOW_SECURITY_PROTOCOL=SSL or SASL_SSL, or unset them"
            )
        if self.ssl_keyfile and not self.ssl_certfile:
            raise ValueError("COMPLAINTFLOW_SSL_KEYFILE is set without COMPLAINTFLOW_SSL_CERTFILE, its certificate")
        if self.producer_idempotence and self.uses_embedded_broker:
            raise ValueError(
                "COMPLAINTFLOW_PRODUCER_IDEMPOTENCE: the embedded broker cannot grant it (InitProducerId fails); "
                "set COMPLAINTFLOW_PRODUCER_IDEMPOTENCE=false, or KAFKA_BOOTSTRAP_SERVERS to an Apache Kafka cluster"
            )
        if self.min_insync_replicas is not None and self.min_insync_replicas > self.replication_factor:
            raise ValueError(
                f"COMPLAINTFLOW_MIN_INSYNC_REPLICAS={self.min_insync_replicas} exceeds "
                f"COMPLAINTFLOW_REPLICATION_FACTOR={self.replication_factor}: no write with acks=all could ever "
                "succeed; lower the first or raise the second"
            )
        return self

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


def invalid_settings(error: ValidationError) -> list[str]:
    """Each problem of the environment as the variable to change and why, without pydantic's framing."""
    problems = []
    for problem in error.errors(include_url=False, include_input=False):
        message = problem["msg"].removeprefix("Value error, ")
        field = str(problem["loc"][0]) if problem["loc"] else None
        variable = "KAFKA_BOOTSTRAP_SERVERS" if field == "kafka_bootstrap_servers" else f"COMPLAINTFLOW_{field}".upper()
        problems.append(f"{variable}: {message}" if field else message)
    return problems
