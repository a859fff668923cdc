"""Every Kafka topic complaintflow uses: name, key, value and settings, in one place.

Services, tests, docs (`docs/asyncapi.yaml`) and deploy files all read this module, so a topic is
named once. Faust's table changelogs are named here too, from the app id, so operators can
create them up front with the right partition count (a table and its source topic must be
co-partitioned).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Cleanup = Literal["delete", "compact"]


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its base name (before the configured prefix), what its keys and values are, and its config."""

    name: str
    key: str
    value: str
    purpose: str
    cleanup: Cleanup = "delete"
    retention_ms: int = -1
    internal: bool = False
    config: dict[str, str] = field(default_factory=dict)

    def topic_config(self) -> dict[str, str]:
        """Broker-side settings for creating the topic (retention -1 = keep for ever)."""
        return {"cleanup.policy": self.cleanup, "retention.ms": str(self.retention_ms), **self.config}


EVENTS = TopicSpec(
    name="complaints.events",
    key="complaint_id (UTF-8)",
    value="ComplaintEvent JSON (events/schema/complaint-event.v1.json)",
    purpose="System of record: every complaint event as published by the channels. Never compacted, never expires.",
)
STATE = TopicSpec(
    name="complaints.state",
    key="complaint_id (UTF-8)",
    value="complaint read model JSON",
    purpose=(
        "Latest read model of each complaint (compacted), on the complaint's own complaints.events partition "
        "number, where only the worker owning that partition writes."
    ),
    cleanup="compact",
)
WORKLOAD = TopicSpec(
    name="complaints.workload",
    key="department (UTF-8)",
    value="department workload JSON",
    purpose="Latest workload of each department (compacted).",
    cleanup="compact",
)
REJECTED = TopicSpec(
    name="complaints.rejected",
    key="the original message key, unchanged",
    value="rejection JSON: reason, code, source position, original bytes (base64)",
    purpose="Every message that could not be accepted, with the reason and the original bytes.",
)
ALERTS = TopicSpec(
    name="complaints.alerts",
    key="complaint_id (UTF-8)",
    value="alert JSON (alert_id is stable: the same alert has the same id live and in replay)",
    purpose="SLA alerts (at_risk, breached, escalated), immediate notices and retractions; at-least-once by alert_id.",
)
WORKLOAD_SHARES = TopicSpec(
    name="complaints.workload-shares",
    key="department (UTF-8)",
    value="Share JSON (projections/workload.py): a department's counts over one complaints.events partition",
    purpose=(
        "Internal repartition: each worker counts the complaints of its partitions per department and publishes "
        "the counts that changed, at most once per interval; the workload agent adds up the latest share of "
        "every partition."
    ),
    retention_ms=7 * 24 * 3600 * 1000,
    internal=True,
)

SLA_TICKS = TopicSpec(
    name="complaints.sla-ticks",
    key="complaint_id (UTF-8)",
    value='{"complaint_id": ..., "due_at": ...} JSON',
    purpose=(
        "Internal wake-ups from the SLA timer, sent to the complaint's own complaints.events partition number: "
        "the complaint agent, the only writer of the complaints table, settles a deadline that passed with no event."
    ),
    retention_ms=24 * 3600 * 1000,
    internal=True,
)

ALL_TOPICS: tuple[TopicSpec, ...] = (EVENTS, STATE, WORKLOAD, REJECTED, ALERTS, WORKLOAD_SHARES, SLA_TICKS)

COMPLAINTS_TABLE = "complaints_by_id"
SHARES_TABLE = "workload_shares"
TABLES: dict[str, TopicSpec] = {COMPLAINTS_TABLE: EVENTS, SHARES_TABLE: WORKLOAD_SHARES}
"""Each Faust table and the topic it is co-partitioned with."""


def changelog_name(app_id: str, table: str) -> str:
    """Faust's naming rule for a table's changelog topic."""
    return f"{app_id}-{table}-changelog"
