"""Moodle XML (``<quiz>``): read into ``QuestionRecord``s, and write records Moodle imports.

Reading: ``multichoice`` (``<single>`` true → single, false → multiple), ``truefalse`` and
``essay`` (→ scenario; its grader information, if any, opens the explanation as ``参考答案：…``)
are taken. Correct options: for a single, the one answer with fraction 100
(a partial-credit option counts as wrong); for a multiple, every answer with a positive fraction.
Tags: every meaningful segment of the current ``$course$/top/…`` category (see
``records.category_tags``), then the question's ``<tags>``. Texts with ``format="html"`` (or no
format but HTML inside) become plain text; per-answer feedback is dropped.

``Parsed.skipped``: question types Huashu does not have (numerical, matching, cloze…).
``Parsed.errors``: a taken type that is malformed (no options, more than 8, no correct answer, a
single with several 100% answers, an empty stem or option…): the importer refuses the file.
A file that is not well-formed XML, not a ``<quiz>``, or declares a DOCTYPE/ENTITY (entity
expansion attacks) raises ``FormatError``. Line numbers are where each ``<question`` starts
(expat's ``CurrentLineNumber``).

Writing: a category pseudo-question (``$course$/top/<first tag>``) whenever the first tag
changes (``$course$/top/默认`` for untagged questions after tagged ones), the other tags in
``<tags>``; texts are ``plain_text``; options keep Huashu's order (``shuffleanswers`` false, since
options such as 以上都对 depend on it). A single scores 100/0; a multiple splits 100 over its
correct options with Moodle's grade values (50, 33.33333, 25…) and gives wrong ones -100, as a
Chinese 多选题 gives nothing for a wrong pick. An untitled record is named after its stem.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

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
    looks_like_html,
    title_of,
    unique,
)

__all__ = ["parse_moodle_xml", "write_moodle_xml"]

#: Moodle question types Huashu does not take, with their Chinese names.
UNSUPPORTED = {
    "numerical": "数值题", "matching": "匹配题", "shortanswer": "简答题（填空）", "multianswer": "完形填空题",
    "cloze": "完形填空题", "calculated": "计算题", "calculatedsimple": "简单计算题",
    "calculatedmulti": "计算选择题", "ddwtos": "拖放填词题", "gapselect": "选词填空题",
    "description": "描述（不是题目）", "random": "随机题", "randomsamatch": "随机简答匹配题",
    "ddimageortext": "图片拖放题", "ddmarker": "拖放标记题", "ordering": "排序题",
}
#: Moodle's grade values for 1..8 correct options of a multiple (``question_bank::fraction_options``).
SPLITS = ("100", "50", "33.33333", "25", "20", "16.66667", "14.28571", "12.5")
_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_GB = {"gbk", "gb2312", "gb_2312", "gb18030", "cp936", "x-gbk", "euc-cn"}
_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def parse_moodle_xml(raw: bytes) -> Parsed:
    """The questions of a Moodle XML quiz file (``FormatError`` when it cannot be read at all)."""
    root, lines = _parse_tree(_decode(raw))
    parsed = Parsed()
    category: list[str] = []
    for element in root:
        if element.tag != "question":
            continue
        kind = element.get("type", "").strip()
        if kind == "category":
            category = category_tags(_text(element.find("category"), plain=True))
            continue
        _read_question(element, kind, lines.get(id(element), 0), category, parsed)
    return parsed


def _decode(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FormatError("文件是 UTF-16 编码：请另存为 UTF-8 编码的 Moodle XML 后重试。")
    declared = _ENCODING.match(raw.lstrip()[:200])
    encoding = declared.group(1).decode("ascii").lower() if declared else "utf-8"
    encoding = "gb18030" if encoding in _GB else encoding
    try:
        return raw.decode(encoding)
    except LookupError as exc:
        raise FormatError(f"文件声明的编码「{encoding}」无法识别：请另存为 UTF-8 编码后重试。") from exc
    except UnicodeDecodeError:
        if declared:
            raise FormatError(f"文件内容与声明的编码「{encoding}」不符：请另存为 UTF-8 后重试。") from None
    try:
        return raw.decode("gb18030")  # no declaration yet not UTF-8: GBK as Chinese tools save it
    except UnicodeDecodeError:
        raise FormatError("文件的编码无法识别：请另存为 UTF-8 编码的 Moodle XML 后重试。") from None


def _parse_tree(text: str) -> tuple[ET.Element, dict[int, int]]:
    """The root and the line of each ``<question>``, by expat with DOCTYPE/ENTITY refused."""
    builder = ET.TreeBuilder()
    lines: dict[int, int] = {}
    parser = expat.ParserCreate()
    parser.buffer_text = True

    def start(tag: str, attrs: dict[str, str]) -> None:
        element = builder.start(tag, attrs)
        if tag == "question":
            lines[id(element)] = parser.CurrentLineNumber

    def refuse(*_: object) -> None:
        raise FormatError(f"第 {parser.CurrentLineNumber} 行：文件含 DOCTYPE/ENTITY 声明，"
                          "出于安全原因不予读取（Moodle 导出的题库不含这些声明）。")

    parser.StartElementHandler = start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(text, True)
        root = builder.close()
    except expat.ExpatError as exc:
        reason = expat.ErrorString(exc.code)
        raise FormatError(f"Moodle XML 格式有误（第 {exc.lineno} 行第 {exc.offset + 1} 列：{reason}），"
                          "请检查文件是否完整。") from exc
    except (RecursionError, AssertionError) as exc:
        raise FormatError("Moodle XML 结构无法解析，请检查文件是否完整。") from exc
    if root.tag != "quiz":
        raise FormatError(f"不是 Moodle XML 题库：根元素是 <{root.tag}>，应为 <quiz>。")
    return root, lines


def _text(element: ET.Element | None, *, plain: bool = False) -> str:
    """The plain text of ``<x format=…><text>…</text></x>`` (HTML converted unless ``plain``)."""
    if element is None:
        return ""
    inner = element.find("text")
    value = "".join((inner if inner is not None else element).itertext()).replace("\r\n", "\n").strip()
    fmt = element.get("format")
    if plain:
        return value
    if fmt == "html" or (fmt is None and looks_like_html(value)):
        return html_to_text(value)
    return value


def _read_question(element: ET.Element, kind: str, line: int, category: list[str], parsed: Parsed) -> None:
    title = _text(element.find("name"), plain=True)
    stem = _text(element.find("questiontext"))
    shown = title_of(title, stem)
    if kind not in ("multichoice", "truefalse", "essay"):
        name = UNSUPPORTED.get(kind, "计算题" if kind.startswith("calculated") else "未知题型")
        reason = f"{name}不支持，已跳过" if kind in UNSUPPORTED or kind.startswith("calculated") \
            else f"未知题型「{kind or '未注明'}」，已跳过"
        parsed.skipped.append(Skipped(shown, line, reason))
        return
    tags = unique([*category, *(_text(t, plain=True) for t in element.findall("tags/tag"))])
    reference = _text(element.find("graderinfo")) if kind == "essay" else ""
    explanation = "\n".join(filter(None, [reference and f"参考答案：{reference}",
                                           _text(element.find("generalfeedback"))]))
    base = QuestionRecord(type=SCENARIO, stem=stem, explanation=explanation, tags=tags, title=title,
                          line=line)
    try:
        if not stem:
            raise ValueError("题干为空")
        if kind == "essay":
            record = base
        elif kind == "truefalse":
            record = _true_false(element, base)
        else:
            record = _choice(element, base)
    except ValueError as exc:
        parsed.errors.append(Skipped(shown, line, f"{exc}，无法导入"))
        return
    parsed.records.append(record)


def _answers(element: ET.Element) -> list[tuple[str, float]]:
    found = []
    for answer in element.findall("answer"):
        try:
            fraction = float(answer.get("fraction", "0"))
        except ValueError:
            raise ValueError(f"选项分值「{answer.get('fraction')}」不是数字") from None
        if fraction != fraction:  # NaN
            raise ValueError("选项分值不是数字")
        found.append((_text(answer), fraction))
    return found


def _true_false(element: ET.Element, base: QuestionRecord) -> QuestionRecord:
    full = {text.lower() for text, fraction in _answers(element) if fraction >= 99.99}
    right, wrong = bool(full & {"true", "对", "正确"}), bool(full & {"false", "错", "错误"})
    if right == wrong:
        raise ValueError("判断题没有唯一的正确答案（true/false 中应恰有一个分值为 100）")
    return QuestionRecord(type=TRUEFALSE, stem=base.stem, answer=RIGHT if right else WRONG,
                          explanation=base.explanation, tags=base.tags, title=base.title, line=base.line)


def _choice(element: ET.Element, base: QuestionRecord) -> QuestionRecord:
    single = (element.findtext("single") or "true").strip().lower() in ("true", "1")
    answers = _answers(element)
    if not answers:
        raise ValueError("选择题没有选项")
    if len(answers) > MAX_OPTIONS:
        raise ValueError(f"选择题有 {len(answers)} 个选项，最多 {MAX_OPTIONS} 个")
    empty = [chr(65 + i) for i, (text, _) in enumerate(answers) if not text]
    if empty:
        raise ValueError(f"选项 {'、'.join(empty)} 为空")
    if single:
        correct = [i for i, (_, fraction) in enumerate(answers) if fraction >= 99.99]
        if len(correct) != 1:
            raise ValueError("单选题没有得满分（100%）的选项" if not correct
                             else f"单选题有 {len(correct)} 个得满分的选项，应只有一个")
    else:
        correct = [i for i, (_, fraction) in enumerate(answers) if fraction > 0]
        if not correct:
            raise ValueError("多选题没有得分为正的（正确）选项")
    return QuestionRecord(type=SINGLE if single else MULTIPLE, stem=base.stem,
                          options=[text for text, _ in answers], answer="".join(chr(65 + i) for i in correct),
                          explanation=base.explanation, tags=base.tags, title=base.title, line=base.line)


# --- Writing ------------------------------------------------------------------------------------

def _clean(value: str) -> str:
    return _INVALID_XML_CHARS.sub("", value).replace("\r\n", "\n").replace("\r", "\n")


def _element(name: str, value: str, fmt: str | None = "plain_text") -> str:
    attr = f" format={quoteattr(fmt)}" if fmt else ""
    return f"<{name}{attr}><text>{escape(_clean(value))}</text></{name}>"


def write_moodle_xml(records: Sequence[QuestionRecord]) -> bytes:
    """A Moodle XML quiz of ``records`` (UTF-8) that Moodle's question import reads."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<quiz>"]
    current: str | None = None
    for number, record in enumerate(records, start=1):
        tags = unique(record.tags)
        first = tags[0] if tags else ""
        if first != current and (first or current is not None):
            out += ['  <question type="category">',
                    f"    <category><text>{escape(_clean(category_path(tags[:1])))}</text></category>",
                    '    <info format="html"><text></text></info>', "  </question>"]
        current = first
        out += _question(record, tags[1:], number)
    out.append("</quiz>")
    return ("\n".join(out) + "\n").encode("utf-8")


