"""`complaintflow adopt-policy`: judge open complaints by another SLA policy version, explicitly.

A complaint is judged by the policy in force when it was received, so changing the policy file
never rewrites past verdicts. Applying a new policy to complaints already open is an operator's
decision, and it goes into the log like everything else: one `policy_adopted` event per complaint,
so live workers, replays and audits all see when and why it happened. The event ids are derived
from the version and the complaint, so running the same command twice changes nothing.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from events.errors import ConfigurationError
from services.clients import latest_by_key, send_events
from services.rules import load_rulebook
from services.settings import Settings
from services.topics import STATE


class UnknownPolicy(ConfigurationError):
    """The version asked for is not one the workers have loaded."""


@dataclass(frozen=True)
class Adoption:
    policy_version: str
    complaints: list[str]
    sent: int


def adoption_events(
    complaint_ids: Iterable[str], policy_version: str, reason: str, *, actor: str, at: datetime
) -> list[dict[str, Any]]:
    """The wire events that move each complaint to `policy_version` (ids stable across reruns)."""
    return [
        {
            "event_id": f"adopt:{policy_version}:{complaint_id}",
            "complaint_id": complaint_id,
            "occurred_at": at.isoformat(),
            "source": "operator",
            "actor": actor,
            "schema_version": 1,
            "type": "policy_adopted",
            "data": {"policy_version": policy_version, "reason": reason},
        }
        for complaint_id in complaint_ids
    ]


def open_complaints_not_on(states: dict[bytes, Any], policy_version: str) -> list[str]:
    """Open complaints (by their latest read model) judged by another policy version, sorted."""
    return sorted(
        record["complaint_id"]
        for record in states.values()
        if record.get("open") and record.get("policy_version") != policy_version
    )


async def adopt_policy(
    settings: Settings, policy_version: str, reason: str, *, complaint_ids: list[str] | None
) -> Adoption:
    """Publish the adoption events: for `complaint_ids`, or every open complaint when None."""
    rules = load_rulebook(settings)
    if policy_version not in rules.versions:
        raise UnknownPolicy(
            f"policy version {policy_version!r} is not loaded here (known: {rules.versions}); set "
            "COMPLAINTFLOW_POLICY_FILE or COMPLAINTFLOW_POLICY_HISTORY_DIR as the workers have them"
        )
    if complaint_ids is None:
        complaint_ids = open_complaints_not_on(
            await latest_by_key(settings, settings.topic(STATE.name)), policy_version
        )
    events = adoption_events(complaint_ids, policy_version, reason, actor=_operator(), at=datetime.now(UTC))
    sent = await send_events(settings, events)
    return Adoption(policy_version, complaint_ids, sent)


def _operator() -> str:
    """Who ran the command, for the audit (a container may have no user name)."""
    try:
        return getpass.getuser() or "operator"
    except (KeyError, OSError):
        return "operator"
