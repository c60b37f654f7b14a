"""Rows for bench/analytics_pg.py: a large, plausible training database, generated lazily.

Ids are computed, not looked up, so each table is one stream for ``COPY``. Every agent has an
ability and a typing speed that grows with weeks since joining; an answer's score follows from
ability, the item's difficulty and a fixed hash of the answer id, so attempts (mean of their
items) and answers agree without keeping 2M scores in memory; the per-sitting figures releasing
files (``sittingfigure``, ``itemfigure``, ``itemdayfigure``) are summed from the same scores.
Script use is skewed (Zipf-like): the last tenth of the bank is never shown, about 15% of
lookups find nothing good.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate

from training.core.clock import team_date, team_zone_name

Table = tuple[str, list[str], Iterator[tuple[object, ...]]]

CATEGORIES = ["售前咨询", "价格优惠", "物流配送", "退换货", "退款", "售后维修", "发票", "账户支付", "其他"]
PRODUCTS = ["空气炸锅", "电饭煲", "扫地机器人", "蓝牙耳机", "保温杯", "电动牙刷", "加湿器", "吹风机",
            "净水器", "榨汁机", "台灯", "体脂秤", "剃须刀", "电热水壶", "风扇", "咖啡机", "料理机",
            "挂烫机", "投影仪", "路由器"]
TOPICS = {"售前咨询": "是什么材质的", "价格优惠": "有优惠券吗", "物流配送": "什么时候发货",
          "退换货": "可以换货吗", "退款": "退款多久到账", "售后维修": "坏了怎么保修", "发票": "能开发票吗",
          "账户支付": "能用花呗吗",
          "其他": "客服在吗"}
ODD = ["能不能寄到国外", "可以刻字吗", "能和别的订单合并吗", "支持以旧换新吗", "能开箱验货吗",
       "说明书丢了怎么办"]
REPLIES = ["亲，您好！付款后48小时内发货，发货后可以在订单详情里查看物流哦",
           "亲亲，退款会在1到3个工作日原路退回，请您留意账户",
           "您好，本店支持七天无理由退换，请在订单页申请售后",
           "亲，产品整机保修一年，请提供订单号我们帮您登记"]
TRAINERS = 10
SCRIPTS = 2000
MINED = 2000
KNOWLEDGE = 500
ITEMS = 20  # per paper: 10 scenario + 10 objective
COHORT_SIZE = 50
CERTIFICATIONS = 5


@dataclass(frozen=True)
class Shape:
    """How big the database is."""

    agents: int = 1000
    papers: int = 100
    lookups: int = 200_000
    seed: int = 20261123


def _ts(at: datetime) -> str:
    return at.isoformat()


def _j(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _unit(key: int) -> float:
    """A fixed pseudo-random number in [0, 1) for ``key`` (Knuth's multiplicative hash)."""
    return ((key * 2654435761) % 4294967296) / 4294967296


def tables(shape: Shape) -> Iterator[Table]:
    """Every table in foreign-key order with its column names and rows."""
    rng = random.Random(shape.seed)
    now = datetime.now(UTC)
    zone = team_zone_name()
    cohorts = -(-shape.agents // COHORT_SIZE)
    first_agent = 2 + TRAINERS  # user 1 is the admin, then the trainers
    ability = [rng.uniform(0.45, 0.95) for _ in range(shape.agents)]
    joined = [now - timedelta(days=rng.uniform(0, 400)) for _ in range(shape.agents)]
    difficulty = [rng.uniform(-0.25, 0.25) for _ in range(shape.papers * ITEMS)]
    published = [now - timedelta(days=1.5 * (shape.papers - p) + 3) for p in range(shape.papers)]

    def question(i: int) -> tuple[str, str]:
        category = CATEGORIES[i % len(CATEGORIES)]
        return f"{PRODUCTS[i % len(PRODUCTS)]}{TOPICS[category]}（{i}）", category

    def score(agent: int, item: int, answer_id: int) -> float:
        p = ability[agent] - difficulty[item]
        if item % ITEMS >= ITEMS // 2:  # objective: right or wrong
            return 1.0 if _unit(answer_id) < p else 0.0
        return round(min(1.0, max(0.0, p + (_unit(answer_id) - 0.5) * 0.4)), 2)

    def submitted(agent: int, paper: int) -> datetime:
        start = max(published[paper], joined[agent])
        return min(start + timedelta(days=0.1 + 3 * _unit(agent * 7919 + paper)), now - timedelta(hours=1))

    def attempt_id(paper: int, agent: int) -> int:
        return paper * shape.agents + agent + 1

    yield "cohort", ["id", "name", "description", "created_at"], (
        (c + 1, f"{c + 1}班", "", _ts(now - timedelta(days=400))) for c in range(cohorts))
    staff = [(1, "admin", "管理员", "admin", None)] + [
        (2 + t, f"trainer{t}", f"培训师{t}", "trainer", None) for t in range(TRAINERS)]
    agents = [(first_agent + a, f"agent{a:04d}", f"客服{a}", "agent" if a % 10 < 7 else "new_hire",
               a // COHORT_SIZE + 1) for a in range(shape.agents)]
    yield "user", ["id", "username", "display_name", "role", "cohort_id", "password_hash", "is_active",
                   "failed_logins", "created_at", "joined_at"], (
        (*u, "bench-no-login", True, 0, _ts(now - timedelta(days=400)),
         _ts(joined[u[0] - first_agent] if u[0] >= first_agent else now - timedelta(days=400)))
        for u in staff + agents)
    yield "script", ["id", "question", "category", "tags", "status", "current_version", "created_at",
                     "updated_at", "product", "variant"], (
        (s, question(s)[0], question(s)[1], _j(["常用"]), "approved" if s <= SCRIPTS - 50 else
         ("draft" if s % 2 else "archived"), 1, _ts(now - timedelta(days=300)), _ts(now - timedelta(days=30)),
         PRODUCTS[s % len(PRODUCTS)] if s % 3 == 0 else "", "") for s in range(1, SCRIPTS + 1))
    yield "scriptversion", ["id", "script_id", "version", "question", "answer", "note", "created_at",
                            "status", "approved_by"], (
        (s, s, 1, question(s)[0], REPLIES[s % len(REPLIES)], "", _ts(now - timedelta(days=300)),
         "approved", 2) for s in range(1, SCRIPTS + 1))
    yield "minedquestion", ["id", "question", "frequency", "category", "examples", "context", "agent_replies",
                            "hidden", "in_question_bank", "covered_by_script_id", "created_at"], (
        (m, question(m + 7)[0], 1 + int(200 * _unit(m) ** 3), question(m + 7)[1], _j([question(m + 7)[0]]),
         _j([]), _j([]), m % 20 == 0, True, (m % SCRIPTS) + 1 if m % 2 else None,
         _ts(now - timedelta(days=200 * _unit(m + 1)))) for m in range(1, MINED + 1))
    yield "knowledgeitem", ["id", "kind", "stem", "options", "answer", "explanation", "sku", "tags",
                            "created_at"], (
        (k, "single", f"{PRODUCTS[k % len(PRODUCTS)]}的保修期是多久（{k}）",
         _j(["一年", "两年", "三个月", "无"]), "A", "", "", _j([]), _ts(now - timedelta(days=300)))
        for k in range(1, KNOWLEDGE + 1))
    yield "exampaper", ["id", "title", "description", "status", "time_limit_minutes", "pass_mark",
                        "created_by", "created_at", "published_at", "shuffle"], (
        (p + 1, f"第{p + 1}期考核", "", "published", 60, 0.7, 2, _ts(published[p] - timedelta(days=1)),
         _ts(published[p]), False) for p in range(shape.papers))
    yield "examitem", ["id", "paper_id", "position", "kind", "mined_question_id", "knowledge_item_id",
                       "prompt", "context", "points"], (
        (p * ITEMS + i + 1, p + 1, i, "scenario" if i < ITEMS // 2 else "objective",
         (p * 10 + i) % MINED + 1 if i < ITEMS // 2 else None,
         None if i < ITEMS // 2 else (p * 10 + i) % KNOWLEDGE + 1,
         question((p * 10 + i) % MINED + 8)[0], _j([]), 1.0)
        for p in range(shape.papers) for i in range(ITEMS))
    yield "examassignment", ["id", "paper_id", "cohort_id", "opens_at", "max_attempts", "created_at"], (
        (p * cohorts + c + 1, p + 1, c + 1, _ts(published[p]), 1, _ts(published[p]))
        for p in range(shape.papers) for c in range(cohorts))

    def attempt_score(p: int, a: int) -> float:
        aid = attempt_id(p, a)
        return round(sum(score(a, p * ITEMS + i, (aid - 1) * ITEMS + i + 1) for i in range(ITEMS)) / ITEMS, 4)

    def speed(p: int, a: int, answer_id: int) -> float:
        weeks = max(0.0, (submitted(a, p) - joined[a]).days / 7)
        return round(min(160.0, 50 + 4 * weeks) * (0.8 + 0.4 * _unit(answer_id + 1)), 1)

    def role(a: int) -> str:
        return "agent" if a % 10 < 7 else "new_hire"

    def attempts() -> Iterator[tuple[object, ...]]:
        for p in range(shape.papers):
            for a in range(shape.agents):
                aid = attempt_id(p, a)
                done = submitted(a, p)
                yield (aid, p * cohorts + a // COHORT_SIZE + 1, first_agent + a,
                       _ts(done - timedelta(minutes=25)), _ts(done + timedelta(minutes=35)), _ts(done),
                       "submitted", attempt_score(p, a), 1,
                       _ts(done + timedelta(days=1)))

    yield "attempt", ["id", "assignment_id", "user_id", "started_at", "deadline_at", "submitted_at", "status",
                      "score", "number", "released_at"], attempts()

    def answers() -> Iterator[tuple[object, ...]]:
        for p in range(shape.papers):
            for a in range(shape.agents):
                aid = attempt_id(p, a)
                done = _ts(submitted(a, p))
                for i in range(ITEMS):
                    answer_id = (aid - 1) * ITEMS + i + 1
                    value = score(a, p * ITEMS + i, answer_id)
                    if i < ITEMS // 2:
                        yield (answer_id, aid, p * ITEMS + i + 1, REPLIES[answer_id % len(REPLIES)], "", done,
                               30 + 120 * _unit(answer_id + 2), speed(p, a, answer_id), value, value)
                    else:
                        yield (answer_id, aid, p * ITEMS + i + 1, "", "A" if value else "B", done,
                               5 + 20 * _unit(answer_id + 2), None, value, value)

    yield "answer", ["id", "attempt_id", "item_id", "text", "choice", "saved_at", "time_spent_seconds",
                     "chars_per_minute", "auto_score", "score"], answers()

    # Per-sitting figures, as releasing files them (training/exams/sitting_figures.py): every
    # sitting is released; its key is the agent's cohort and role and the local day of submission.
    def sitting_figures() -> Iterator[tuple[object, ...]]:
        for p in range(shape.papers):
            for a in range(shape.agents):
                aid = attempt_id(p, a)
                speeds = [speed(p, a, (aid - 1) * ITEMS + i + 1) for i in range(ITEMS // 2)]
                yield (aid, first_agent + a, a // COHORT_SIZE + 1, role(a),
                       team_date(submitted(a, p)).isoformat(), zone, len(speeds), sum(speeds))

    yield "sittingfigure", ["attempt_id", "user_id", "cohort_id", "role", "day", "zone", "typed_answers",
                            "typed_cpm"], sitting_figures()

    def item_figures(by_day: bool) -> Iterator[tuple[object, ...]]:
        for p in range(shape.papers):  # a paper's slots are summed over its sittings, then written
            sums: dict[tuple[object, ...], list[float]] = {}
            for a in range(shape.agents):
                aid, y = attempt_id(p, a), attempt_score(p, a)
                day = (team_date(submitted(a, p)).isoformat(), zone) if by_day else ()
                for i in range(ITEMS):
                    x = score(a, p * ITEMS + i, (aid - 1) * ITEMS + i + 1)
                    row = sums.setdefault((p * ITEMS + i + 1, a // COHORT_SIZE + 1, role(a), *day), [0.0] * 6)
                    for k, v in enumerate((1.0, x, y, x * y, x * x, y * y)):
                        row[k] += v
            for key, (n, *rest) in sorted(sums.items(), key=lambda kv: repr(kv[0])):
                yield (*key, int(n), *rest)

    sums = ["n", "sx", "sy", "sxy", "sxx", "syy"]
    yield "itemfigure", ["item_id", "cohort_id", "role", *sums], item_figures(False)
    yield "itemdayfigure", ["item_id", "cohort_id", "role", "day", "zone", *sums], item_figures(True)

    def reviews() -> Iterator[tuple[object, ...]]:
        rid = 0
        for p in range(shape.papers):
            for a in range(shape.agents):
                aid = attempt_id(p, a)
                if aid % 10:
                    continue
                at = _ts(submitted(a, p) + timedelta(hours=12))
                for i in range(ITEMS // 2):
                    answer_id = (aid - 1) * ITEMS + i + 1
                    base = score(a, p * ITEMS + i, answer_id)
                    for r in range(2 if aid % 40 == 0 else 1):
                        rid += 1
                        noisy = min(1.0, max(0.0, base + (_unit(answer_id * 3 + r) - 0.5) * 0.3))
                        yield rid, answer_id, 2 + (aid // 10 + r) % TRAINERS, round(noisy, 2), "", at

    yield "review", ["id", "answer_id", "reviewer_id", "score", "comment", "created_at"], reviews()
    yield "certification", ["id", "name", "description", "pass_mark", "valid_days", "required_for_duty",
                            "product_line"], (
        (c, f"{PRODUCTS[c]}上岗认证", "", 0.8, 180, c == 1, PRODUCTS[c])
        for c in range(1, CERTIFICATIONS + 1))
    yield "certificationpaper", ["certification_id", "paper_id"], (
        (c, 2 * c - 1 + k)
        for c in range(1, CERTIFICATIONS + 1) for k in range(2) if 2 * c - 1 + k <= shape.papers)

    def certificates() -> Iterator[tuple[object, ...]]:
        cid = 0
        for a in range(shape.agents):
            for c in range(1, CERTIFICATIONS + 1):
                if ability[a] < 0.55 + 0.05 * c:
                    continue
                cid += 1
                issued = now - timedelta(days=200 * _unit(cid * 13))
                yield (cid, c, first_agent + a, _ts(issued), _ts(issued + timedelta(days=180)),
                       _ts(now) if cid % 33 == 0 else None, f"HS{cid:07d}", "",
                       _ts(now - timedelta(days=2)) if cid % 20 == 0 else None)

    yield "certificate", ["id", "certification_id", "user_id", "issued_at", "expires_at", "revoked_at",
                          "number", "recert_reason", "recert_flagged_at"], certificates()
    shown = SCRIPTS * 9 // 10  # the last tenth is never shown
    weights = list(accumulate(1 / (s + 1) ** 0.8 for s in range(shown)))
    good = [f"{PRODUCTS[i % len(PRODUCTS)]}{TOPICS[CATEGORIES[i % len(CATEGORIES)]]}" for i in range(180)]
    weak = [f"{PRODUCTS[i % len(PRODUCTS)]}{ODD[i % len(ODD)]}{'' if i < 120 else i}" for i in range(1500)]

    def hits() -> list[int]:
        """Five distinct scripts, popular ones more often."""
        return list(dict.fromkeys(s + 1 for s in rng.choices(range(shown), cum_weights=weights, k=8)))[:5]

    def lookups() -> Iterator[tuple[object, ...]]:
        for n in range(1, shape.lookups + 1):
            agent = first_agent + rng.randrange(shape.agents)
            at = _ts(now - timedelta(days=90 * rng.random()))
            if rng.random() < 0.15:
                top = None if rng.random() < 0.07 else round(0.8 + 0.095 * rng.random(), 4)
                yield n, agent, rng.choice(weak[: 200 + n % 1300]), _j([] if top is None else hits()), top, at
            else:
                yield n, agent, rng.choice(good), _j(hits()), round(0.9 + 0.09 * rng.random(), 4), at

    yield "lookuplog", ["id", "user_id", "query", "hits", "top_score", "created_at"], lookups()
    yield "scriptfeedback", ["id", "script_id", "version", "user_id", "kind", "comment", "created_at"], (
        (f, 1 + int((SCRIPTS - 50) * _unit(f) ** 2), 1, first_agent + f % shape.agents,
         "outdated" if f % 50 == 0 else "useful", "活动已结束，话术里的价格不对" if f % 150 == 0 else "",
         _ts(now - timedelta(days=120 * _unit(f + 5)))) for f in range(1, 20_001))
