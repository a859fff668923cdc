"""Every error complaintflow raises on purpose, as one tree.

    ComplaintflowError
    ├── Rejection                 an input message that cannot be accepted (goes to complaints.rejected)
    │   ├── UndecodableEvent      not UTF-8, not JSON, or not a JSON object
    │   ├── InvalidEvent          fields missing, of the wrong type, or out of range
    │   │   └── FromTheFuture     occurred_at later than its publication allows (clock skew)
    │   ├── UnsupportedEvent      an unknown event type or a schema_version this build does not know
    │   ├── ImpossibleTransition  the event is valid but cannot happen in the complaint's current stage
    │   │   └── UnknownComplaint  an event for a complaint that was never received
    │   ├── ConflictingDuplicate  an event_id seen before, with different contents
    │   ├── UnknownPolicyVersion  the complaint is pinned to an SLA policy version this worker lacks
    │   └── ProcessingFailed      the worker failed on a message it should have handled (a bug)
    └── ConfigurationError        settings or files an operator must fix before anything can run

A `Rejection` carries a stable machine-readable `code` (what dashboards and `redrive` filter on)
and a message that says what was expected and what arrived, in words a channel operator can act on.
"""

from __future__ import annotations

from typing import NamedTuple


class ComplaintflowError(Exception):
    """Base of every error complaintflow raises deliberately."""


class ConfigurationError(ComplaintflowError):
    """Settings, policy or calendar files are wrong; the message says which and how to fix them."""


class Rejection(ComplaintflowError):
    """An input message that will not be accepted; it belongs on the rejected topic."""

    code = "rejected"

    def __init__(self, message: str, *, complaint_id: str | None = None, event_id: str | None = None) -> None:
        super().__init__(message)
        self.reason = message
        self.complaint_id = complaint_id
        self.event_id = event_id


class UndecodableEvent(Rejection):
    """The bytes are not UTF-8 JSON describing an object."""

    code = "undecodable"


class FieldProblem(NamedTuple):
    """One thing wrong with one field: what the HTTP API reports field by field."""

    field: str
    message: str


class InvalidEvent(Rejection):
    """The JSON does not match the wire contract (missing, extra or ill-typed fields)."""

    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        complaint_id: str | None = None,
        event_id: str | None = None,
        problems: list[FieldProblem] | None = None,
    ) -> None:
        super().__init__(message, complaint_id=complaint_id, event_id=event_id)
        self.problems = problems or [FieldProblem("(event)", message)]


class FromTheFuture(InvalidEvent):
    """`occurred_at` is later than the message's publication time plus the allowed clock skew."""

    code = "from_the_future"


class UnsupportedEvent(Rejection):
    """The event type or schema version is not one this build understands."""

    code = "unsupported"


class ImpossibleTransition(Rejection):
    """The event is well formed but cannot happen in the complaint's current state."""

    code = "impossible_transition"


class UnknownComplaint(ImpossibleTransition):
    """The event refers to a complaint whose `received` event has not been accepted."""

    code = "unknown_complaint"


class ConflictingDuplicate(Rejection):
    """An `event_id` already accepted arrived again with different contents."""

    code = "conflicting_duplicate"


class UnknownPolicyVersion(Rejection):
    """The complaint is judged by a policy version that is not loaded: a configuration gap, not a
    bad message. Rejected (not dropped) so it can be redriven once the policy file is back."""

    code = "unknown_policy_version"


class ProcessingFailed(Rejection):
    """The worker raised an unexpected error on this message: a bug, not bad input. The message is
    rejected rather than dropped, so it can be redriven once the bug is fixed."""

    code = "processing_failed"
