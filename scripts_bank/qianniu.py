"""The approved bank as a 千牛 快捷短语 (quick phrase) CSV file, with a report to read before download.

The file has the header ``快捷短语编码,快捷短语,快捷短语分组`` and one row per approved script (its
current, approved version: what agents read on the lookup page).

- **Code** (快捷短语编码): the script's id in base 36 (``0-9a-z``), at most 4 characters. It is
  the same in every export for the same script and unique within a file; ids above
  ``MAX_SCRIPT_ID`` (1 679 615) cannot be written and are refused.
- **Group** (快捷短语分组): the script's category, or with ``group_by=GROUP_BY_TAG`` the tag the
  export is filtered by, else the script's first tag, else its category.
- **Placeholders**: ``KEEP`` leaves ``{客户称呼}``-style markers visible for the agent to replace;
  ``FILL`` replaces each with the trainer's default (``DEFAULT_FILLS`` unless the page passes its
  own table); placeholders without a default stay visible and are reported.
- **Encoding**: UTF-8 with BOM or GBK (what Windows IM clients call ANSI). A script with a
  character GBK cannot encode (emoji, rare characters such as 𠮷) is left out of a GBK file and
  reported with the characters, never written with a replacement.
- **Limits**: phrases over ``MAX_PHRASE_CHARS`` and groups over ``MAX_GROUP_CHARS`` characters are
  reported (the rows are still written); every cell is formula-safe (``safe_cell``).
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session, col

from scripts_bank.placeholders import fill_placeholders, placeholders_in
from training.auth import audit
from training.auth.permissions import STAFF, require_role
from training.core.errors import UserError
from training.core.tables import safe_cell
from training.models import Script, User
from training.models.scripts import approved_current_versions

HEADER = ("快捷短语编码", "快捷短语", "快捷短语分组")
MAX_CODE_CHARS = 4
MAX_PHRASE_CHARS = 430
MAX_GROUP_CHARS = 10
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
MAX_SCRIPT_ID = len(_DIGITS) ** MAX_CODE_CHARS - 1
UTF8_BOM, GBK = "utf-8-sig", "gbk"
ENCODINGS = {UTF8_BOM: "UTF-8（带 BOM）", GBK: "GBK（ANSI）"}
KEEP, FILL = "keep", "fill"
PLACEHOLDER_MODES = {KEEP: "保留占位符（客服发送前手动替换）", FILL: "用默认值填充占位符"}
GROUP_BY_CATEGORY, GROUP_BY_TAG = "category", "tag"
GROUP_BY = {GROUP_BY_CATEGORY: "按分类分组", GROUP_BY_TAG: "按标签分组"}
#: Built-in defaults for ``FILL``; the trainer edits a copy of this table on the page.
DEFAULT_FILLS: dict[str, str] = {"客户称呼": "亲", "客服昵称": "客服", "店铺名称": "本店"}
_QUESTION_SHOWN = 20


class QianniuExportError(UserError):
    """The export cannot be made as asked (unknown encoding, a script id too large for a code)."""


@dataclass(frozen=True)
class ScriptProblem:
    """A script the report names: its id, code, question and what is wrong."""

    script_id: int
    code: str
    question: str
    detail: str

    def line(self) -> str:
        question = self.question
        if len(question) > _QUESTION_SHOWN:
            question = question[:_QUESTION_SHOWN] + "…"
        return f"编码 {self.code}「{question}」：{self.detail}"


@dataclass(frozen=True)
class QianniuReport:
    """What the trainer should know before downloading: rows written, scripts left out, limits."""

    rows: int
    encoding: str
    unencodable: list[ScriptProblem] = field(default_factory=list)
    long_phrases: list[ScriptProblem] = field(default_factory=list)
    long_groups: dict[str, int] = field(default_factory=dict)
    unfilled: list[ScriptProblem] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Nothing to report: every script written as it is, within the client's limits."""
        return not (self.unencodable or self.long_phrases or self.long_groups or self.unfilled)

    def lines(self) -> list[str]:
        """The report in plain Chinese, one paragraph per problem kind (first the summary)."""
        out = [f"共 {self.rows} 条快捷短语写入文件（{ENCODINGS[self.encoding]}）。"]
        if self.unencodable:
            out.append(f"{len(self.unencodable)} 条话术含 GBK 无法表示的字符，未写入文件（请改用 UTF-8 "
                       "或修改话术）：" + "；".join(p.line() for p in self.unencodable))
        if self.long_phrases:
            out.append(f"{len(self.long_phrases)} 条话术超过 {MAX_PHRASE_CHARS} 字，千牛可能拒绝导入或截断："
                       + "；".join(p.line() for p in self.long_phrases))
        if self.long_groups:
            out.append(f"{len(self.long_groups)} 个分组名超过 {MAX_GROUP_CHARS} 字，千牛可能拒绝导入："
                       + "；".join(f"「{g}」{n} 字" for g, n in self.long_groups.items()))
        if self.unfilled:
            out.append(f"{len(self.unfilled)} 条话术有占位符没有默认值，仍以原样显示："
                       + "；".join(p.line() for p in self.unfilled))
        return out


