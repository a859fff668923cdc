"""The Faust app, its topics and tables: the topology, built in one place from the settings.

Every topic is raw bytes on the wire (our codecs live in events/ and projections/), and every
table keeps raw bytes too: Faust cannot store pydantic models, and bytes keep the changelog
format ours. Importing this module builds the app from the environment, as `faust -A` expects.
"""

from __future__ import annotations

import faust
from aiokafka import AIOKafkaConsumer

from services import delivery, fetching, handoff, output, recovery, yielding
from services.feed import ReadModelFeed
from services.kafka_options import client_options, faust_credentials
from services.monitor import LagMonitor
from services.rules import load_rulebook
from services.settings import Settings
from services.topics import (
    COMPLAINTS_TABLE,
    EVENTS,
    SHARES_TABLE,
    SLA_TICKS,
    WORKLOAD,
    WORKLOAD_SHARES,
)
from services.urgent import UrgentProducer

settings = Settings()
rules = load_rulebook(settings)
"""The SLA policy in force, the earlier versions still judging older complaints, the calendar."""
AGENT_QUEUE_SIZE = 4096
"""Messages Faust queues for an agent (`stream_buffer_maxsize`, Faust's default, stated here for the
next line). Faust stops fetching a partition once the queue is 80 % full (mode's queue pressure:
3,276 of 4,096), and the records already in hand still go in: any of them that finds the queue full
waits for a free place, through mode's `wait_first` and its tasks (services/handoff.py)."""
MAX_POLL_RECORDS = 250
"""Records Faust takes from the consumer at a time, instead of all it has fetched (up to 1 MiB a
partition, ~1,600 events). Records of partitions not yet paused keep arriving after the pause, so
the 820 places left above it hold three such batches, and a worker working a backlog hands over
nearly every message without waiting: in figure 1's backlog 0.015 waiting hand-overs an event
instead of 0.31, the worker's consumer loop 27-30 µs of CPU an event instead of 44-66
(docs/performance.md, "Smaller batches from the consumer")."""


def create_app(settings: Settings) -> faust.App:
    """A Faust app wired for at-least-once processing with acks from all replicas.

    Its producer is not idempotent whatever COMPLAINTFLOW_PRODUCER_IDEMPOTENCE says: Faust 0.15.3
    turns idempotence on only in exactly-once mode (docs/operations.md)."""
    return faust.App(
        settings.app_id,
        broker=";".join(f"kafka://{server}" for server in settings.bootstrap_servers.split(",")),
        broker_credentials=faust_credentials(settings),
        store=settings.store,
        datadir=settings.data_dir,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=False,  # `complaintflow topics` creates them, with the registry's settings
        # No timer or task of ours runs `on_leader`: without this Faust subscribes to an election topic
        # (`<app_id>-__assignor-__leader`) it would not create, which a cluster without auto-create lacks.
        topic_disable_leader=True,
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_seconds / 3),
        producer_acks=-1,
        stream_buffer_maxsize=AGENT_QUEUE_SIZE,
        broker_max_poll_records=MAX_POLL_RECORDS,
        producer_linger=settings.producer_linger_ms / 1000,
        producer_max_batch_size=settings.producer_batch_bytes,
        consumer_auto_offset_reset="earliest",
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        # Faust's own pages would show tables and internals without a token: only ours are served.
        web_router_enabled=False,
        web_tables_enabled=False,
        web_graph_enabled=False,
        web_stats_enabled=False,
        web_metrics_enabled=False,
        web_application_options={"client_max_size": settings.max_request_bytes},
        Monitor=LagMonitor,  # the lag is all this app reads of Faust's monitor: services/monitor.py
    )


app = create_app(settings)
fetching.install(settings.consumer_fetch_max_wait_ms)
handoff.install()
yielding.install()
recovery.install(lambda: AIOKafkaConsumer(**client_options(settings), group_id=None, enable_auto_commit=False))
delivery.install()


def _raw_topic(*names: str) -> faust.TopicT:
    return app.topic(
        *(settings.topic(name) for name in names),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
    )


events_topic = _raw_topic(EVENTS.name)
sla_ticks_topic = _raw_topic(SLA_TICKS.name)
complaint_inputs = _raw_topic(EVENTS.name, SLA_TICKS.name)
"""What the complaint agent reads: the events, and the timer's wake-ups on the same partitions."""
workload_topic = _raw_topic(WORKLOAD.name)
shares_topic = _raw_topic(WORKLOAD_SHARES.name)

complaints_by_id = output.require_plain(
    app.Table(COMPLAINTS_TABLE, key_type=bytes, value_type=bytes, partitions=settings.partitions)
)
"""complaint_id → events partition + Case bytes (services/cases.py); co-partitioned with complaints.events."""

shares_by_department = app.Table(SHARES_TABLE, key_type=bytes, value_type=bytes, partitions=settings.partitions)
"""department + US + complaints partition → Share bytes; co-partitioned with the shares topic."""

feed = ReadModelFeed(settings)
"""The worker's read model, kept current from the projection topics and from its own agent: what
every read endpoint serves."""
app.service(feed)  # type: ignore[arg-type]  # Faust starts an instance as readily as a class

urgent = UrgentProducer(settings)
"""Alerts and rejections, which the complaint agent waits for: sent at once, never lingering."""
app.service(urgent)  # type: ignore[arg-type]  # Faust starts an instance as readily as a class
