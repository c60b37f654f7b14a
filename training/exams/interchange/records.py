"""The neutral form of an exchanged question, and what a parser reports as skipped.

A parser never stores anything: it returns ``Parsed`` (records plus skipped items with their
line and reason). The JSON line of ``huashu questions import --dry-run`` is ``QuestionRecord.as_json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SINGLE = "single"
MULTIPLE = "multiple"
TRUEFALSE = "truefalse"
SCENARIO = "scenario"
TYPES = (SINGLE, MULTIPLE, TRUEFALSE, SCENARIO)
#: The answer of a true/false record (the same codes as ``training.exams.choices.TRUE_FALSE``).
RIGHT, WRONG = "对", "错"
#: How many options a choice record may have (A to H).
MAX_OPTIONS = 8


class FormatError(ValueError):
    """The file as a whole cannot be read in the format (the message is plain Chinese)."""


@dataclass(frozen=True)
class QuestionRecord:
    """One question as another exam tool holds it.

    ``options`` are the options' own texts, without letters; ``answer`` refers to them by position:
    ``"A"``, ``"AC"`` (letters sorted), ``"对"``/``"错"`` for true/false, ``""`` for a scenario (an
    essay: ``stem`` is the customer's turn). ``line`` is where the question starts in the file
    (1-based; a spreadsheet row as Excel numbers it), 0 when unknown.
    """

    type: str
    stem: str
    options: list[str] = field(default_factory=list)
    answer: str = ""
    explanation: str = ""
    tags: list[str] = field(default_factory=list)
    title: str = ""
    line: int = 0

    def as_json(self) -> dict[str, Any]:
        """The ``--dry-run`` line: title, type, stem, options, answer, explanation, tags."""
        return {"title": self.title, "type": self.type, "stem": self.stem, "options": list(self.options),
                "answer": self.answer, "explanation": self.explanation, "tags": list(self.tags)}


@dataclass(frozen=True)
class Skipped:
    """A question the file has but Huashu does not take, by title and line, with the reason."""

    title: str
    line: int
    reason: str

    def describe(self) -> str:
        """One plain-Chinese line, e.g. 第 12 行「运费」：数值题（numerical）Huashu 不支持，已跳过."""
        where = f"第 {self.line} 行" if self.line else "位置不明"
        name = f"「{self.title}」" if self.title else ""
        return f"{where}{name}：{self.reason}"


@dataclass
class Parsed:
    """What one file holds: the questions to take, the ones skipped, and the malformed ones.

    ``skipped`` are questions of a kind Huashu does not take (a numerical question, a 填空题…):
    listed, not blocking. ``errors`` are questions of a supported kind that are malformed (a choice
    question without a correct answer, an answer letter beyond the options…): the importer refuses
    the whole file when there is any, so nothing is half-imported.
    """

    records: list[QuestionRecord] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[Skipped] = field(default_factory=list)
