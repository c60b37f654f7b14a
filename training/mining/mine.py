"""Question mining: the customer questions of a chat log, near-duplicates merged and counted.

``extract_questions`` turns chat lines into customer questions (each with its chat context and
the agent's real reply), ``cluster_questions`` merges paraphrases with the sentence encoder and
``mine_questions`` does both. Text rules live in ``training.mining.text``, the clustering maths
in ``training.mining.cluster``, categories in ``training.mining.categories``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from training.chats.types import AGENT, CUSTOMER, ChatLine
from training.mining.categories import PRECEDENCE, categorise, majority_category
from training.mining.cluster import Vectors, centrality, leader_clusters
from training.mining.text import (
    clean_customer_message,
    clean_reply,
    content_segments,
    dedupe_key,
    embedding_text,
    is_context_fragment,
    is_interrogative,
    is_question,
)
from training.models import Category
from training.nlp.embeddings import Embedder
from training.nlp.model_versions import model_threshold

#: Cosine threshold of "same question" for the embedded multilingual-e5-small: the best F0.5 on
#: BQ (customer-service paraphrases), inside the flat optimum of BQ + LCQMC; measured by
#: ``bench/cluster_threshold.py``. With another model, re-run that bench.
DEFAULT_THRESHOLD = 0.92
#: Turns of chat (both roles) kept before each question as its context.
CONTEXT_TURNS = 4
MAX_EXAMPLES = 10
MAX_REPLIES = 5
# Members whose centrality is this close to the best are equally typical: the most frequent,
# then the shortest of them represents the cluster.
_TYPICAL_MARGIN = 0.01
_SHORT_FORM = 15


@dataclass
class CustomerQuestion:
    """One customer turn that asks something, with what came before and what the agent said."""

    session_key: str
    text: str
    context: list[dict[str, str]] = field(default_factory=list)
    agent_reply: str = ""


@dataclass
class QuestionCluster:
    """Near-duplicate customer questions merged under one representative question."""

    question: str
    frequency: int
    category: str
    examples: list[str] = field(default_factory=list)
    context: list[dict[str, str]] = field(default_factory=list)
    agent_replies: list[str] = field(default_factory=list)
    #: Every distinct wording counted, most typical first (``examples`` keeps only a few).
    members: list[str] = field(default_factory=list)


@dataclass
class _Turn:
    role: str
    text: str  # for context and replies: noise removed, greetings kept
    segments: list[str] = field(default_factory=list)  # customer turns: the meaningful parts


def _sessions(lines: Iterable[ChatLine]) -> list[list[ChatLine]]:
    """Lines grouped by session (first-seen order), each session sorted by ``seq``."""
    by_session: dict[str, list[ChatLine]] = defaultdict(list)
    for line in lines:
        by_session[line.session_key].append(line)
    return [sorted(group, key=lambda line: line.seq) for group in by_session.values()]


def _turns(session: Sequence[ChatLine]) -> list[_Turn]:
    """Consecutive messages of one role merged into turns; lines of other roles are skipped."""
    turns: list[_Turn] = []
    for line in session:
        if line.role not in (CUSTOMER, AGENT):
            continue
        if line.role == CUSTOMER:
            text = clean_customer_message(line.text)
            segments = content_segments(text)
        else:
            text, segments = clean_reply(line.text), []
        if turns and turns[-1].role == line.role:
            last = turns[-1]
            last.text = f"{last.text} {text}".strip()
            last.segments.extend(s for s in segments if s not in last.segments)
        else:
            turns.append(_Turn(line.role, text, list(dict.fromkeys(segments))))
    return turns


def extract_questions(lines: Sequence[ChatLine]) -> list[CustomerQuestion]:
    """The customer turns of a chat log that ask something, in session and message order."""
    questions: list[CustomerQuestion] = []
    for session in _sessions(lines):
        turns = _turns(session)
        for i, turn in enumerate(turns):
            if turn.role != CUSTOMER or not turn.segments:
                continue
            if not is_question(" ".join(turn.segments)):
                continue
            # "那咋办", "你帮我弄吧", "一年多了吧": what follows from the question before is no
            # question of its own; the rest of the turn still counts ("那咋办 地址填错了").
            kept = [s for s in turn.segments if not is_context_fragment(s)]
            if not kept:
                continue
            text = " ".join(kept)
            context = [{"role": t.role, "text": t.text} for t in turns[:i] if t.text]
            following = turns[i + 1] if i + 1 < len(turns) else None
            reply = following.text if following is not None and following.role == AGENT else ""
            questions.append(
                CustomerQuestion(session[0].session_key, text, context[-CONTEXT_TURNS:], reply)
            )
    return questions


def cluster_questions(
    questions: Sequence[CustomerQuestion],
    *,
    embedder: Embedder,
    threshold: float = DEFAULT_THRESHOLD,
    progress: Callable[[float], None] | None = None,
) -> list[QuestionCluster]:
    """Merge near-duplicate questions into clusters, most frequent first.

    Questions that are identical up to punctuation, case, lead-ins ("请问") and trailing
    particles are embedded once; distinct texts are grouped by
    :func:`training.mining.cluster.leader_clusters`, never across categories.

    Args:
        questions: customer questions, e.g. from :func:`extract_questions`.
        embedder: encoder plus cache; its embeddings must be L2-normalised.
        threshold: minimum cosine between a question and its cluster's leader.
        progress: called with the fraction done (0..1); also turns on the encoder's progress bar.

    Returns:
        Clusters sorted by frequency (descending), then by representative question text.
    """
    if progress is not None:
        progress(0.0)
    # Distinct texts, in first-seen order, with the questions (indices) behind each.
    members: dict[str, list[int]] = {}
    for i, q in enumerate(questions):
        members.setdefault(dedupe_key(q.text), []).append(i)
    keys = list(members)
    if not keys:
        if progress is not None:
            progress(1.0)
        return []
    shown = {k: _most_common_text([questions[i].text for i in members[k]]) for k in keys}
    vectors = embedder.embed([embedding_text(shown[k]) for k in keys], show_progress=progress is not None)
    if progress is not None:
        progress(0.5)
    weights = [len(members[k]) for k in keys]
    categories = [categorise(shown[k]) for k in keys]
    # Questions of different categories never merge, however close their embeddings: e5's
    # cosines are high across the board, and "能开发票吗" vs "能退款吗" differ in one word.
    # Uncategorised questions (其他) may join any cluster.
    groups = [-1 if c is Category.OTHER else PRECEDENCE.index(c) for c in categories]
    labels = leader_clusters(
        vectors, weights, threshold, compatible=groups,
        progress=None if progress is None else (lambda f: progress(0.5 + 0.45 * f)),
    )

    rows_of: dict[int, list[int]] = defaultdict(list)
    for row, leader in enumerate(labels):
        rows_of[leader].append(row)
    clusters: list[tuple[QuestionCluster, int]] = []
    for rows in rows_of.values():
        cluster = _build_cluster(rows, keys, shown, members, questions, vectors, weights, categories)
        clusters.append((cluster, rows[0]))
    clusters.sort(key=lambda item: (-item[0].frequency, item[0].question, item[1]))
    if progress is not None:
        progress(1.0)
    return [cluster for cluster, _ in clusters]


def _most_common_text(texts: Sequence[str]) -> str:
    """The most frequent of several spellings; ties go to the first seen."""
    counts = Counter(texts)
    return max(dict.fromkeys(texts), key=lambda t: counts[t])


def _build_cluster(
    rows: list[int],
    keys: list[str],
    shown: dict[str, str],
    members: dict[str, list[int]],
    questions: Sequence[CustomerQuestion],
    vectors: Vectors,
    weights: list[int],
    categories: list[Category],
) -> QuestionCluster:
    """One cluster from its distinct-text rows: representative, examples, replies, category."""
    row_weights = [weights[r] for r in rows]
    central = centrality(vectors[rows], row_weights)
    lengths = [len(shown[keys[r]]) for r in rows]
    # Long turns that tell a whole story sit near the middle of a cluster too, but a trainer
    # wants the short form: only members up to the median length (at least 15 chars) may lead.
    short = {j for j, n in enumerate(lengths) if n <= max(_SHORT_FORM, float(np.median(lengths)))}
    best = max(float(central[j]) for j in short)
    # Most typical first: short and central, then frequent, then phrased as a question, then short.
    order = sorted(
        range(len(rows)),
        key=lambda j: (
            j not in short or central[j] < best - _TYPICAL_MARGIN,
            -row_weights[j],
            not is_interrogative(shown[keys[rows[j]]]),
            lengths[j],
            -central[j],
            rows[j],
        ),
    )
    ranked = [rows[j] for j in order]
    representative = ranked[0]
    turns = [i for r in ranked for i in members[keys[r]]]
    replies = list(dict.fromkeys(questions[i].agent_reply for i in turns if questions[i].agent_reply))
    category = majority_category((categories[r], weights[r]) for r in rows)
    return QuestionCluster(
        question=shown[keys[representative]],
        frequency=sum(row_weights),
        category=category.value,
        examples=[shown[keys[r]] for r in ranked[1 : MAX_EXAMPLES + 1]],
        context=list(questions[members[keys[representative]][0]].context),
        agent_replies=replies[:MAX_REPLIES],
        members=[shown[keys[r]] for r in ranked],
    )


def mine_questions(
    lines: Sequence[ChatLine],
    *,
    embedder: Embedder,
    threshold: float | None = None,
    progress: Callable[[float], None] | None = None,
) -> list[QuestionCluster]:
    """The customer questions of a chat log, near-duplicates merged, most frequent first.

    Args:
        lines: the chat log's messages (personal data already masked), any session order.
        embedder: encoder plus cache used to compare questions.
        threshold: cosine threshold of "same question"; ``None`` means ``DEFAULT_THRESHOLD`` on
            the embedder's cosine scale (``training.nlp.model_versions.model_threshold``).
        progress: called with the fraction done (0..1), e.g. to drive a progress bar on stderr.

    Returns:
        One ``QuestionCluster`` per distinct question, sorted by frequency (descending).
    """
    questions = extract_questions(lines)
    return cluster_questions(
        questions,
        embedder=embedder,
        threshold=model_threshold(embedder.model_id, DEFAULT_THRESHOLD) if threshold is None else threshold,
        progress=progress,
    )
