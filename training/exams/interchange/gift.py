"""GIFT (Moodle's plain-text question format): read into ``QuestionRecord``s, and write them.

Reading: questions are separated by blank lines; ``//`` lines are comments; ``::title::`` is
optional; ``$CATEGORY: $course$/top/售后/质保`` sets the tags of the following questions (every
meaningful segment, see ``records.category_tags``); ``[html]``/``[moodle]``/``[plain]``/
``[markdown]`` prefixes are dropped (HTML becomes plain text); escapes ``\\~ \\= \\# \\{ \\} \\:
\\\\`` and ``\\n`` are undone. The answer block ``{…}``:

* ``{T}``/``{F}``/``{TRUE}``/``{FALSE}`` (feedback ``#…`` allowed) → true/false;
* ``{}`` → scenario (an essay);
* with ``~`` answers: exactly one ``=`` → single (a positive ``~%50%`` weight is partial credit,
  read as wrong); several ``=``, or no ``=`` at all → multiple, where every ``=`` and every
  ``~`` with a positive ``%weight%`` is correct (``~%-50%`` and unweighted ``~`` are wrong);
  Moodle itself shows ``{=a =b ~c}`` as one-answer with two full-mark options, Huashu as 多选;
* only ``=`` answers and no ``~`` (``{=a}``, ``{=a =b}``) is GIFT's short answer → skipped, as
  are numerical ``{#…}`` and matching (``=a -> b``) questions, and text without an answer block.

Per-answer feedback (``#…``) is dropped; ``####…`` is the explanation. An answer block in the
middle of the text is a fill-the-blank: the stem is the text before, ``____``, the text after.
``Parsed.errors``: a question whose braces do not balance, and a choice or true/false question
that is malformed (an empty option, more than 8, no correct answer, a bad weight, an empty stem);
the importer refuses a file with any. Bytes in neither UTF-8 nor GBK raise ``FormatError``.

Writing (UTF-8): ``$CATEGORY: $course$/top/<tag>/<tag>…`` (all the tags: GIFT has no tags of
its own) whenever the tags change, ``::title::``, single ``{=a ~b}``, multiple ``{~%50%a
~%50%c ~%-100%b}`` (Moodle's grade values), ``{TRUE}``/``{FALSE}``, essay ``{}``, ``####解析``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from training.exams.interchange.records import (
    MAX_OPTIONS,
    MULTIPLE,
    RIGHT,
    SCENARIO,
    SINGLE,
    TRUEFALSE,
    WRONG,
    FormatError,
    Parsed,
    QuestionRecord,
    Skipped,
    category_path,
    category_tags,
    html_to_text,
    title_of,
    unique,
)

__all__ = ["parse_gift", "write_gift"]

SPECIAL = "~=#{}:"
UNBALANCED = "花括号 { } 不成对：答案部分没有结束，请补上 }（或用 \\{ 写出花括号本身）"
_FORMAT = re.compile(r"^\s*\[(html|moodle|plain|markdown)\]", re.IGNORECASE)
_WEIGHT = re.compile(r"^%(-?\d+(?:\.\d+)?)%")
_TRUE, _FALSE = ("T", "TRUE"), ("F", "FALSE")
#: Moodle's grade values for 1..8 correct options of a multiple.
SPLITS = ("100", "50", "33.33333", "25", "20", "16.66667", "14.28571", "12.5")


class _Skip(Exception):
    """A question of a kind Huashu does not take (the message is the reason)."""


def parse_gift(raw: bytes) -> Parsed:
    """The questions of a GIFT file (``FormatError`` when its encoding cannot be read)."""
    parsed = Parsed()
    category: list[str] = []
    for line, text in _blocks(_decode(raw)):
        if text.startswith("$CATEGORY:"):
            head, _, text = text.partition("\n")
            category = category_tags(head[len("$CATEGORY:"):].strip())
            line += 1
            if not text.strip():
                continue
        _read(text, line, category, parsed)
    return parsed


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")
        except UnicodeDecodeError:
            continue
    raise FormatError("GIFT 文件的编码无法识别：请另存为 UTF-8 或 GBK 编码后重试。")


def _blocks(text: str) -> list[tuple[int, str]]:
    """(first line, text) of each blank-line-separated question, comment lines dropped."""
    blocks: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(text.split("\n"), start=1):
        if line.lstrip().startswith("//"):
            continue
        if not line.strip():
            if current:
                blocks.append((start, "\n".join(current)))
            current = []
            continue
        if not current:
            start = number
        current.append(line.strip() if not current else line)
    if current:
        blocks.append((start, "\n".join(current)))
    return blocks


def _unescaped(text: str, chars: str, start: int = 0) -> int:
    """The index of the first of ``chars`` at or after ``start`` not escaped by ``\\``, or -1."""
    index = start
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] in chars:
            return index
        index += 1
    return -1


def _split(text: str, marker: str) -> list[str]:
    """``text`` split on the unescaped ``marker`` (one or more characters)."""
    parts, start, index = [], 0, 0
    while index < len(text):
        if text[index] == "\\":
            index += 2
        elif text.startswith(marker, index):
            parts.append(text[start:index])
            index = start = index + len(marker)
        else:
            index += 1
    return [*parts, text[start:]]


def _plain(text: str, fmt: str = "") -> str:
    """The text with its format prefix dropped, escapes undone and HTML made plain."""
    found = _FORMAT.match(text)
    if found:
        fmt, text = found.group(1).lower(), text[found.end():]
    out, index = [], 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            following = text[index + 1]
            kept = following if following in SPECIAL + "\\" else char + following
            out.append("\n" if following == "n" else kept)
            index += 2
            continue
        out.append(char)
        index += 1
    value = "".join(out).strip()
    return html_to_text(value) if fmt == "html" else value


def _read(text: str, line: int, category: list[str], parsed: Parsed) -> None:
    title = ""
    if text.startswith("::"):
        parts = _split(text[2:], "::")
        if len(parts) > 1:
            title, text = _plain(parts[0]), "::".join(parts[1:])
    found = _FORMAT.match(text)
    fmt = found.group(1).lower() if found else ""
    opening = _unescaped(text, "{")
    closing = _unescaped(text, "}", opening + 1) if opening != -1 else -1
    stray = _unescaped(text, "}") if opening == -1 else max(
        _unescaped(text[:opening], "}"), _unescaped(text, "{}", closing + 1) if closing != -1 else -1)
    before = _plain(text[:opening] if opening != -1 else text, fmt)
    shown = title_of(title, before)
    if opening == -1 and stray == -1:
        parsed.skipped.append(Skipped(shown, line, "没有答案部分 {…}（描述文字，不是题目），已跳过"))
        return
    if opening == -1 or closing == -1 or stray != -1:
        parsed.errors.append(Skipped(shown, line, UNBALANCED))
        return
    after = _plain(text[closing + 1:], fmt)
    stem = f"{before}____{after}".strip() if after else before
    try:
        record = _answer_block(text[opening + 1:closing], fmt, stem, title, category, line)
    except _Skip as exc:
        parsed.skipped.append(Skipped(shown, line, f"{exc}，已跳过"))
    except ValueError as exc:
        parsed.errors.append(Skipped(shown, line, f"{exc}，无法导入"))
    else:
        parsed.records.append(record)


def _answer_block(block: str, fmt: str, stem: str, title: str, tags: list[str], line: int) -> QuestionRecord:
    parts = _split(block, "####")
    body, explanation = parts[0].strip(), _plain("####".join(parts[1:]), fmt)
    base = QuestionRecord(type=SCENARIO, stem=stem, explanation=explanation, tags=list(tags), title=title,
                          line=line)
    if body.startswith("#"):
        raise _Skip("数值题不支持")
    if not stem:
        raise ValueError("题干为空")
    if not body:
        return base
    head = _split(body, "#")[0].strip().upper()
    if head in _TRUE + _FALSE:
        return QuestionRecord(type=TRUEFALSE, stem=stem, answer=RIGHT if head in _TRUE else WRONG,
                              explanation=explanation, tags=list(tags), title=title, line=line)
    return _choice(body, fmt, base)


def _choice(body: str, fmt: str, base: QuestionRecord) -> QuestionRecord:
    starts = []
    index = _unescaped(body, "=~")
    if index != 0:
        raise _Skip("答案部分无法识别（应以 = 或 ~ 开头）")
    while index != -1:
        starts.append(index)
        index = _unescaped(body, "=~", index + 1)
    answers: list[tuple[str, float, str]] = []  # (marker, weight, text)
    for start, end in zip(starts, [*starts[1:], len(body)], strict=True):
        marker, rest = body[start], body[start + 1:end].strip()
        if marker == "=" and "->" in rest:
            raise _Skip("匹配题不支持")
        weight = 100.0 if marker == "=" else 0.0
        found = _WEIGHT.match(rest)
        if found:
            weight, rest = float(found.group(1)), rest[found.end():]
        elif rest.startswith("%"):
            raise ValueError(f"分值「{rest[:12]}」格式有误（应如 %50%）")
        answers.append((marker, weight, _plain(_split(rest, "#")[0], fmt)))
    markers = [m for m, _, _ in answers]
    if "~" not in markers:
        raise _Skip("简答题（只有 = 答案、没有 ~ 选项）不支持")
    if len(answers) > MAX_OPTIONS:
        raise ValueError(f"选择题有 {len(answers)} 个选项，最多 {MAX_OPTIONS} 个")
    empty = [chr(65 + i) for i, (_, _, text) in enumerate(answers) if not text]
    if empty:
        raise ValueError(f"选项 {'、'.join(empty)} 为空")
    single = markers.count("=") == 1
    correct = [i for i, (m, w, _) in enumerate(answers) if m == "=" or (not single and w > 0)]
    if not correct:
        raise ValueError("没有标出正确答案：单选题用 = 标出正确选项，多选题用 ~%50% 这样的正分值")
    return QuestionRecord(type=SINGLE if single else MULTIPLE, stem=base.stem,
                          options=[text for _, _, text in answers],
                          answer="".join(chr(65 + i) for i in correct),
                          explanation=base.explanation, tags=base.tags, title=base.title, line=base.line)


# --- Writing ------------------------------------------------------------------------------------

def _escape(value: str) -> str:
    value = value.replace("\r\n", "\n").replace("\r", "\n").replace("\\", "\\\\")
    for char in SPECIAL:
        value = value.replace(char, "\\" + char)
    return value.replace("\n", "\\n")


def write_gift(records: Sequence[QuestionRecord]) -> bytes:
    """A GIFT file of ``records`` (UTF-8) that Moodle's GIFT import reads."""
    out = ["// Huashu 导出的题目（GIFT 格式）", ""]
    current: list[str] | None = None
    for record in records:
        tags = unique(record.tags)
        if tags != current and (tags or current is not None):
            out += [f"$CATEGORY: {category_path(tags)}", ""]
        current = tags
        out += [_question(record), ""]
    return "\n".join(out).encode("utf-8")


