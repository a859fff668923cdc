"""A seeded, pure generator of realistic complaint traffic, in the wire contract.

Why: demos, load tests and the SLA projections need a stream that looks like a real mall's: four
channels publishing at once, mostly small claims settled within the hour, a tail of large and slow
ones, lab inspections that restart the 3-day clock (R3), reassignments and rare buck-passing (R12),
merchants refusing rulings so the mall pays first (R3), reopened complaints, and a few left open.
Every event is one `projections.complaint.accept` takes, in order.

Pure: one `random.Random(seed)` and no wall clock, so a seed and a start give the same stream.
Streaming: each complaint is a lazy plan (a generator); a heap holds only the next event of each
complaint in flight, so 100,000 complaints never sit in memory at once.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

CST = timezone(timedelta(hours=8))
MINUTE, HOUR, DAY = 60, 3600, 86400
OPENING_HOURS = (10 * HOUR, 22 * HOUR)
"""Complaints are registered while the mall is open (web and WeChat messages too: staff log them)."""
OFFICE_HOURS = (9 * HOUR, 22 * HOUR + 30 * MINUTE)
"""Staff act from an hour before opening to half an hour after closing; later work waits for the morning."""
Step = tuple[int, dict[str, Any]]
"""(seconds after `start`, the event without event_id / occurred_at / schema_version)."""

CHANNELS = ("hotline", "counter", "web", "wechat")
STORES = ("江汉路店", "光谷店", "汉街店", "徐东店")
CATEGORIES = ("quality", "service", "delivery", "installation", "price", "facility", "personal_injury", "other")
_CATEGORY_WEIGHTS = (42, 17, 8, 6, 10, 8, 1, 8)
_FLOORS = {  # department → (merchants, products); weights say how much traffic each floor gets
    "服装部": (("锦绣女装", "动感运动", "雅士男装", "童趣童装"), ("羽绒服", "连衣裙", "运动鞋", "西装")),
    "家电部": (("华美电器", "清风空调专卖", "智选数码"), ("空调", "冰箱", "洗衣机", "电热水器", "笔记本电脑")),
    "食品部": (("老街糕点", "鲜果时光", "海味水产"), ("月饼", "熟食", "进口牛奶", "生日蛋糕")),
    "珠宝部": (("金鼎珠宝", "福瑞金行"), ("黄金手镯", "钻石戒指", "铂金项链")),
}
_FLOOR_WEIGHTS = (35, 30, 25, 10)
_BIG_CLAIM_SHARE = {"珠宝部": 0.4, "家电部": 0.25, "服装部": 0.08, "食品部": 0.03, "物业部": 0.05}
DEPARTMENTS = ("客服中心", *_FLOORS, "物业部")
_PLACES = ("一楼中庭", "三楼扶梯", "地下停车场", "二楼卫生间", "美食广场")
_DESCRIPTIONS = {
    "quality": "在{m}购买的{p}使用不到{n}天就出现质量问题，要求退货退款。",
    "service": "{m}店员服务态度恶劣，拒绝办理{p}的退换，要求道歉并赔偿。",
    "delivery": "在{m}购买的{p}约定{n}日内送货上门，至今未送达，耽误使用。",
    "installation": "{m}安排安装的{p}安装后漏水，泡坏了家里的木地板。",
    "price": "{m}的{p}标价与结账价格不一致，多收了钱，要求退还差价。",
    "facility": "商场{place}设施故障，弄脏弄坏了随身物品，要求处理并赔偿。",
    "personal_injury": "在商场{place}地面湿滑摔倒受伤，已到医院检查，要求赔偿医药费。",
    "other": "在{m}消费后会员积分和优惠券未到账，多次询问无人处理。",
}
_REJECT_SHARE = {"service": 0.15, "other": 0.2}
_NOTES = {
    "satisfied": "顾客对处理结果满意。",
    "unsatisfied": "顾客认为赔偿不足，要求重新处理。",
    "referred": "顾客不接受处理结果，已引导至市消费者协会调解。",  # R3: leaves the mall's clock, stays on record
}
_FOOD_INJURY = "在{m}购买的{p}食用后腹泻就医，要求赔偿医药费和误工费。"
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚英华慧"
_MOBILE_PREFIXES = ("138", "139", "135", "136", "150", "151", "158", "186", "187", "177", "199")


def simulate(
    seed: int, complaints: int, start: datetime, *, mean_gap_seconds: float = 90.0
) -> Iterator[dict[str, Any]]:
    """Yield the events of `complaints` complaints, interleaved and ordered by `occurred_at`.

    Complaints arrive as a Poisson process (mean gap `mean_gap_seconds` while the mall is open,
    10:00–22:00) from `start`; a naive `start` is read as mall time (+08:00). Staff act 09:00–22:30,
    so late-evening work waits for the morning, as it does in a real mall. Events are JSON-ready
    dicts: amounts as decimal strings, timestamps ISO 8601 with +08:00. Ids are deterministic
    (`C-<start date>-<seed tag>-<n>`, `E-<seed tag>-<n>`), so replaying a seed republishes the
    same ids and the pipeline's idempotency ignores them.
    """
    if complaints < 0 or mean_gap_seconds <= 0:
        raise ValueError("complaints must be >= 0 and mean_gap_seconds > 0")
    rng = random.Random(seed)
    tag = f"{rng.getrandbits(32):08x}"
    origin = start.replace(tzinfo=CST) if start.tzinfo is None else start.astimezone(CST)
    staff = {department: tuple(_person(rng) for _ in range(5)) for department in (*DEPARTMENTS, "财务部")}
    pending: list[tuple[int, int, dict[str, Any], Iterator[Step]]] = []  # (when, tie-break, event, plan)
    day0 = origin.hour * HOUR + origin.minute * MINUTE + origin.second  # mall time of day at `start`
    pushed = started = emitted = 0
    arrival = _daytime(0, day0, OPENING_HOURS)

    def advance(plan: Iterator[Step]) -> None:
        nonlocal pushed
        step = next(plan, None)
        if step is not None:
            heapq.heappush(pending, (step[0], pushed, step[1], plan))
            pushed += 1

    while pending or started < complaints:
        if started < complaints and (not pending or arrival <= pending[0][0]):
            started += 1
            complaint_id = f"C-{origin:%Y%m%d}-{tag}-{started:06d}"
            advance(_plan(random.Random(rng.getrandbits(64)), complaint_id, arrival, staff, day0))
            arrival = _daytime(arrival + int(rng.expovariate(1 / mean_gap_seconds)), day0, OPENING_HOURS)
            continue
        when, _, event, plan = heapq.heappop(pending)
        emitted += 1
        occurred_at = (origin + timedelta(seconds=when)).isoformat()
        yield {"event_id": f"E-{tag}-{emitted:08d}", "occurred_at": occurred_at, "schema_version": 1, **event}
        advance(plan)


def _plan(
    rng: random.Random, complaint_id: str, t: int, staff: dict[str, tuple[str, ...]], day0: int
) -> Iterator[Step]:
    """One complaint's life, drawn lazily: a step is drawn only once the previous one is emitted;
    what happens after the customer's case is over (the merchant repaying the mall) comes last."""
    afterwards: list[Step] = []
    last = t
    for step in _life(rng, complaint_id, t, staff, day0, afterwards):
        last = step[0]
        yield step
    for when, event in afterwards:
        last = max(last, when)
        yield last, event


