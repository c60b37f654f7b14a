"""Issue #7's adaptation protocol: ``../shared/data`` as "the shop's own data", train vs evaluation.

Training (never evaluated on):
- ``jddc2018_baseline/train*``: 10,270 JD contexts -> the real agent reply (ranking examples; the
  anchor is the customer turn with its last 3 context segments, as the ranker embeds it);
- ``ecd_taobao/train``: 77 Taobao contexts -> true reply, with the random reply drawn for the same
  context as a hard negative;
- ``sts-b-zh/cnsd-sts-train.txt`` (graded 0-5 -> [0, 1]) and ``lcqmc/dev.json`` (binary): scored pairs;
- ``bq_corpus`` and ``afqmc``: the training half of each (see :func:`split_pairs`), as scored pairs.

Evaluation: everything else — the other halves of BQ and AFQMC (similarity and lookup), LCQMC
test, PAWS-X, STS-B dev+test, ECD test, JDDC 2019 dev, JDDC 2018 dev. A training pair or example
containing any text of an evaluation set is dropped, so no evaluated text is ever trained on.
"""

from __future__ import annotations

import random
from pathlib import Path

from bench.datasets import (
    SEED,
    Pair,
    data_root,
    load_afqmc,
    load_bq_corpus,
    load_ecd_test,
    load_jddc2018_dev,
    load_jddc2019_dev,
    load_lcqmc,
    load_pawsx,
    load_stsb,
    unsegment,
)
from training.nlp.adapt.data import AdaptData, RankExample, ScoredPair

#: Context segments before the customer turn in a ranking anchor (the ranker's longer view).
ANCHOR_TURNS = 3


def split_pairs(pairs: list[Pair], seed: int = SEED) -> tuple[list[Pair], list[Pair]]:
    """(train, eval) halves of a pair set: eval is a random half; train keeps only the pairs of
    the other half that share no text with the eval half (so lookup queries and bank entries
    of the eval half are never trained on)."""
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    eval_idx = set(order[: len(pairs) // 2])
    evaluation = [p for i, p in enumerate(pairs) if i in eval_idx]
    seen = {t for a, b, _ in evaluation for t in (a, b)}
    train = [p for i, p in enumerate(pairs) if i not in eval_idx and p[0] not in seen and p[1] not in seen]
    return train, evaluation


def eval_pairs(name: str) -> list[Pair]:
    """The evaluation part of a similarity set (halves for BQ and AFQMC, held-out splits else)."""
    if name == "bq_corpus":
        return split_pairs(load_bq_corpus())[1]
    if name == "afqmc":
        return split_pairs(load_afqmc())[1]
    if name == "lcqmc":
        return load_lcqmc(splits=("test",))
    if name == "paws-x-zh":
        return load_pawsx()
    if name == "sts-b-zh":
        return load_stsb()
    raise KeyError(name)


EVAL_SETS = ("afqmc", "bq_corpus", "lcqmc", "paws-x-zh", "sts-b-zh")


def evaluation_texts() -> set[str]:
    """Every text any evaluation set shows the model."""
    texts = {t for name in EVAL_SETS for a, b, _ in eval_pairs(name) for t in (a, b)}
    for g in load_ecd_test():
        texts.update([g.question, *g.candidates])
    for p in load_jddc2018_dev():
        texts.update([p.question, p.reply])
    for turn in load_jddc2019_dev():
        texts.update(t for t in (turn.question, *turn.answers) if t)
    return texts


def _jddc2018_train(root: Path) -> list[RankExample]:
    base = root / "jddc2018_baseline"
    questions = (base / "trainQuestions.txt").read_text(encoding="utf-8").splitlines()
    answers = (base / "trainAnswers.txt").read_text(encoding="utf-8").splitlines()
    out: list[RankExample] = []
    for q, a in zip(questions, answers, strict=False):
        segments = [s.strip() for s in q.split(",") if s.strip()]
        reply = "，".join(s.strip() for s in a.split(",") if s.strip())
        if segments and reply:
            out.append(RankExample(" ".join(segments[-1 - ANCHOR_TURNS:]), reply))
    return out


def _ecd_train(root: Path) -> list[RankExample]:
    positives: dict[tuple[str, ...], str] = {}
    negatives: dict[tuple[str, ...], str] = {}
    with (root / "ecd_taobao" / "train").open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                continue
            turns = tuple(unsegment(u) for u in parts[1:-1])
            (positives if parts[0] == "1" else negatives)[turns] = unsegment(parts[-1])
    out: list[RankExample] = []
    for turns, reply in positives.items():
        customer = [i for i in range(len(turns)) if i % 2 == 0]
        last = customer[-1] if customer else len(turns) - 1
        anchor = " ".join(turns[max(0, last - ANCHOR_TURNS) : last + 1])
        out.append(RankExample(anchor, reply, negatives.get(turns)))
    return out


def training_data(root: Path | None = None) -> tuple[AdaptData, dict[str, int]]:
    """The training side of the protocol, with evaluation texts removed; and counts per source."""
    root = root or data_root()
    banned = evaluation_texts()
    data = AdaptData()
    counts: dict[str, int] = {}

    def add_examples(name: str, examples: list[RankExample]) -> None:
        kept = [e for e in examples if e.positive not in banned and e.anchor not in banned]
        data.examples.extend(kept)
        counts[name] = len(kept)

    def add_pairs(name: str, pairs: list[Pair], top: float = 1.0) -> None:
        kept = [ScoredPair(a, b, y / top) for a, b, y in pairs if a not in banned and b not in banned]
        data.pairs.extend(kept)
        counts[name] = len(kept)

    add_examples("jddc2018 train (context -> reply)", _jddc2018_train(root))
    add_examples("ecd_taobao train (context -> reply, hard negative)", _ecd_train(root))
    add_pairs("sts-b-zh train (graded)", load_stsb(root, splits=("train",)), top=5.0)
    add_pairs("lcqmc dev (binary)", load_lcqmc(root, splits=("dev",)))
    add_pairs("bq_corpus train half (binary)", split_pairs(load_bq_corpus(root))[0])
    add_pairs("afqmc train half (binary)", split_pairs(load_afqmc(root))[0])
    return data, counts
