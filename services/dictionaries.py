"""Preset dictionaries (services/packing.py: zlib and zstd both): samples of the records each one packs.

A dictionary of a stored format is frozen: values packed with it can only be unpacked with the
very same bytes, and changelogs keep them for as long as the complaint lives. A better sample is
a new dictionary and a new format byte beside the old one, never an edit. The samples are the
simulator's (services/simulate.py): a closed complaint that went through every stage, then a
just-received one last (matches close to the end of a dictionary cost the fewest bits).
"""

from __future__ import annotations

CASE_V1 = (
    '{"complaint":{"complaint_id":"C-20261021-52e6b438-000299","stage":"closed","owner_department":"客服中心","de'
    'partment":"服装部","departments_seen":["客服中心","服装部"],"department_changes":1,"handler":"刘明","store":'
    '"光谷店","merchant":"锦绣女装","category":"quality","claim_amount":"218.00","personal_injury":false,"media_i'
    'nvolved":false,"customer":{"name":"刘娜","phone":"18774410772"},"received_at":"2026-10-21T18:30:54.144768+08'
    ':00","last_event_at":"2026-11-23T08:23:56.144768+08:00","lab_inspection_pending":false,"ruling":{"decision":'
    '"compensate","amount":"50.00","liable_party":"merchant","merchant_accepts":false,"customer_accepts":true},"p'
    'aid_amount":"50.00","satisfied":true,"advanced_by_mall":"50.00","repaid_by_merchant":"50.00","version":11,"a'
    'pplied":{"E-52e6b438-00001033":"67ab2a5c25b445dc","E-52e6b438-00001051":"24bb15dce4d1a63b","E-52e6b438-00001'
    '118":"4fd65003cedf01c1"}},"sla":{"policy_version":"2026-11-default","clocks":{"assignment":{"periods":[{"sta'
    'rted_at":"2026-10-21T18:30:54.144768+08:00","paused_seconds":0.0,"paused_at":null,"ended_at":"2026-10-21T18:'
    '40:45.144768+08:00"}],"stopped_at":"2026-10-21T18:40:45.144768+08:00"},"resolution":{"periods":[{"started_at'
    '":"2026-10-21T18:30:54.144768+08:00","paused_seconds":0.0,"paused_at":"2026-10-22T09:10:38.144768+08:00","en'
    'ded_at":"2026-10-22T09:10:38.144768+08:00"},{"started_at":"2026-10-30T10:12:09.144768+08:00","paused_seconds'
    '":0.0,"paused_at":null,"ended_at":"2026-11-01T09:35:29.144768+08:00"}],"stopped_at":"2026-11-01T09:35:29.144'
    '768+08:00"},"ruling":{"periods":[{"started_at":"2026-10-21T18:30:54.144768+08:00","paused_seconds":0.0,"paus'
    'ed_at":"2026-10-22T09:10:38.144768+08:00","ended_at":"2026-10-22T09:10:38.144768+08:00"},{"started_at":"2026'
    '-10-30T10:12:09.144768+08:00","paused_seconds":0.0,"paused_at":null,"ended_at":"2026-11-01T09:35:29.144768+0'
    '8:00"}],"stopped_at":"2026-11-01T09:35:29.144768+08:00"},"containment":{"periods":[{"started_at":"2026-10-30'
    'T10:12:09.144768+08:00","paused_seconds":0.0,"paused_at":null,"ended_at":"2026-11-19T09:27:40.144768+08:00"}'
    '],"stopped_at":"2026-11-19T09:27:40.144768+08:00"},"corrective":{"periods":[{"started_at":"2026-10-30T10:12:'
    '09.144768+08:00","paused_seconds":0.0,"paused_at":null,"ended_at":"2026-11-19T09:27:40.144768+08:00"}],"stop'
    'ped_at":"2026-11-19T09:27:40.144768+08:00"},"advance_payment":{"periods":[{"started_at":"2026-11-14T18:28:19'
    '.144768+08:00","paused_seconds":0.0,"paused_at":null,"ended_at":"2026-11-14T18:33:46.144768+08:00"}],"stoppe'
    'd_at":"2026-11-14T18:33:46.144768+08:00"},"follow_up":{"periods":[{"started_at":"2026-11-14T18:33:46.144768+'
    '08:00","paused_seconds":0.0,"paused_at":null,"ended_at":"2026-11-19T09:27:40.144768+08:00"}],"stopped_at":"2'
    '026-11-19T09:27:40.144768+08:00"}},"notices":{},"raised":{}},"revision":11}{"complaint":{"complaint_id":"C-2'
    '0261124-2a3a2107-000001","stage":"received","owner_department":"客服中心","department":"客服中心","departmen'
    'ts_seen":["客服中心"],"department_changes":0,"handler":null,"store":"江汉路店","merchant":"海味水产","catego'
    'ry":"service","claim_amount":"1073.00","personal_injury":false,"media_involved":false,"customer":{"name":"赵'
    '涛","phone":"13582917300"},"received_at":"2026-11-24T01:25:31.669711+08:00","last_event_at":"2026-11-24T01:2'
    '5:31.669711+08:00","lab_inspection_pending":false,"ruling":null,"paid_amount":"0","satisfied":null,"advanced'
    '_by_mall":"0","repaid_by_merchant":"0","version":1,"applied":{"E-2a3a2107-00000001":"9657a27609ba01c6"}},"sl'
    'a":{"policy_version":"2026-11-default","clocks":{"assignment":{"periods":[{"started_at":"2026-11-24T01:25:31'
    '.669711+08:00","paused_seconds":0.0,"paused_at":null,"ended_at":null}],"stopped_at":null},"resolution":{"per'
    'iods":[{"started_at":"2026-11-24T01:25:31.669711+08:00","paused_seconds":0.0,"paused_at":null,"ended_at":nul'
    'l}],"stopped_at":null},"ruling":{"periods":[{"started_at":"2026-11-24T01:25:31.669711+08:00","paused_seconds'
    '":0.0,"paused_at":null,"ended_at":null}],"stopped_at":null}},"notices":{},"raised":{}},"revision":1}'
).encode()
"""A closed complaint's case, then a just-received one's: the complaints table's formats 1 (zlib) and 2 (zstd)."""


