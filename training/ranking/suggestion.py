"""The 建议分's data and its reasons in words: the approved wordings, graded neighbours, the
suggestion, and the plain-Chinese reasons trainers (and, without other answers' text, candidates) read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from training.nlp.placeholder_syntax import without_placeholders

#: Plain-language closeness of two replies (shipped-encoder cosine).
_CLOSE = ((0.95, "几乎相同"), (0.90, "很接近"), (0.86, "较接近"), (0.0, "差别较大"))


@dataclass(frozen=True)
class Variant:
    """An approved wording of the reply: the current script, another variant, an older version."""

    text: str
    label: str = "现行话术"

    @property
    def plain(self) -> str:
        """The wording compared with answers: placeholders ({客户称呼} …) read as a word break."""
        return without_placeholders(self.text)


@dataclass(frozen=True)
class Neighbour:
    """A graded answer to the same question near this one."""

    text: str
    score: float
    closeness: float


@dataclass
class Suggestion:
    """An answer's absolute score and why (the reasons are shown to trainers)."""

    score: float
    default: float
    neighbour_estimate: float | None = None
    closest_variant: Variant | None = None
    neighbours: list[Neighbour] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    #: The reasons a candidate may read: graded neighbours by count and mean, never their text.
    candidate_reasons: list[str] = field(default_factory=list)


def _bigrams(text: str) -> set[str]:
    t = "".join(text.split())
    return {t[i:i + 2] for i in range(len(t) - 1)}


def bigram_overlap(answer: str, script: str) -> float:
    """Dice overlap of the two texts' character-bigram sets, in [0, 1]."""
    a, b = _bigrams(answer), _bigrams(script)
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


def _closeness(cosine: float) -> str:
    return next(word for floor, word in _CLOSE if cosine >= floor)


def _clip(text: str, n: int = 30) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= n else flat[:n] + "…"


def explain(s: Suggestion, *, grounded: bool, shop_fitted: bool, reference_cosine: float,
            penalties: list[tuple[float, str]]) -> None:
    """Fill ``s.reasons`` (trainers) and ``s.candidate_reasons`` (no other answer's text), in words.

    Args:
        s: the suggestion, its closest wording, neighbours and missed key points set.
        grounded: whether the question has an approved wording or a graded answer.
        shop_fitted: whether the shop's own calibration was applied.
        reference_cosine: closeness to the closest wording (shipped-encoder cosine).
        penalties: the lint penalties with their reasons.
    """
    if s.closest_variant is not None:
        s.reasons.append(f"最接近的审定话术：{s.closest_variant.label}「{_clip(s.closest_variant.text)}」"
                         f"（{_closeness(reference_cosine)}）")
        s.reasons.append("漏掉的要点：" + "、".join(s.missed) if s.missed else "审定话术的要点都已覆盖")
    shared = list(s.reasons)
    if s.neighbours:
        near = "；".join(f"「{_clip(n.text, 20)}」得 {n.score:.2f}（{_closeness(n.closeness)}）"
                        for n in s.neighbours[:3])
        s.reasons.append(f"已评分的相近回答：{near}")
        shared.append(f"参考了 {len(s.neighbours)} 条已评分的相近回答（按相近程度加权平均 "
                      f"{s.neighbour_estimate or 0.0:.2f}）")
    if not grounded:
        s.reasons.append("这道题还没有审定话术，也没有已评分的回答：建议分只看回答是否切中顾客的问题，仅供参考")
    elif s.closest_variant is None:
        s.reasons.append("这道题还没有审定话术：建议分依据已评分的相近回答和与顾客问题的相关程度")
    s.reasons.append("已按本店培训师的评分习惯校准" if shop_fitted
                     else "按系统默认标准换算（同批评分的回答中已有培训师评分的不足 30 条，"
                          "暂不按本店评分习惯校准）")
    s.reasons += [f"扣分 {p:.2f}：{why}" for p, why in penalties]
    s.candidate_reasons = [*shared, *s.reasons[len(shared):]]
