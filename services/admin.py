"""Create and check the registry's topics (and the tables' changelogs) on the cluster.

Topics must exist with the right partition count before anything produces: a broker that
auto-creates them picks its own default, and Faust refuses tables whose changelog and source
topic differ in partitions.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from events.errors import ConfigurationError
from services.kafka_options import client_options
from services.settings import Settings
from services.topics import ALL_TOPICS, TABLES, TopicSpec, changelog_name


class TopicMismatch(ConfigurationError):
    """An existing topic has a different partition count from the configuration."""


@dataclass(frozen=True)
class TopicStatus:
    name: str
    partitions: int
    created: bool


def planned_topics(settings: Settings) -> list[tuple[str, TopicSpec]]:
    """Every topic this deployment needs, full names first; changelogs take their source's settings
    except cleanup, which is compaction (the latest value per key is the table)."""
    planned = [(settings.topic(spec.name), spec) for spec in ALL_TOPICS]
    for table in TABLES:
        changelog = TopicSpec(
            name=changelog_name(settings.app_id, table),
            key="table key",
            value="table value",
            purpose=f"Changelog of the Faust table {table}.",
            cleanup="compact",
            internal=True,
        )
        planned.append((changelog.name, changelog))
    return planned


async def ensure_topics(settings: Settings) -> list[TopicStatus]:
    """Create missing topics; raise `TopicMismatch` if an existing one has another partition count."""
    admin = AIOKafkaAdminClient(**client_options(settings), client_id=f"{settings.app_id}-admin")
    await admin.start()
    try:
        existing = await _partition_counts(admin)
        statuses = []
        for name, spec in planned_topics(settings):
            if name in existing:
                if existing[name] != settings.partitions:
                    raise TopicMismatch(
                        f"topic {name} has {existing[name]} partitions, the configuration says "
                        f"{settings.partitions}; partition counts cannot shrink: set COMPLAINTFLOW_PARTITIONS="
                        f"{existing[name]} or recreate the topic"
                    )
                statuses.append(TopicStatus(name, existing[name], created=False))
                continue
            new_topic = NewTopic(
                name, settings.partitions, settings.replication_factor, topic_configs=topic_config(settings, spec)
            )
            with contextlib.suppress(TopicAlreadyExistsError):  # created concurrently by another worker
                await admin.create_topics([new_topic])
            statuses.append(TopicStatus(name, settings.partitions, created=True))
        return statuses
    finally:
        await admin.close()


def topic_config(settings: Settings, spec: TopicSpec) -> dict[str, str]:
    """The registry's settings of a topic, plus this deployment's durability: with replicas, a write
    needs `min_insync_replicas` of them, and a replica that fell behind never becomes leader (which
    would silently drop acknowledged events; off by default in Kafka, set here so no broker default
    can turn it on)."""
    config = spec.topic_config()
    if settings.min_insync_replicas is not None:
        config["min.insync.replicas"] = str(settings.min_insync_replicas)
    if settings.replication_factor > 1:
        config["unclean.leader.election.enable"] = "false"
    return config


async def _partition_counts(admin: AIOKafkaAdminClient) -> dict[str, int]:
    names = await admin.list_topics()
    if not names:
        return {}
    described = await admin.describe_topics(list(names))
    return {entry["topic"]: len(entry["partitions"]) for entry in described if not entry.get("error_code")}
