"""Fitting a model's fusion (``training.ranking.fusion``) on labelled customer turns.

Labelled turns come as ranking examples (``training.nlp.adapt.data.RankExample``): a customer
turn, the reply that answers it (a real agent reply, an approved script, a well-reviewed answer)
and optionally a worse one. Each becomes one ranking group: the good reply, its worse one and
``DISTRACTORS`` replies to other turns, ranked with the model as ``huashu rank`` would rank them;
the fusion then learns which signals put the good reply first. Fit it on examples the model was
*not* trained on (the adaptation's held-out part), or the semantic signal looks better than it is.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from training.nlp.adapt.data import PASSAGE, RankExample
from training.nlp.embeddings import Embedder
from training.ranking.fusion import Fusion, fit_fusion
from training.ranking.rank import RankGroup, RankWeights, rank_answers

#: Replies to other turns added to each labelled turn's group.
DISTRACTORS = 8
#: Labelled turns used at most (the fit has six weights; more adds time, not accuracy).
MAX_GROUPS = 1500


def labelled_groups(
    examples: Sequence[RankExample], *, seed: int = 20240611,
) -> tuple[list[RankGroup], list[list[float]]]:
    """One group per example: its positive (label 1), its negative (0) and other turns' replies (0)."""
    rng = random.Random(seed)
    chosen = list(examples)
    rng.shuffle(chosen)
    chosen = chosen[:MAX_GROUPS]
    pool = list(dict.fromkeys(e.positive for e in examples))
    groups: list[RankGroup] = []
    labels: list[list[float]] = []
    for ex in chosen:
        others = [t for t in rng.sample(pool, min(len(pool), DISTRACTORS + 2))
                  if t not in (ex.positive, ex.negative)][:DISTRACTORS]
        answers = [ex.positive, *([ex.negative] if ex.negative else []), *others]
        if len(answers) < 2:
            continue
        groups.append(RankGroup(question=ex.anchor, answers=answers))
        labels.append([1.0] + [0.0] * (len(answers) - 1))
    return groups, labels


def fit_for_model(
    examples: Sequence[RankExample], *, embedder: Embedder, source: str, show_progress: bool = False,
) -> Fusion | None:
    """The fusion that best ranks ``examples``' good replies first with ``embedder``'s model.

    Returns None when the examples give too few pairs (the shipped formula then stays).
    """
    # Only turn -> reply examples: a paraphrase -> question pair says nothing about a reply's relevance.
    groups, labels = labelled_groups([e for e in examples if e.positive_prompt == PASSAGE])
    if not groups:
        return None
    ranked = rank_answers(groups, embedder=embedder, weights=RankWeights(), fusion=False,
                          show_progress=show_progress)
    data = [[(score.signals, label) for score, label in zip(row, group_labels, strict=True)]
            for row, group_labels in zip(ranked, labels, strict=True)]
    return fit_fusion(data, source=source)
