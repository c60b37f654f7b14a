"""The neutral form of an exchanged question, and what a parser reports as skipped.

A parser never stores anything: it returns ``Parsed`` (records plus skipped items with their
line and reason). The JSON line of ``huashu questions import --dry-run`` is ``QuestionRecord.as_json``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
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
        """One plain-Chinese line, e.g. 第 12 行「运费」：数值题不支持，已跳过."""
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


# --- Small helpers the Moodle XML and GIFT formats share ----------------------------------------

#: Kinds of question the formats name, in plain Chinese, for the reasons of ``Skipped``.
KIND_NAMES = {SINGLE: "单选题", MULTIPLE: "多选题", TRUEFALSE: "判断题", SCENARIO: "问答题"}

_CONTEXTS = ("$course$", "$system$", "$module$", "$cat$", "$coursecategory$")
_BREAK_TAGS = re.compile(r"<\s*(br|/p|/div|/li|/h[1-6]|/tr)\b[^>]*>", re.IGNORECASE)
_DROPPED_BLOCKS = re.compile(r"<\s*(script|style)\b.*?<\s*/\s*\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[a-zA-Z/!?][^>]*>")


def html_to_text(value: str) -> str:
    """Plain text of an HTML fragment: tags dropped, entities unescaped, <br>/<p> as line breaks.

    A regular expression, not a parser: nothing is fetched or expanded. The source's own line
    breaks are HTML whitespace; runs of blank lines shrink to one.
    """
    text = _DROPPED_BLOCKS.sub("", value)
    text = re.sub(r"\s+", " ", text)
    text = _BREAK_TAGS.sub("\n", text)
    text = html.unescape(_TAG.sub("", text)).replace("\xa0", " ")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def looks_like_html(value: str) -> bool:
    """Whether a text with no declared format holds HTML tags or entities."""
    return bool(re.search(r"<\s*/?\s*[a-zA-Z][^>]*>|&[a-zA-Z]+;|&#\d+;", value))


def category_tags(path: str) -> list[str]:
    """The tags a Moodle/GIFT category path gives: every meaningful segment, in order.

    ``$course$/top/售后/质保`` → ``["售后", "质保"]``: the context (``$course$``…), ``top`` and
    Moodle's default categories (``默认…``, ``Default for …``) are dropped; ``//`` is a slash
    inside a name.
    """
    segments = [s.replace("\0", "/").strip() for s in path.replace("//", "\0").split("/")]
    meaningful = [s for s in segments if s and s.lower() not in _CONTEXTS and s.lower() != "top"
                  and not s.startswith("默认") and not s.lower().startswith("default for")]
    return unique(meaningful)


def category_path(tags: Sequence[str]) -> str:
    """The Moodle category path holding ``tags`` (``$course$/top/售后/质保``); ``默认`` for none."""
    names = [t.replace("/", "//") for t in tags if t.strip()] or ["默认"]
    return "/".join(["$course$", "top", *names])


def unique(values: Iterable[str]) -> list[str]:
    """The non-empty stripped values, each once, in order."""
    return list(dict.fromkeys(v.strip() for v in values if v.strip()))


def title_of(title: str, stem: str) -> str:
    """A title for reports: the given one, else the stem's first 20 characters."""
    return title or (stem[:20] + ("…" if len(stem) > 20 else ""))
