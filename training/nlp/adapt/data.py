"""What domain adaptation learns from: ranking examples and scored pairs, and the held-out split.

Two kinds of training data, mixed batch by batch by ``training.nlp.adapt.finetune``:
- ranking examples (anchor, positive[, negative]): a customer question and its approved script,
  a paraphrase and its cluster's question, a turn and a well-reviewed answer (with a poorly
  reviewed answer to the same turn as the hard negative);
- scored pairs (a, b, score in [0, 1]): graded similarity.

``QUERY`` / ``PASSAGE`` name the model prompt each text is embedded with (e5: "query: " for
questions and turns, "passage: " for replies), as the app embeds them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

QUERY = "query"
PASSAGE = "passage"


@dataclass(frozen=True)
class RankExample:
    """An anchor, a text that answers or paraphrases it, and optionally a worse one."""

    anchor: str
    positive: str
    negative: str | None = None
    positive_prompt: str = PASSAGE  # QUERY for paraphrases of the anchor


@dataclass(frozen=True)
class ScoredPair:
    """Two texts and how similar they are, in [0, 1]."""

    a: str
    b: str
    score: float
    b_prompt: str = QUERY


@dataclass
class AdaptData:
    """Everything one adaptation run learns from (or is evaluated on)."""

    examples: list[RankExample] = field(default_factory=list)
    pairs: list[ScoredPair] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.examples) + len(self.pairs)

    def extend(self, other: AdaptData) -> None:
        """Append ``other``'s examples and pairs."""
        self.examples.extend(other.examples)
        self.pairs.extend(other.pairs)


def split_data(data: AdaptData, held_share: float, seed: int = 20240611) -> tuple[AdaptData, AdaptData]:
    """Split into (train, held-out) by anchor text, so no anchor is on both sides."""
    rng = random.Random(seed)
    anchors = sorted({e.anchor for e in data.examples} | {p.a for p in data.pairs})
    held_anchors = set(rng.sample(anchors, round(len(anchors) * held_share))) if anchors else set()
    train, held = AdaptData(), AdaptData()
    for ex in data.examples:
        (held if ex.anchor in held_anchors else train).examples.append(ex)
    for pair in data.pairs:
        (held if pair.a in held_anchors else train).pairs.append(pair)
    return train, held


def rank_batches(examples: list[RankExample], size: int, rng: random.Random) -> list[list[RankExample]]:
    """Shuffled batches in which no positive text appears twice (a copy goes to another batch)."""
    pending = list(examples)
    rng.shuffle(pending)
    out: list[list[RankExample]] = []
    while pending:
        deferred: list[RankExample] = []
        current: list[RankExample] = []
        seen: set[str] = set()
        for ex in pending:
            if ex.positive in seen:
                deferred.append(ex)
                continue
            current.append(ex)
            seen.add(ex.positive)
            if len(current) == size:
                out.append(current)
                current, seen = [], set()
        if len(current) >= 2:
            out.append(current)
        if len(deferred) == len(pending):
            break
        pending = deferred
    return out


def epoch_batches(data: AdaptData, size: int, rng: random.Random) -> list[tuple[str, list[Any]]]:
    """One epoch: ranking batches (``rank_batches``) and scored-pair chunks, interleaved at random."""
    out: list[tuple[str, list[Any]]] = [("rank", b) for b in rank_batches(data.examples, size, rng)]
    pairs = list(data.pairs)
    rng.shuffle(pairs)
    chunks = (pairs[i : i + size] for i in range(0, len(pairs), size))
    out.extend(("pairs", chunk) for chunk in chunks if len(chunk) >= 2)
    rng.shuffle(out)
    return out