@dataclass(frozen=True)
class QianniuExport:
    """The file's bytes and the report to show before the download."""

    data: bytes
    report: QianniuReport


def shortcut_code(script_id: int) -> str:
    """The script's stable 快捷短语编码: its id in base 36, at most 4 characters."""
    if not 0 < script_id <= MAX_SCRIPT_ID:
        raise QianniuExportError(
            f"话术编号 {script_id} 超出快捷短语编码的范围（最多 {MAX_CODE_CHARS} 位），无法导出。")
    digits = ""
    while script_id:
        script_id, rest = divmod(script_id, len(_DIGITS))
        digits = _DIGITS[rest] + digits
    return digits


def export_file_name(day: date) -> str:
    """``快捷短语-YYYYMMDD.csv`` for the team's ``day``."""
    return f"快捷短语-{day:%Y%m%d}.csv"


def _unencodable(text: str, encoding: str) -> str:
    """The distinct characters of ``text`` that ``encoding`` cannot write, in order."""
    if encoding != GBK:
        return ""
    return "".join(dict.fromkeys(ch for ch in text if not _encodes(ch)))


def _encodes(char: str) -> bool:
    try:
        char.encode(GBK)
    except UnicodeEncodeError:
        return False
    return True


def _group(script: Script, group_by: str, tag: str | None) -> str:
    if group_by == GROUP_BY_TAG:
        tags = list(script.tags or [])
        if tag and tag in tags:
            return tag
        if tags:
            return tags[0]
    return script.category


def export_qianniu(
    *, session: Session, actor: User | None, category: str | None = None, product: str | None = None,
    tag: str | None = None, group_by: str = GROUP_BY_CATEGORY, placeholders: str = KEEP,
    defaults: Mapping[str, str] | None = None, encoding: str = UTF8_BOM,
) -> QianniuExport:
    """The approved bank (optionally one category, product, tag) as a 千牛 快捷短语 CSV (trainers, admins).

    Args:
        group_by: ``GROUP_BY_CATEGORY`` or ``GROUP_BY_TAG`` (see the module's notes).
        placeholders: ``KEEP`` markers visible or ``FILL`` them from ``defaults``.
        defaults: placeholder name -> default text for ``FILL``; ``DEFAULT_FILLS`` when None.
        encoding: ``UTF8_BOM`` or ``GBK``.

    Returns:
        The file and its report; the export is audited like the bank's table export.
    """
    editor = require_role(actor, *STAFF)
    if encoding not in ENCODINGS or placeholders not in PLACEHOLDER_MODES or group_by not in GROUP_BY:
        raise QianniuExportError("导出选项无效：请选择编码、占位符处理方式和分组方式。")
    fills = {k.strip(): v.strip() for k, v in (DEFAULT_FILLS if defaults is None else defaults).items()
             if k.strip()}
    query = approved_current_versions().order_by(col(Script.id))
    if category:
        query = query.where(col(Script.category) == category)
    if product:
        query = query.where(col(Script.product) == product)
    found = [(s, v) for s, v in session.exec(query).all() if not tag or tag in (s.tags or [])]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    rows = 0
    unencodable: list[ScriptProblem] = []
    long_phrases: list[ScriptProblem] = []
    long_groups: dict[str, int] = {}
    unfilled: list[ScriptProblem] = []
    for script, version in found:
        assert script.id is not None
        code = shortcut_code(script.id)
        phrase = version.answer if placeholders == KEEP else fill_placeholders(version.answer, fills)
        group = _group(script, group_by, tag)
        problem = functools.partial(ScriptProblem, script.id, code, version.question)
        if placeholders == FILL and (left := placeholders_in(phrase)):
            unfilled.append(problem("无默认值：" + "、".join(f"{{{n}}}" for n in left)))
        if bad := _unencodable(phrase + group, encoding):
            chars = " ".join(f"「{c}」(U+{ord(c):04X})" for c in bad)
            unencodable.append(problem(f"无法表示的字符：{chars}"))
            continue
        if len(phrase) > MAX_PHRASE_CHARS:
            long_phrases.append(problem(f"{len(phrase)} 字"))
        if len(group) > MAX_GROUP_CHARS:
            long_groups[group] = len(group)
        writer.writerow([safe_cell(code), safe_cell(phrase), safe_cell(group)])
        rows += 1
    audit.record(session=session, actor=editor, action="scripts.export",
                 detail={"rows": rows, "format": "qianniu"})
    session.commit()
    report = QianniuReport(rows, encoding, unencodable, long_phrases, long_groups, unfilled)
    return QianniuExport(buffer.getvalue().encode(encoding), report)