def _life(
    rng: random.Random,
    complaint_id: str,
    t: int,
    staff: dict[str, tuple[str, ...]],
    day0: int,
    afterwards: list[Step],
) -> Iterator[Step]:
    channel = rng.choices(CHANNELS, (30, 25, 15, 30))[0]
    category = rng.choices(CATEGORIES, _CATEGORY_WEIGHTS)[0]
    department, merchant, product, description = _subject(rng, category)
    receiver = department if channel == "counter" and rng.random() < 0.4 else "客服中心"
    injury = category == "personal_injury"
    claim = _claim(rng, 0.5 if injury else _BIG_CLAIM_SHARE[department])
    small, major = claim < 2000, claim > 10_000
    others = [rng.choice([d for d in _FLOORS if d != department])] if rng.random() < 0.03 else []
    dispatcher = rng.choice(staff[receiver])
    handler = staff[department][0] if major or injury else rng.choice(staff[department])  # R2: the manager

    def later(delay: int) -> int:
        return _daytime(t + delay, day0, OFFICE_HOURS)

    def event(kind: str, actor: str, data: dict[str, Any]) -> Step:
        return t, {"complaint_id": complaint_id, "type": kind, "source": channel, "actor": actor, "data": data}

    yield event("received", dispatcher, {
        "store": rng.choice(STORES), "department": receiver, "other_departments": others, "merchant": merchant,
        "category": category, "claim_amount": _money(claim), "personal_injury": injury,
        "media_involved": rng.random() < (0.3 if injury else 0.08 if major else 0.01),
        "customer": {"name": _person(rng), "phone": rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"},
        "description": description,
    })  # fmt: skip
    t = later(_late(rng, 0.0 if injury else 0.04, (MINUTE, 15 * MINUTE), (31 * MINUTE, 3 * HOUR)))  # R2: 30 minutes
    yield event("assigned", dispatcher, {"department": department, "handler": handler})
    if rng.random() < 0.03:  # the customer adds costs (delivery, a second visit): the claim grows
        t = later(rng.randint(10 * MINUTE, 2 * HOUR))
        claim = round(claim * rng.uniform(1.1, 1.6))
        small, major = claim < 2000, claim > 10_000
        reason = rng.choice(("顾客补充上门费和交通费。", "顾客补交误工证明，追加索赔。", "顾客补充运费发票。"))
        yield event("amended", handler, {"claim_amount": _money(claim), "reason": reason})
    bounces = 4 if rng.random() < 0.005 else 1 if rng.random() < 0.06 else 0  # 4: the water-pump case (R12)
    for _ in range(bounces):
        t = later(rng.randint(20 * MINUTE, DAY) if bounces == 1 else rng.randint(DAY, 12 * DAY))
        department = rng.choice([d for d in DEPARTMENTS if d != department])
        handler = rng.choice(staff[department])
        yield event("assigned", dispatcher, {"department": department, "handler": handler})
    if (bounces > 1 and rng.random() < 0.5) or rng.random() < 0.01:
        return  # still open: nobody has taken it on
    liable = "mall" if merchant is None else "merchant"  # R4: unclear facts lean to the customer
    if rng.random() < (0.15 if small else 0.6):
        t = later(rng.randint(5 * MINUTE, 20 * MINUTE) if small else rng.randint(30 * MINUTE, 6 * HOUR))
        findings = f"现场核实：顾客所述基本属实，{product or '设施'}问题确实存在。"
        yield event("inspected", handler, {"kind": "site", "status": "reported", "findings": findings,
                                           "liable_party": liable})  # fmt: skip
    clock = ((5 * MINUTE, 25 * MINUTE), (HOUR, 8 * HOUR)) if small else ((2 * HOUR, 3 * DAY), (3 * DAY, 8 * DAY))
    if category == "quality" and rng.random() < (0.04 if small else 0.3):
        t = later(rng.randint(HOUR, DAY))
        findings = f"{product}送国家质检机构检测，商场垫付检测费。"  # R3: the mall advances the fee
        yield event("inspected", handler, {"kind": "lab", "status": "requested", "findings": findings,
                                           "liable_party": "undetermined"})  # fmt: skip
        if rng.random() < 0.05:
            return  # still awaiting the lab report
        t = later(rng.randint(DAY, 10 * DAY))
        liable = rng.choices(("manufacturer", "merchant", "customer"), (50, 30, 20))[0]
        verdict = "系使用不当所致" if liable == "customer" else "存在质量缺陷"
        findings = f"检测报告：{product}{verdict}。"
        yield event("inspected", handler, {"kind": "lab", "status": "reported", "findings": findings,
                                           "liable_party": liable})  # fmt: skip
        clock = ((2 * HOUR, 2 * DAY), (3 * DAY, 5 * DAY))  # the 3-day clock restarts at the report
    for reopened in (False, True):
        if reopened:
            t = later(rng.randint(10 * MINUTE, DAY))
            handler = staff[department][0]  # reopened: the manager takes it over (R2)
            yield event("assigned", dispatcher, {"department": department, "handler": handler})
            clock = ((30 * MINUTE, 4 * HOUR), (4 * HOUR, 2 * DAY))
        t = later(_late(rng, 0.08 if small else 0.15, *clock))
        reject = not reopened and (liable == "customer" or rng.random() < _REJECT_SHARE.get(category, 0.03))
        decision, amount = _decision(rng, category, claim, reject, reopened)
        merchant_accepts = merchant is None or rng.random() > (0.08 if small else 0.25)
        customer_accepts = rng.random() < (0.4 if reject else 0.97)
        yield event("ruled", staff[department][0] if major else handler, {
            "decision": decision, "amount": _money(amount), "liable_party": "customer" if reject else liable,
            "merchant_accepts": merchant_accepts, "customer_accepts": customer_accepts,
        })  # fmt: skip
        if amount:
            t = later(rng.randint(2 * MINUTE, 10 * MINUTE) if small else rng.randint(HOUR, 2 * DAY))
            payer = "merchant" if merchant and merchant_accepts else "mall_advance"  # R3: the mall pays first
            payer = "insurer" if injury and rng.random() < 0.6 else payer
            documents = ["收条", "和解协议书"] if amount >= 500 else ["收条"]  # R7
            yield event("paid", rng.choice(staff["财务部"]), {"payer": payer, "amount": _money(amount),
                                                             "documents": documents})  # fmt: skip
            if payer == "mall_advance" and merchant and rng.random() < 0.8:  # R3: the merchant repays the mall
                repaid = {"amount": _money(amount), "documents": ["银行转账回单"]}
                afterwards.append(
                    (t + rng.randint(DAY, 20 * DAY), event("repaid", rng.choice(staff["财务部"]), repaid)[1])
                )
            if rng.random() < 0.02:
                return  # paid, follow-up call not made yet
        t = later(_late(rng, 0.05, (2 * HOUR, 6 * DAY), (8 * DAY, 14 * DAY)))  # R11: within 7 days of payment
        satisfied = reopened or (customer_accepts and rng.random() < 0.93)
        referred = not satisfied and reject and rng.random() < 0.5
        notes = _NOTES["satisfied" if satisfied else "referred" if referred else "unsatisfied"]
        yield event("followed_up", rng.choice(staff["客服中心"]), {"satisfied": satisfied, "notes": notes})
        if satisfied or referred:
            return


def _subject(rng: random.Random, category: str) -> tuple[str, str | None, str, str]:
    """(department, merchant, product, description): facilities and falls are the property office's, no merchant."""
    food = category == "personal_injury" and rng.random() < 0.3  # food poisoning, the rest are falls
    if category in ("facility", "personal_injury") and not food:
        return "物业部", None, "", _DESCRIPTIONS[category].format(place=rng.choice(_PLACES))
    department = "食品部" if food else "家电部" if category in ("delivery", "installation") else None
    department = department or rng.choices(tuple(_FLOORS), _FLOOR_WEIGHTS)[0]
    merchant, product = rng.choice(_FLOORS[department][0]), rng.choice(_FLOORS[department][1])
    template = _FOOD_INJURY if food else _DESCRIPTIONS[category]
    return department, merchant, product, template.format(m=merchant, p=product, n=rng.randint(2, 15))


def _decision(rng: random.Random, category: str, claim: int, reject: bool, reopened: bool) -> tuple[str, int]:
    """What a ruling grants, in CNY: a refund repays the claim; a repair or replacement pays out nothing."""
    if reject:
        return "reject", 0
    if reopened:
        return "compensate", max(50, claim // 5)  # a top-up after an unsatisfied follow-up (R4)
    if category == "quality":
        decision = rng.choices(("refund", "replace", "repair", "compensate"), (50, 20, 15, 15))[0]
        return decision, {"refund": claim, "compensate": claim // 2}.get(decision, 0)
    if category == "price":
        return "refund", claim  # the overcharge
    return "compensate", max(50, int(claim * rng.uniform(0.4, 1.0)))


def _daytime(at: int, day0: int, hours: tuple[int, int]) -> int:
    """`at`, or the next morning if it falls at night: nobody registers or rules a complaint at 3 a.m.

    The night is squeezed into the first two hours of the morning, so the morning queue is worked off
    gradually rather than all on the stroke of opening.
    """
    opens, closes = hours
    night, length = (day0 + at - closes) % DAY, DAY - closes + opens
    return at if night >= length else at + length - night + night * 2 * HOUR // length


def _late(rng: random.Random, share: float, usual: tuple[int, int], late: tuple[int, int]) -> int:
    """A delay in seconds: usually within `usual`, a `share` of the time within `late` (the SLA breaches)."""
    return rng.randint(*late) if rng.random() < share else rng.randint(*usual)


def _claim(rng: random.Random, big_share: float) -> int:
    """Claimed CNY, log-uniform per tier: mostly 50–1,999; a tail to 9,999; rare majors to 50,000 (R5)."""
    roll = rng.random()
    low, high = (10_001, 50_000) if roll < big_share * 0.15 else (2_000, 9_999) if roll < big_share else (50, 1_999)
    return round(math.exp(rng.uniform(math.log(low), math.log(high))))


def _money(yuan: int) -> str:
    return f"{yuan}.00"


def _person(rng: random.Random) -> str:
    return rng.choice(_SURNAMES) + "".join(rng.choices(_GIVEN, k=rng.randint(1, 2)))