def _question(record: QuestionRecord, tags: list[str], number: int) -> list[str]:
    kind = {SINGLE: "multichoice", MULTIPLE: "multichoice", TRUEFALSE: "truefalse"}.get(record.type, "essay")
    name = record.title or title_of("", record.stem) or f"题目 {number}"
    lines = [f'  <question type="{kind}">', f"    {_element('name', name, None)}",
             f"    {_element('questiontext', record.stem)}",
             f"    {_element('generalfeedback', record.explanation)}",
             "    <defaultgrade>1</defaultgrade>", "    <penalty>0</penalty>", "    <hidden>0</hidden>"]
    if record.type in (SINGLE, MULTIPLE):
        single = record.type == SINGLE
        right = "100" if single else SPLITS[min(max(len(record.answer), 1), len(SPLITS)) - 1]
        lines += [f"    <single>{'true' if single else 'false'}</single>",
                  "    <shuffleanswers>false</shuffleanswers>", "    <answernumbering>ABCD</answernumbering>"]
        for index, option in enumerate(record.options):
            fraction = right if chr(65 + index) in record.answer else ("0" if single else "-100")
            text = escape(_clean(option))
            lines.append(f'    <answer fraction="{fraction}" format="plain_text"><text>{text}</text>'
                         '<feedback format="html"><text></text></feedback></answer>')
    elif record.type == TRUEFALSE:
        for text, value in (("true", RIGHT), ("false", WRONG)):
            fraction = "100" if record.answer == value else "0"
            lines.append(f'    <answer fraction="{fraction}" format="moodle_auto_format"><text>{text}</text>'
                         '<feedback format="html"><text></text></feedback></answer>')
    else:
        lines += ["    <responseformat>editor</responseformat>", "    <responserequired>1</responserequired>",
                  "    <responsefieldlines>10</responsefieldlines>", "    <attachments>0</attachments>",
                  "    <attachmentsrequired>0</attachmentsrequired>",
                  '    <graderinfo format="html"><text></text></graderinfo>',
                  '    <responsetemplate format="html"><text></text></responsetemplate>']
    if tags:
        lines.append("    <tags>" + "".join(f"<tag><text>{escape(_clean(t))}</text></tag>" for t in tags)
                     + "</tags>")
    lines.append("  </question>")
    return lines
