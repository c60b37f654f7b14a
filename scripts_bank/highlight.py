"""Which parts of a script match what the agent typed, for the lookup page to highlight."""

from __future__ import annotations

import re

from training.nlp.keywords import STOPWORDS, get_tokenizer, keywords

_CJK = re.compile(r"[\u4e00-\u9fff]")
_WORD = re.compile(r"\w")
#: Shared runs of CJK characters shorter than this are noise (single characters match everywhere).
MIN_SHARED_RUN = 2


def _same_length_lower(text: str) -> str:
    # Offsets must stay valid: a few characters change length when lower-cased (e.g. "İ").
    lowered = text.lower()
    return lowered if len(lowered) == len(text) else text


def _word_spans(query: str, text: str) -> list[tuple[int, int]]:
    wanted = set(keywords(query))
    if not wanted:
        return []
    tokens = get_tokenizer().tokenize(_same_length_lower(text), mode="search")
    return [(start, end) for word, start, end in tokens
            if word in wanted and word not in STOPWORDS and _WORD.search(word)]


def _cjk_run_spans(query: str, text: str) -> list[tuple[int, int]]:
    # Every CJK bigram of the text that also occurs in the query; overlapping bigrams merge
    # later into the shared run (a run of >= 2 characters is a chain of such bigrams).
    # Stopword bigrams (可以, 什么 …) are left out: they would light up every script.
    grams = {query[i : i + MIN_SHARED_RUN] for i in range(len(query) - MIN_SHARED_RUN + 1)}
    spans = []
    for i in range(len(text) - MIN_SHARED_RUN + 1):
        gram = text[i : i + MIN_SHARED_RUN]
        if gram in grams and gram not in STOPWORDS and all(_CJK.match(c) for c in gram):
            spans.append((i, i + MIN_SHARED_RUN))
    return spans


def merge_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted spans with overlapping or touching ones merged."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def matched_spans(query: str, text: str) -> list[tuple[int, int]]:
    """Character spans of ``text`` that match ``query``.

    Args:
        query: what the agent typed (usually the customer's message).
        text: a script's question or answer.

    Returns:
        ``(start, end)`` offsets into ``text``, sorted and merged: the jieba content words the
        two texts share (shop dictionary, stopwords left out) plus shared CJK runs of at least
        two characters.
    """
    if not query.strip() or not text:
        return []
    return merge_spans(_word_spans(query, text) + _cjk_run_spans(query, text))


def segments(text: str, spans: list[tuple[int, int]]) -> list[tuple[str, bool]]:
    """``text`` cut into consecutive pieces, each flagged True when it lies in ``spans``."""
    pieces: list[tuple[str, bool]] = []
    pos = 0
    for start, end in merge_spans([(max(s, 0), min(e, len(text))) for s, e in spans]):
        if start > pos:
            pieces.append((text[pos:start], False))
        pieces.append((text[start:end], True))
        pos = end
    if pos < len(text):
        pieces.append((text[pos:], False))
    return pieces