STATE_RECORD = (
    '{"complaint_id":"C-20261021-52e6b438-000299","stage":"closed","open":false,"owner_department":"客服中心","de'
    'partment":"服装部","handler":"刘明","department_changes":1,"store":"光谷店","merchant":"锦绣女装","category"'
    ':"quality","claim_amount":"218.00","personal_injury":false,"media_involved":false,"customer":{"name":"刘娜",'
    '"phone":"187****0772"},"lab_inspection_pending":false,"ruling":{"decision":"compensate","amount":"50.00","li'
    'able_party":"merchant","merchant_accepts":false,"customer_accepts":true},"paid_amount":"50.00","satisfied":t'
    'rue,"recovery":{"merchant":"锦绣女装","advanced":"50.00","repaid":"50.00","outstanding":"0.00","settled":tru'
    'e},"received_at":"2026-10-21T18:30:54.144768+08:00","last_event_at":"2026-11-23T08:23:56.144768+08:00","vers'
    'ion":11,"policy_version":"2026-11-default","clocks":[{"name":"assignment","status":"met","deadline":"2026-10'
    '-21T19:00:54.144768+08:00","remaining_seconds":1209.0,"escalation_level":0},{"name":"resolution","status":"m'
    'et","deadline":"2026-11-02T10:12:09.144768+08:00","remaining_seconds":88600.0,"escalation_level":1},{"name":'
    '"ruling","status":"met","deadline":"2026-11-02T10:12:09.144768+08:00","remaining_seconds":88600.0,"escalatio'
    'n_level":0},{"name":"advance_payment","status":"met","deadline":"2026-11-17T18:28:19.144768+08:00","remainin'
    'g_seconds":258873.0,"escalation_level":0},{"name":"follow_up","status":"met","deadline":"2026-11-21T18:33:46'
    '.144768+08:00","remaining_seconds":205566.0,"escalation_level":0},{"name":"containment","status":"breached",'
    '"deadline":"2026-11-04T10:12:09.144768+08:00","remaining_seconds":-1293331.0,"escalation_level":1},{"name":"'
    'corrective","status":"breached","deadline":"2026-11-13T10:12:09.144768+08:00","remaining_seconds":-515731.0,'
    '"escalation_level":1}],"escalation_level":1,"alerts":[],"revision":11,"evaluated_at":"2026-11-23T09:23:56.14'
    '4768+08:00"}{"complaint_id":"C-20261124-2a3a2107-000001","stage":"received","open":true,"owner_department":"'
    '客服中心","department":"客服中心","handler":null,"department_changes":0,"store":"江汉路店","merchant":"海味'
    '水产","category":"service","claim_amount":"1073.00","personal_injury":false,"media_involved":false,"customer'
    '":{"name":"赵涛","phone":"135****7300"},"lab_inspection_pending":false,"ruling":null,"paid_amount":"0","sati'
    'sfied":null,"recovery":null,"received_at":"2026-11-24T01:25:31.669711+08:00","last_event_at":"2026-11-24T01:'
    '25:31.669711+08:00","version":1,"policy_version":"2026-11-default","clocks":[{"name":"assignment","status":"'
    'running","deadline":"2026-11-24T01:55:31.669711+08:00","remaining_seconds":1620.0,"escalation_level":0},{"na'
    'me":"resolution","status":"running","deadline":"2026-11-24T02:25:31.669711+08:00","remaining_seconds":3420.0'
    ',"escalation_level":0},{"name":"ruling","status":"running","deadline":"2026-11-27T01:25:31.669711+08:00","re'
    'maining_seconds":259020.0,"escalation_level":0}],"escalation_level":0,"alerts":[],"revision":1,"evaluated_at'
    '":"2026-11-24T01:28:31.669711+08:00"}'
).encode()
"""Their complaints.state records: the read model's copies (never stored, so free to change)."""
