"""`alert_record` writes an alert as it was written while `Alert` was a pydantic model (until
2026-12-07): the same fields in the same order, its instants as pydantic's `model_dump(mode="json")`
wrote them, so the records on complaints.alerts, and a replay's against the live worker's, keep
their bytes. The reference model is kept here, written out again on purpose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import get_args
from zoneinfo import ZoneInfo

import orjson
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

from events.codec import isoformat
from projections.case import alert_record
from projections.state import Alert, AlertKind


class PydanticAlert(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    alert_id: str
    complaint_id: str
    kind: AlertKind
    clock: str | None
    level: int
    deadline: datetime | None
    due_at: datetime
    reason: str


fixed_zones = st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)).map(
    timezone
)
aware = st.datetimes(timezones=fixed_zones | st.timezones())
moments = aware | st.datetimes()
alerts = st.builds(
    Alert,
    alert_id=st.text(),
    complaint_id=st.text(),
    kind=st.sampled_from(get_args(AlertKind)),
    clock=st.none() | st.text(),
    level=st.integers(0, 10) | st.integers(-(2**63), 2**63 - 1),  # what orjson writes, as the topic has it
    deadline=st.none() | moments,
    due_at=moments,
    reason=st.text(),
)
ODD = timezone(timedelta(hours=-2, minutes=-59, seconds=-45))  # pydantic truncates it, orjson rounds it


@settings(max_examples=500, deadline=None)
@given(alert=alerts, raised_at=aware)
@example(
    alert=Alert("C-1:-:major_claim:0", "C-1", "major_claim", None, 0, None, datetime(2026, 12, 7, 9, tzinfo=ODD), "R5"),
    raised_at=datetime(2026, 12, 7, 9, tzinfo=UTC),
)
@example(
    alert=Alert(
        "C-1:first_response:breached:0",
        "C-1",
        "breached",
        "first_response",
        0,
        datetime(1900, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai")),  # local mean time, +08:05:43
        datetime(2026, 12, 7, 9, 0, 0, 1, tzinfo=UTC),
        "breached",
    ),
    raised_at=datetime(2026, 12, 7, 9, tzinfo=timezone(timedelta(hours=8))),
)
def test_an_alert_record_is_written_as_pydantic_wrote_it(alert: Alert, raised_at: datetime) -> None:
    expected = {**PydanticAlert(**alert._asdict()).model_dump(mode="json"), "raised_at": isoformat(raised_at)}

    assert orjson.dumps(alert_record(alert, raised_at)) == orjson.dumps(expected)
