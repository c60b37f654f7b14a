"""Whether a lookup hit is a real match: the relevance floor and the 高/中/低 confidence.

The fused score ranks the bank for one query but says nothing about whether the best entry
answers it: it is standardised per query, so the best of a bank that knows nothing about the
weather still scores high. The floor judges each hit on its own, from two signals:

- the cosine of query and script question, on the active model's scale: the base values below
  were measured on the shipped encoder (``bench/lookup_floor.py``, figures in
  ``bench/RESULTS.md``) and are mapped through the calibration stored on an adapted model's
  card (``training.nlp.model_versions.model_threshold``), since fine-tuning moves every cosine;
- keyword evidence: the share of the query's words (jieba tokens of two characters or more)
  that the script's question also contains.

A hit is 高 when its cosine reaches ``strong`` and the words agree, 中 when either the cosine
reaches ``strong`` alone or reaches ``floor`` with the words agreeing, else 低. Only 高 and 中
hits count as a match; a lookup whose best hit is 低 is a weak lookup.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from training.nlp.keywords import keywords
from training.nlp.model_versions import model_threshold

#: Cosine (shipped encoder) that counts as a match on its own. Unrelated short questions reach
#: 0.86–0.91 under e5 (今天天气怎么样 0.86, 退货运费谁出啊 against 退款什么时候到账 0.911).
BASE_STRONG = 0.915
#: Cosine (shipped encoder) that counts as a match when the words agree too.
BASE_FLOOR = 0.89
#: Share of the query's words the question must contain to count as keyword evidence (one in three).
MIN_EVIDENCE = 0.3
#: Shorter tokens (single characters such as 到、谁) are too common to count as evidence.
MIN_TOKEN_CHARS = 2


class Confidence(StrEnum):
    """How far a hit can be trusted (labels live in the UI)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True)
class RelevanceFloor:
    """Cosine thresholds on one model's scale plus the keyword share, see the module docstring."""

    strong: float
    floor: float
    min_evidence: float = MIN_EVIDENCE

    @classmethod
    def for_model(cls, model_id: str) -> RelevanceFloor:
        """The floor on ``model_id``'s cosine scale (the shipped values mapped by its calibration)."""
        return cls(model_threshold(model_id, BASE_STRONG), model_threshold(model_id, BASE_FLOOR))

    def judge(self, cosine: float, evidence: float) -> Confidence:
        """Confidence of a hit.

        Args:
            cosine: cosine of the query and the script's question.
            evidence: :func:`keyword_evidence` of the query against that question.

        Returns:
            HIGH with both signals, MEDIUM with a strong cosine alone or a floor cosine with
            keyword evidence, LOW otherwise.
        """
        words = evidence >= self.min_evidence
        if cosine >= self.strong:
            return Confidence.HIGH if words else Confidence.MEDIUM
        return Confidence.MEDIUM if cosine >= self.floor and words else Confidence.LOW


def content_words(text: str) -> set[str]:
    """The words of ``text`` that can count as keyword evidence."""
    return {t for t in keywords(text) if len(t) >= MIN_TOKEN_CHARS}


def keyword_evidence(query: str | Collection[str], question: str | Collection[str]) -> float:
    """Share of the query's content words found in the question (0 when the query has none).

    Args:
        query: the query text, or its :func:`content_words` already computed.
        question: the script question, or its content words.

    Returns:
        A share in [0, 1].
    """
    mine = content_words(query) if isinstance(query, str) else set(query)
    theirs = content_words(question) if isinstance(question, str) else set(question)
    return len(mine & theirs) / len(mine) if mine else 0.0