def _text(value: str) -> str:
    """``value`` escaped, behind ``[plain]`` when it would read as a format, comment or category."""
    escaped = _escape(value)
    return "[plain]" + escaped if escaped.startswith(("[", "//", "$")) else escaped


def _question(record: QuestionRecord) -> str:
    head = (f"::{_text(record.title)}::" if record.title else "") + _text(record.stem)
    explanation = f"####{_text(record.explanation)}" if record.explanation else ""
    if record.type == TRUEFALSE:
        return f"{head} {{{'TRUE' if record.answer == RIGHT else 'FALSE'}{explanation}}}"
    if record.type not in (SINGLE, MULTIPLE):
        return f"{head} {{{explanation}}}"
    lines = [f"{head} {{"]
    right = SPLITS[min(max(len(record.answer), 1), len(SPLITS)) - 1]
    for index, option in enumerate(record.options):
        chosen = chr(65 + index) in record.answer
        if record.type == SINGLE:  # an explicit weight when the text itself starts with %
            weight = ("%100%" if chosen else "%0%") if option.startswith("%") else ""
            lines.append(f"\t{'=' if chosen else '~'}{weight}{_text(option)}")
        else:
            lines.append(f"\t~%{right if chosen else '-100'}%{_text(option)}")
    if explanation:
        lines.append(f"\t{explanation}")
    return "\n".join([*lines, "}"])
