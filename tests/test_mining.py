"""Question mining: extraction rules, categories, clustering with the real encoder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from training.chats.types import AGENT, CUSTOMER, ChatLine
from training.mining.categories import PRECEDENCE, categorise, majority_category
from training.mining.cluster import leader_clusters
from training.mining.mine import (
    DEFAULT_THRESHOLD,
    MAX_EXAMPLES,
    MAX_REPLIES,
    CustomerQuestion,
    QuestionCluster,
    cluster_questions,
    extract_questions,
    mine_questions,
)
from training.mining.text import dedupe_key, embedding_text, is_context_fragment, is_question
from training.models import Category
from training.nlp.embeddings import Embedder

DEMO_CHATLOG = Path(__file__).resolve().parents[1] / "data" / "demo" / "chatlog.tsv"

Turn = tuple[str, str]  # (role, text)


def chat(*sessions: Sequence[Turn]) -> list[ChatLine]:
    """Chat lines of the given sessions (each a list of (role, text)), keys s0, s1, …"""
    return [
        ChatLine(session_key=f"s{n}", seq=seq, role=role, text=text)
        for n, turns in enumerate(sessions)
        for seq, (role, text) in enumerate(turns)
    ]


def c(text: str) -> Turn:
    return (CUSTOMER, text)


def a(text: str) -> Turn:
    return (AGENT, text)


def read_jddc_tsv(path: Path) -> list[ChatLine]:
    """The 7-column JD export (session, customer, sender 0/1, transferred, repeat, sku, content)."""
    lines = []
    for seq, raw in enumerate(path.read_text(encoding="utf-8").splitlines()):
        cols = raw.split("\t")
        if len(cols) >= 7:
            role = CUSTOMER if cols[2] == "0" else AGENT
            lines.append(ChatLine(cols[0], seq, role, "\t".join(cols[6:]), sku=cols[5]))
    return lines


def question(text: str, session: str = "s") -> CustomerQuestion:
    return CustomerQuestion(session_key=session, text=text, context=[], agent_reply=f"答复：{text}")


def questions_of(*texts_and_counts: tuple[str, int]) -> list[CustomerQuestion]:
    return [question(t, f"s{i}-{k}") for i, (t, n) in enumerate(texts_and_counts) for k in range(n)]


# ---------------------------------------------------------------------------- extraction


def test_extraction_drops_greetings_thanks_emoji_links_and_system_lines() -> None:
    lines = chat(
        [
            c("在吗"),
            c("你好"),
            a("您好，请问有什么可以帮您？"),
            c("咨询订单号:[订单x] 订单金额:[金额x] 下单时间:[日期x]"),
            c("[订单编号:[订单x]，订单金额:[金额x]，下单时间:[日期x] [时间x]]"),
            c("我要转人工"),
            a("亲，我是人工客服"),
            c("#E-s[数字x]"),
            c("[表情] [图片]"),
            c("[链接x]"),
            c("[链接] [表情]"),
            c("[订单号]"),
            c("https://item.example.com/123.html"),
            c("[订单x]"),
            c("订单号:[订单x]"),
            c("?"),
            a("亲，请问您要咨询什么呢"),
            c("这个什么时候发货"),
            a("亲，48小时内发货哦"),
            c("好的谢谢"),
            c("嗯嗯"),
            c("ok"),
            a("不客气~ #E-s[数字x]"),
            c("没有了，谢谢"),
        ]
    )
    found = extract_questions(lines)
    assert [q.text for q in found] == ["这个什么时候发货"]
    assert found[0].agent_reply == "亲，48小时内发货哦"


def test_extraction_cuts_system_prefixes_and_greetings_out_of_a_question() -> None:
    lines = chat(
        [c("人工客服 京东快递(移动端) 你好 地址可以帮我修改下吗")],
        [c("咨询订单号:[订单x] 订单金额:[金额x] 下单时间:[日期x] 明天能到吗")],
        [c("顾客通过点击web咚咚[站点x]信息发送:[订单编号:[订单x]，订单金额:[金额x]，下单时间:[日期x] "
           "[时间x]] 这两个订单的发票是开在一起吗?")],
        [c("请选择咨询订单 在吗 我申请售后的订单还未处理吗 请选择咨询订单")],
        [c("您好，这个有货吗 #E-s[数字x]")],
    )
    assert [q.text for q in extract_questions(lines)] == [
        "地址可以帮我修改下吗",
        "明天能到吗",
        "这两个订单的发票是开在一起吗?",
        "我申请售后的订单还未处理吗",
        "这个有货吗",
    ]


def test_extraction_merges_consecutive_customer_messages_into_one_question() -> None:
    lines = chat(
        [
            c("我想问一下"),
            c("什么时候发货"),
            a("亲，今天就发"),
            c("能拖地吗"),
            c("拖完地毯会不会湿"),
            c("能拖地吗"),  # repeated message: kept once
            a("可以拖地的亲"),
        ]
    )
    assert [q.text for q in extract_questions(lines)] == ["什么时候发货", "能拖地吗 拖完地毯会不会湿"]


def test_extraction_keeps_context_and_the_agent_reply() -> None:
    lines = chat(
        [
            c("在吗"),
            a("在的亲，有什么可以帮您"),
            c("空气炸锅两款有啥区别啊"),
            a("AF01是5.5L的"),
            a("AF02是7L双层的"),
            c("我家三口人"),
            a("三口之家选5.5L就够啦 #E-s[数字x]"),
            c("那多久能发货"),
        ]
    )
    found = extract_questions(lines)
    assert [q.text for q in found] == ["空气炸锅两款有啥区别啊", "那多久能发货"]
    first, second = found
    assert first.context == [
        {"role": CUSTOMER, "text": "在吗"},
        {"role": AGENT, "text": "在的亲，有什么可以帮您"},
    ]
    assert first.agent_reply == "AF01是5.5L的 AF02是7L双层的"
    assert second.agent_reply == ""  # the session ends with the question
    assert second.context == [  # the last four turns, emoji code removed
        {"role": CUSTOMER, "text": "空气炸锅两款有啥区别啊"},
        {"role": AGENT, "text": "AF01是5.5L的 AF02是7L双层的"},
        {"role": CUSTOMER, "text": "我家三口人"},
        {"role": AGENT, "text": "三口之家选5.5L就够啦"},
    ]
    assert all(q.session_key == "s0" for q in found)


def test_extraction_orders_each_session_by_seq_and_keeps_sessions_apart() -> None:
    lines = [
        ChatLine("b", 2, AGENT, "亲，付款后48小时内发货"),
        ChatLine("a", 1, CUSTOMER, "能开发票吗"),
        ChatLine("b", 1, CUSTOMER, "什么时候发货"),
        ChatLine("a", 2, AGENT, "可以开的亲"),
    ]
    found = extract_questions(lines)
    assert [(q.session_key, q.text, q.agent_reply) for q in found] == [
        ("b", "什么时候发货", "亲，付款后48小时内发货"),
        ("a", "能开发票吗", "可以开的亲"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "这个什么时候发货",
        "今天下单啥时候能发",
        "几号能发货啊",
        "多少天发货",
        "能开发票吗",
        "怎么申请退款",
        "破壁机声音大不大",
        "有没有白色",
        "可以开纸质的发票不",
        "明天应该能到吧",
        "我的快递呢",
        "帮我改一下地址",
        "麻烦您尽快处理",
        "催一下快递",
        "我要退货",
        "为啥还没到?",
        "这个订单怎么回事",
        "保修多久",
    ],
)
def test_is_question_accepts_questions_and_requests(text: str) -> None:
    assert is_question(text)


@pytest.mark.parametrize(
    "text",
    [
        "我家三口人",
        "好的 那我拍5.5的",
        "那就这样吧",
        "我去微信看一下",
        "我再看看",
        "这么贵",
        "没什么问题了",
        "好几天了",
        "买错了",
        "地址是陕西[地址x]",
    ],
)
def test_is_question_rejects_statements(text: str) -> None:
    assert not is_question(text)


@pytest.mark.parametrize("text", [
    "那咋办", "那怎么办呢", "你帮我弄吧", "那你帮我处理一下吧", "一年多了吧", "两天了", "明天下午",
    "下午三点吧", "[数字x]号", "[日期x] [时间x]", "为什么", "然后呢", "要多久", "什么意思", "能行吗",
    "怎么样了", "几点?", "可以吗",
])
def test_context_fragments_are_recognised(text: str) -> None:
    assert is_context_fragment(text)


@pytest.mark.parametrize("text", [
    "什么时候发货", "能退吗", "有货吗", "多少钱", "地址填错了能改吗", "查到了吗", "有什么区别",
    "明天能到吗", "几天能到", "催一下快递", "能开发票吗", "包邮吗", "有优惠券吗", "保修多久", "在哪里改",
])
def test_questions_with_a_topic_are_not_fragments(text: str) -> None:
    assert not is_context_fragment(text)


def test_fragments_are_not_mined_as_questions_but_the_rest_of_their_turn_is() -> None:
    lines = chat(
        [c("我的地址填错了能改吗"), a("已经发货了，改不了"), c("那咋办"), a("可以拒收"),
         c("你帮我弄吧"), a("好的"), c("用了多久了？"), a("用了多久？"), c("一年多了吧")],
        [c("那咋办 收件地址能改一下吗"), a("可以")],
    )
    assert [q.text for q in extract_questions(lines)] == ["我的地址填错了能改吗", "用了多久了?",
                                                         "收件地址能改一下吗"]


def test_dedupe_key_ignores_punctuation_spaces_case_and_trailing_particles() -> None:
    assert dedupe_key("什么时候发货？") == dedupe_key("什么时候 发货啊") == dedupe_key("什么时候发货")
    assert dedupe_key("OK吗") == dedupe_key("ok")
    assert dedupe_key("什么时候发货") != dedupe_key("什么时候到货")


def test_embedding_text_drops_words_that_ask_nothing() -> None:
    assert embedding_text("请问这个订单什么时候发货？谢谢") == "什么时候发货?"
    assert embedding_text("那[订单x]到哪了") == embedding_text("[订单号]到哪了") == "到哪了"
    assert embedding_text("[数字x]号能到吗") == "数字号能到吗"
    assert embedding_text("好的，好用吗") == "好用吗"
    assert embedding_text("这个订单") == "这个订单"  # nothing left: keep the text
    assert dedupe_key("麻烦问下我的订单什么时候发货") == dedupe_key("什么时候发货")


# ---------------------------------------------------------------------------- categories


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("电饭煲内胆是什么材质的", Category.PRESALE),
        ("粉色啥时候有货啊", Category.PRESALE),
        ("5.5升和7升有啥区别", Category.PRESALE),
        ("能便宜点吗", Category.PRICE),
        ("有优惠券吗", Category.PRICE),
        ("买了三天就降价了能保价吗", Category.PRICE),
        ("今天下单啥时候能发", Category.LOGISTICS),
        ("我的快递到哪了", Category.LOGISTICS),
        ("可以帮我改下地址吗", Category.LOGISTICS),
        ("能发顺丰吗", Category.LOGISTICS),
        ("不喜欢可以退货吗", Category.RETURN),
        ("尺码小了能换大一号吗", Category.RETURN),
        ("退货快递什么时候来取件", Category.RETURN),
        ("退款什么时候到账", Category.REFUND),
        ("退货以后多久退款", Category.REFUND),
        ("我想取消订单", Category.REFUND),
        ("水壶插上电不亮是坏了吗", Category.REPAIR),
        ("保修多久", Category.REPAIR),
        ("返修没人来取件", Category.REPAIR),
        ("能开发票吗", Category.INVOICE),
        ("发票抬头写错了能改吗", Category.INVOICE),
        ("退货了发票怎么办", Category.INVOICE),
        ("可以用花呗分期吗", Category.PAYMENT),
        ("付款的时候提示支付失败", Category.PAYMENT),
        ("付款后多久发货", Category.LOGISTICS),
        ("今天周六也发吗", Category.LOGISTICS),
        ("空气炸锅不加热了怎么办", Category.REPAIR),
        ("为什么只退了我279 我付了299", Category.REFUND),
        ("内胆涂层安全吗", Category.PRESALE),
        ("你是机器人吗", Category.OTHER),
    ],
)
def test_categorise(text: str, category: Category) -> None:
    assert categorise(text) is category


def test_majority_category_ignores_other_and_breaks_ties_by_precedence() -> None:
    assert majority_category([(Category.OTHER, 5), (Category.LOGISTICS, 2), (Category.PRICE, 1)]) is (
        Category.LOGISTICS
    )
    assert majority_category([(Category.OTHER, 3)]) is Category.OTHER
    assert majority_category([]) is Category.OTHER
    # 3 vs 3: 退款 comes before 物流配送 in PRECEDENCE
    assert majority_category([(Category.LOGISTICS, 3), (Category.REFUND, 2), (Category.REFUND, 1)]) is (
        Category.REFUND
    )


def test_precedence_lists_every_category_once_with_other_last() -> None:
    assert set(PRECEDENCE) == set(Category)
    assert len(PRECEDENCE) == len(Category)
    assert PRECEDENCE[-1] is Category.OTHER
    assert PRECEDENCE.index(Category.INVOICE) < PRECEDENCE.index(Category.REFUND)


# ---------------------------------------------------------------------------- clustering maths


def test_leader_clusters_groups_close_rows_and_prefers_the_heaviest_leader() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(3, 16, dtype=np.float32)
    rows = np.repeat(centres, 4, axis=0) + 0.05 * rng.standard_normal((12, 16)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    weights = [1] * 12
    weights[6] = 9  # the heaviest row of the middle group
    labels = leader_clusters(rows, weights, threshold=0.9)
    assert len(set(labels[0:4])) == len(set(labels[4:8])) == len(set(labels[8:12])) == 1
    assert len(set(labels)) == 3
    assert labels[4] == 6
    assert leader_clusters(rows, weights, threshold=1.01) == list(range(12))
    assert leader_clusters(rows[:0], [], threshold=0.9) == []


def test_leader_clusters_never_joins_incompatible_groups() -> None:
    rows = np.ones((4, 8), dtype=np.float32) / np.sqrt(8)
    labels = leader_clusters(rows, [1, 1, 1, 1], threshold=0.5, compatible=[0, 0, 1, -1])
    assert labels[0] == labels[1]
    assert labels[2] != labels[0]
    assert labels[3] in (labels[0], labels[2])


def _dense_leader_clusters(vectors: np.ndarray, weights: Sequence[int], threshold: float,
                           compatible: Sequence[int]) -> list[int]:
    """The former implementation on the full similarity matrix: the reference for the blockwise one."""
    n, w, g = len(vectors), np.asarray(weights, dtype=np.float64), np.asarray(compatible)
    joinable = (g[None, :] == g[:, None]) | (g[None, :] < 0)  # [leader, member]
    sims = vectors @ vectors.T
    mask = (sims >= threshold) & joinable
    density = (mask * w[None, :]).sum(axis=1)
    leader_of = np.full(n, -1)
    leaders: list[int] = []
    for i in np.lexsort((np.arange(n), -w, -density)):
        if leader_of[i] < 0:
            leaders.append(int(i))
            taken = np.flatnonzero(mask[i])
            leader_of[taken[leader_of[taken] < 0]] = i
            leader_of[i] = i
    lead = np.asarray(leaders)
    to_lead = np.where(joinable[lead].T, sims[:, lead], -2.0)
    for row in range(n):
        if leader_of[row] != row and to_lead[row].max() >= threshold:
            leader_of[row] = lead[np.argmax(to_lead[row])]
    return [int(x) for x in leader_of]


@pytest.mark.parametrize("block", [1, 7, 512])
def test_blockwise_leader_clusters_equal_the_dense_reference(block: int) -> None:
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((12, 32)).astype(np.float32)
    rows = np.repeat(centres, 15, axis=0) + 0.3 * rng.standard_normal((180, 32)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    weights = rng.integers(1, 5, size=180).tolist()
    groups = rng.integers(-1, 3, size=180).tolist()
    for threshold in (0.85, 0.9, 0.95):
        expected = _dense_leader_clusters(rows, weights, threshold, groups)
        assert 20 < len(set(expected)) < 170  # real merging, not all singletons or one blob
        assert leader_clusters(rows, weights, threshold, compatible=groups, block=block) == expected
    same = [0] * 180
    assert leader_clusters(rows, weights, 0.9, block=block) == _dense_leader_clusters(
        rows, weights, 0.9, same)


@pytest.mark.encoder
def test_blockwise_leader_clusters_equal_the_dense_reference_on_the_demo_log(
        embedder: Embedder) -> None:
    questions = extract_questions(read_jddc_tsv(DEMO_CHATLOG))
    texts = list(dict.fromkeys(embedding_text(q.text) for q in questions))
    vectors = embedder.embed(texts)
    groups = [-1 if (cat := categorise(t)) is Category.OTHER else PRECEDENCE.index(cat) for t in texts]
    weights = [1 + len(t) % 3 for t in texts]
    expected = _dense_leader_clusters(vectors, weights, DEFAULT_THRESHOLD, groups)
    assert len(set(expected)) < len(texts)
    assert leader_clusters(vectors, weights, DEFAULT_THRESHOLD, compatible=groups, block=16) == expected


# ---------------------------------------------------------------------------- clustering (encoder)

SHIPPING = ["什么时候发货", "今天下单啥时候能发", "几号能发货啊"]
INVOICE = ["能开发票吗", "可以开增值税专用发票吗"]
REFUND = ["退款什么时候到账", "退款怎么还没到账"]


@pytest.mark.encoder
def test_paraphrases_share_a_cluster_while_invoice_and_refund_stay_apart(embedder: Embedder) -> None:
    qs = questions_of(*[(t, 1) for t in SHIPPING + INVOICE + REFUND])
    clusters = cluster_questions(qs, embedder=embedder)
    cluster_of = {text: i for i, cl in enumerate(clusters) for text in [cl.question, *cl.examples]}
    assert len({cluster_of[t] for t in SHIPPING}) == 1
    shipping = clusters[cluster_of[SHIPPING[0]]]
    assert shipping.frequency == 3
    assert shipping.category == Category.LOGISTICS.value
    assert not {cluster_of[t] for t in INVOICE} & {cluster_of[t] for t in REFUND}
    assert cluster_of[SHIPPING[0]] not in {cluster_of[t] for t in INVOICE + REFUND}
    assert {clusters[cluster_of[t]].category for t in INVOICE} == {Category.INVOICE.value}
    assert {clusters[cluster_of[t]].category for t in REFUND} == {Category.REFUND.value}


@pytest.mark.encoder
def test_frequencies_sum_to_the_questions_and_clusters_come_most_frequent_first(
    embedder: Embedder,
) -> None:
    qs = questions_of(("能开发票吗", 2), ("什么时候发货", 3), ("退款什么时候到账", 1), ("保修多久", 2))
    clusters = cluster_questions(qs, embedder=embedder)
    assert sum(cl.frequency for cl in clusters) == len(qs)
    keys = [(-cl.frequency, cl.question) for cl in clusters]
    assert keys == sorted(keys)
    assert clusters[0].question == "什么时候发货"
    assert clusters[0].frequency == 3


@pytest.mark.encoder
def test_cluster_keeps_distinct_examples_replies_and_the_representatives_context(
    embedder: Embedder,
) -> None:
    qs = [
        CustomerQuestion("s1", "什么时候发货", [{"role": CUSTOMER, "text": "在吗"}], "48小时内发货"),
        CustomerQuestion("s2", "什么时候发货？", [], "48小时内发货"),
        CustomerQuestion("s3", "什么时候发货", [], "今天就发"),
        CustomerQuestion("s4", "啥时候发货啊", [], ""),
    ]
    [cluster] = cluster_questions(qs, embedder=embedder)
    assert cluster == QuestionCluster(
        question="什么时候发货",
        frequency=4,
        category=Category.LOGISTICS.value,
        examples=["啥时候发货啊"],
        context=[{"role": CUSTOMER, "text": "在吗"}],
        agent_replies=["48小时内发货", "今天就发"],
        members=["什么时候发货", "啥时候发货啊"],
    )


@pytest.mark.encoder
def test_examples_and_replies_are_capped(embedder: Embedder) -> None:
    variants = [f"什么时候发货{'啊' * k}{'?' * k}" for k in range(3)] + [
        "啥时候发货", "什么时候能发货", "几时发货", "哪天发货", "多久发货", "什么时候给我发货",
        "什么时间发货", "啥时候能发货", "几号发货", "多久能发货", "何时发货", "几天发货",
    ]
    qs = [CustomerQuestion(f"s{i}", t, [], f"回复{i}") for i, t in enumerate(variants)]
    clusters = cluster_questions(qs, embedder=embedder)
    biggest = clusters[0]
    assert len(biggest.examples) <= MAX_EXAMPLES
    assert len(set(biggest.examples)) == len(biggest.examples)
    assert biggest.question not in biggest.examples
    assert len(biggest.agent_replies) <= MAX_REPLIES
    assert len(set(biggest.agent_replies)) == len(biggest.agent_replies)


@pytest.mark.encoder
def test_demo_chatlog_yields_repeated_shipping_questions(embedder: Embedder) -> None:
    clusters = mine_questions(read_jddc_tsv(DEMO_CHATLOG), embedder=embedder)
    assert clusters, "no questions mined from the demo chat log"
    shipping = [
        cl for cl in clusters
        if cl.frequency > 1 and cl.category == Category.LOGISTICS.value and "发" in cl.question
    ]
    assert shipping, [(cl.question, cl.frequency) for cl in clusters[:10]]
    assert any("发货" in t for cl in shipping for t in [cl.question, *cl.examples])
    assert all(cl.agent_replies for cl in shipping)
    assert clusters[0].frequency > 1


@pytest.mark.encoder
def test_mining_is_deterministic_and_reports_progress(embedder: Embedder) -> None:
    lines = read_jddc_tsv(DEMO_CHATLOG)
    seen: list[float] = []
    first = mine_questions(lines, embedder=embedder, progress=seen.append)
    second = mine_questions(lines, embedder=embedder)
    assert first == second
    questions = extract_questions(lines)
    assert first == cluster_questions(questions, embedder=embedder, threshold=DEFAULT_THRESHOLD)
    assert seen[0] == 0.0 and seen[-1] == 1.0
    assert seen == sorted(seen)


class _NoEncoder:
    """Fails the test if anything is embedded."""

    model_id = "no-encoder"

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> None:
        raise AssertionError(f"nothing should be embedded, got {list(texts)}")


def test_no_questions_no_clusters_and_nothing_embedded() -> None:
    embedder = Embedder(_NoEncoder())  # type: ignore[arg-type]
    assert cluster_questions([], embedder=embedder) == []
    assert mine_questions(chat([c("你好"), c("谢谢"), c("[图片]")]), embedder=embedder) == []
