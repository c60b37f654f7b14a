"""Mining a new import into the existing question bank: known questions join their cluster.

A chat log exported next month repeats most of last month's questions. Each distinct wording of
the new import first looks for a stored cluster: the same wording (up to punctuation and
particles, as within an import) joins it at once; otherwise it joins the stored cluster whose
question or examples it is closest to, if that cosine reaches the same threshold that merges
questions within one import and the categories are compatible (the same rule as there). Only
what matches nothing is clustered afresh (:func:`training.mining.mine.cluster_questions`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from training.chats.types import ChatLine
from training.mining.categories import PRECEDENCE, categorise
from training.mining.mine import (
    DEFAULT_THRESHOLD,
    MAX_REPLIES,
    CustomerQuestion,
    QuestionCluster,
    cluster_questions,
    extract_questions,
)
from training.mining.text import dedupe_key, embedding_text
from training.models import Category
from training.nlp.embeddings import Embedder
from training.nlp.model_versions import model_threshold

_BLOCK = 512  # new wordings compared with every anchor at once (memory, not results)


@dataclass(frozen=True)
class KnownCluster:
    """A cluster already in the bank, as mining compares against it."""

    id: int
    question: str
    category: str
    examples: Sequence[str] = ()
    members: Sequence[str] = ()  # every wording it counted; empty for clusters mined before


@dataclass
class Joined:
    """The questions of a new import that belong to one stored cluster."""

    cluster_id: int
    frequency: int
    texts: list[str] = field(default_factory=list)  # distinct wordings, most frequent first
    agent_replies: list[str] = field(default_factory=list)


@dataclass
class BankMining:
    """One import mined against the bank: what joins stored clusters, what is new."""

    joined: list[Joined]
    new_clusters: list[QuestionCluster]

    @property
    def question_count(self) -> int:
        """Customer questions of the import (joined plus new)."""
        return sum(j.frequency for j in self.joined) + sum(c.frequency for c in self.new_clusters)


def group_of(category: str) -> int:
    """Category compatibility group as in ``cluster_questions``: -1 for 其他."""
    try:
        value = Category(category)
    except ValueError:
        return -1
    return -1 if value is Category.OTHER else PRECEDENCE.index(value)


def match_known(
    texts: Sequence[str], known: Sequence[KnownCluster], *, embedder: Embedder, threshold: float,
) -> list[int | None]:
    """The stored cluster each distinct wording belongs to, or None for a new question.

    Args:
        texts: distinct customer wordings of the new import.
        known: the bank's clusters, most frequent first (ties in wording go to the first).
        embedder: encoder plus cache; its embeddings must be L2-normalised.
        threshold: minimum cosine between a wording and a cluster's question or example.

    Returns:
        For each text, the id of its cluster or None.
    """
    by_key: dict[str, int] = {}
    for cluster in known:
        for text in (cluster.question, *cluster.members, *cluster.examples):
            by_key.setdefault(dedupe_key(text), cluster.id)
    out: list[int | None] = [by_key.get(dedupe_key(t)) for t in texts]
    rest = [i for i, found in enumerate(out) if found is None]
    anchors = [(c.id, group_of(c.category), text)
               for c in known for text in dict.fromkeys((c.question, *c.examples))]
    if not rest or not anchors:
        return out
    anchor_vectors = embedder.embed([embedding_text(a) for _, _, a in anchors])
    anchor_group = np.array([g for _, g, _ in anchors])
    vectors = embedder.embed([embedding_text(texts[i]) for i in rest])
    groups = np.array([group_of(categorise(texts[i]).value) for i in rest])
    for start in range(0, len(rest), _BLOCK):
        sims = vectors[start:start + _BLOCK] @ anchor_vectors.T
        # A wording of 其他 may join any cluster; a cluster of 其他 takes only wordings of 其他.
        row_group = groups[start:start + _BLOCK, None]
        sims[(row_group != anchor_group[None, :]) & (row_group >= 0)] = -np.inf
        best = np.argmax(sims, axis=1)
        for j, b in enumerate(best):
            if float(sims[j, b]) >= threshold:
                out[rest[start + j]] = anchors[int(b)][0]
    return out


def mine_into_bank(
    lines: Sequence[ChatLine],
    *,
    known: Sequence[KnownCluster],
    embedder: Embedder,
    threshold: float | None = None,
    progress: Callable[[float], None] | None = None,
) -> BankMining:
    """The questions of a chat log, joined to the bank's clusters where they match.

    Args:
        lines: the import's messages (personal data already masked).
        known: the clusters already in the bank, most frequent first.
        embedder: encoder plus cache used to compare questions.
        threshold: cosine of "same question"; ``None`` means ``DEFAULT_THRESHOLD`` on the
            embedder's cosine scale, the same threshold as within one import.
        progress: called with the fraction done (0..1).

    Returns:
        Per stored cluster the questions that joined it, and the genuinely new clusters.
    """
    if threshold is None:
        threshold = model_threshold(embedder.model_id, DEFAULT_THRESHOLD)
    questions = extract_questions(lines)
    members: dict[str, list[int]] = {}
    for i, q in enumerate(questions):
        members.setdefault(dedupe_key(q.text), []).append(i)
    keys = list(members)
    shown = [questions[members[k][0]].text for k in keys]
    if progress is not None:
        progress(0.05)
    owners = match_known(shown, known, embedder=embedder, threshold=threshold)
    joined: dict[int, Joined] = {}
    fresh: list[CustomerQuestion] = []
    for key, owner in zip(keys, owners, strict=True):
        asked = [questions[i] for i in members[key]]
        if owner is None:
            fresh.extend(asked)
            continue
        entry = joined.setdefault(owner, Joined(owner, 0))
        entry.frequency += len(asked)
        entry.texts.extend(dict.fromkeys(q.text for q in asked))
        entry.agent_replies.extend(q.agent_reply for q in asked if q.agent_reply)
    for entry in joined.values():
        entry.texts = list(dict.fromkeys(entry.texts))
        entry.agent_replies = list(dict.fromkeys(entry.agent_replies))[:MAX_REPLIES]
    new_clusters = cluster_questions(
        fresh, embedder=embedder, threshold=threshold,
        progress=None if progress is None else (lambda f: progress(0.1 + 0.9 * f)),
    )
    if progress is not None:
        progress(1.0)
    return BankMining(sorted(joined.values(), key=lambda j: (-j.frequency, j.cluster_id)), new_clusters)
