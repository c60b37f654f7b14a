"""The question interchange formats: Moodle XML, GIFT and the exam-tool spreadsheet (pure, no db).

Each parser takes bytes and returns ``Parsed`` (records, skipped unsupported kinds, errors for
malformed questions of a supported kind) or raises ``FormatError``; never anything else, which
hypothesis checks on arbitrary bytes and on structured text. Each writer's output reads back
to the same records (except the line).
"""

from __future__ import annotations

import dataclasses
import io
import zipfile
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from training.exams.interchange.excel import HEADER, parse_exam_xlsx, write_exam_xlsx
from training.exams.interchange.gift import parse_gift, write_gift
from training.exams.interchange.moodle import parse_moodle_xml, write_moodle_xml
from training.exams.interchange.records import (
    MULTIPLE,
    RIGHT,
    SCENARIO,
    SINGLE,
    TRUEFALSE,
    WRONG,
    FormatError,
    Parsed,
    QuestionRecord,
    category_tags,
    html_to_text,
)

FUZZ = settings(max_examples=200, deadline=None)


def unlined(records: list[QuestionRecord]) -> list[QuestionRecord]:
    return [dataclasses.replace(r, line=0) for r in records]


RECORDS = [
    QuestionRecord(SINGLE, "顾客问：手机的质保期是多久？\n（按国家三包规定）",
                   ["一年", "两年 & 三年 <含>", "]]> 半年"], "A", "三包规定主要部件一年", ["售后", "质保"],
                   "质保期"),
    QuestionRecord(MULTIPLE, "哪些情况可以七天无理由退货？",
                   ["未拆封", "不影响二次销售", "定制商品", "已激活", "赠品齐全", "包装完好", "有发票",
                    "=SUM(A1)"],
                   "ABEFG", "定制商品不适用", ["售后", "退换货"], "七天无理由"),
    QuestionRecord(TRUEFALSE, "生鲜商品也支持七天无理由退货。", [], WRONG, "", [], "生鲜"),
    QuestionRecord(TRUEFALSE, "订单付款后 48 小时内发货。", [], RIGHT, "以店铺承诺为准", ["发货"],
                   "发货时效"),
    QuestionRecord(SCENARIO, "顾客说：快递三天了还没到，你们是不是没发货？{急}", [], "",
                   "先致歉，再查物流单号", ["发货", "物流"], "催发货"),
    QuestionRecord(SINGLE, "-5 元优惠券怎么用？", ["@客服 领取", "+1 元换购", "#下单自动抵扣"], "C", "",
                   ["优惠"], "优惠券"),
]


# --- Shared helpers ------------------------------------------------------------------------------

def test_html_becomes_plain_text_with_line_breaks() -> None:
    assert html_to_text("<p>您好&nbsp;亲</p>\n<p>质保<br/>一年 &lt;含&gt;</p><script>x()</script>") == \
        "您好 亲\n质保\n一年 <含>"


def test_category_tags_keep_every_meaningful_segment() -> None:
    assert category_tags("$course$/top/售后/质保") == ["售后", "质保"]
    assert category_tags("$system$/top/默认于 客服培训/发货") == ["发货"]
    assert category_tags("$course$/top/Default for 课程") == []
    assert category_tags("$course$/top/退货//换货") == ["退货/换货"]


# --- Moodle XML ----------------------------------------------------------------------------------

MOODLE_GBK = """<?xml version="1.0" encoding="GBK"?>
<quiz>
  <question type="category">
    <category><text>$course$/top/售后/质保</text></category>
  </question>
  <question type="multichoice">
    <name><text>质保期</text></name>
    <questiontext format="html"><text><![CDATA[<p>顾客问：手机&nbsp;质保多久？</p>
<p>按<b>三包</b>规定</p>]]></text></questiontext>
    <generalfeedback format="html"><text>主要部件&lt;一年&gt;</text></generalfeedback>
    <single>true</single>
    <answer fraction="100" format="html"><text><![CDATA[<p>一年</p>]]></text>
      <feedback><text>对</text></feedback></answer>
    <answer fraction="50"><text>两年</text></answer>
    <answer fraction="0"><text>半年</text></answer>
    <tags><tag><text>三包</text></tag></tags>
  </question>
  <question type="multichoice">
    <name><text>退货</text></name>
    <questiontext format="plain_text"><text>哪些可以退？
第二行</text></questiontext>
    <single>false</single>
    <answer fraction="50"><text>未拆封</text></answer>
    <answer fraction="-50"><text>定制</text></answer>
    <answer fraction="50"><text>完好</text></answer>
  </question>
  <question type="truefalse">
    <name><text>生鲜</text></name>
    <questiontext><text>生鲜可以七天无理由</text></questiontext>
    <answer fraction="0"><text>true</text></answer>
    <answer fraction="100"><text>false</text></answer>
  </question>
  <question type="essay">
    <name><text>催发货</text></name>
    <questiontext format="html"><text>顾客说：&lt;快递&gt;还没到</text></questiontext>
    <generalfeedback><text>先道歉</text></generalfeedback>
  </question>
</quiz>
"""


def test_moodle_gbk_file_with_html_categories_and_tags() -> None:
    parsed = parse_moodle_xml(MOODLE_GBK.encode("gbk"))
    assert parsed.skipped == [] and parsed.errors == []
    single, multiple, truefalse, essay = parsed.records
    assert single == QuestionRecord(SINGLE, "顾客问：手机 质保多久？\n按三包规定", ["一年", "两年", "半年"],
                                    "A", "主要部件<一年>", ["售后", "质保", "三包"], "质保期", 6)
    assert (multiple.type, multiple.stem, multiple.answer) == (MULTIPLE, "哪些可以退？\n第二行", "AC")
    assert multiple.line == 18
    assert (truefalse.type, truefalse.answer, truefalse.tags) == (TRUEFALSE, WRONG, ["售后", "质保"])
    assert (essay.type, essay.stem, essay.answer) == (SCENARIO, "顾客说：<快递>还没到", "")
    assert essay.explanation == "先道歉"


def test_moodle_essay_grader_information_is_a_reference_answer() -> None:
    body = '<graderinfo format="html"><text>&lt;p&gt;先道歉&lt;/p&gt;</text></graderinfo>' \
           "<generalfeedback><text>语气要诚恳</text></generalfeedback>"
    record = parse_moodle_xml(_quiz(_q("essay", "催发货", body))).records[0]
    assert record.explanation == "参考答案：先道歉\n语气要诚恳"


def test_moodle_utf8_with_bom() -> None:
    raw = "\ufeff" + MOODLE_GBK.replace('encoding="GBK"', 'encoding="UTF-8"')
    assert len(parse_moodle_xml(raw.encode("utf-8")).records) == 4


def _quiz(*questions: str) -> bytes:
    return ("<quiz>\n" + "\n".join(questions) + "\n</quiz>\n").encode("utf-8")


def _q(kind: str, name: str, body: str = "") -> str:
    return f'<question type="{kind}"><name><text>{name}</text></name>' \
           f"<questiontext><text>{name}的题干</text></questiontext>{body}</question>"


def test_moodle_unsupported_types_are_skipped_with_their_lines() -> None:
    kinds = ["numerical", "matching", "shortanswer", "multianswer", "calculated", "ddwtos", "description",
             "gapselect", "calculatedsimple", "somethingnew"]
    parsed = parse_moodle_xml(_quiz(*(_q(k, f"题{i}") for i, k in enumerate(kinds))))
    assert parsed.records == [] and parsed.errors == []
    assert [s.line for s in parsed.skipped] == list(range(2, 2 + len(kinds)))
    assert parsed.skipped[0].reason == "数值题不支持，已跳过"
    assert parsed.skipped[0].describe() == "第 2 行「题0」：数值题不支持，已跳过"
    assert "完形填空题" in parsed.skipped[3].reason
    assert "未知题型「somethingnew」" in parsed.skipped[-1].reason


def _answers(*fractions: str) -> str:
    return "".join(f'<answer fraction="{f}"><text>选项{i}</text></answer>' for i, f in enumerate(fractions))


@pytest.mark.parametrize(("body", "reason"), [
    ("<single>true</single>" + _answers("0", "50"), "没有得满分"),
    ("<single>true</single>" + _answers("100", "100", "0"), "2 个得满分"),
    ("<single>false</single>" + _answers("0", "-50"), "没有得分为正"),
    ("<single>true</single>", "没有选项"),
    ("<single>true</single>" + _answers("100", *["0"] * 8), "9 个选项"),
    ("<single>true</single>" + _answers("abc", "100"), "不是数字"),
])
def test_moodle_malformed_choice_questions_are_errors(body: str, reason: str) -> None:
    parsed = parse_moodle_xml(_quiz(_q("multichoice", "坏题", body), _q("essay", "好题")))
    assert [r.title for r in parsed.records] == ["好题"]
    assert len(parsed.errors) == 1 and reason in parsed.errors[0].reason and parsed.errors[0].line == 2


@pytest.mark.parametrize(("raw", "message"), [
    (b"<quiz>\n<question type='essay'>\n<name>", "第 3 行"),
    (b"<questions/>", "<quiz>"),
    (b'<?xml version="1.0"?>\n<!DOCTYPE quiz [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>\n<quiz>&b;</quiz>',
     "DOCTYPE"),
    (b"<quiz>&nbsp;</quiz>", "undefined entity"),
    (b"", "第 1 行"),
    ('<?xml version="1.0" encoding="UTF-8"?><quiz>质保</quiz>'.encode("gbk"), "编码"),
    (b'<?xml version="1.0" encoding="no-such"?><quiz/>', "no-such"),
])
def test_moodle_unreadable_files_raise_format_error(raw: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        parse_moodle_xml(raw)


def test_moodle_writer_uses_categories_and_moodle_grades() -> None:
    text = write_moodle_xml(RECORDS).decode("utf-8")
    assert text.count('<question type="category">') == 4  # 售后, (售后), 默认, 发货, (发货), 优惠
    assert "<text>$course$/top/售后</text>" in text and "<text>$course$/top/默认</text>" in text
    assert '<answer fraction="20" format="plain_text"><text>未拆封' in text
    assert '<answer fraction="-100" format="plain_text"><text>定制商品' in text
    assert "<shuffleanswers>false</shuffleanswers>" in text
    assert "<answernumbering>ABCD</answernumbering>" in text
    assert "<tags><tag><text>质保</text></tag></tags>" in text


def test_moodle_round_trip() -> None:
    parsed = parse_moodle_xml(write_moodle_xml(RECORDS))
    assert parsed.skipped == [] and parsed.errors == []
    assert unlined(parsed.records) == RECORDS
    assert all(r.line > 0 for r in parsed.records)


# --- GIFT ----------------------------------------------------------------------------------------

GIFT = r"""// 售后培训题库（GIFT）
$CATEGORY: $course$/top/售后/质保

::质保期::顾客问：手机质保多久？{=一年 ~两年#不对 ~半年 ####三包规定一年}

::退货::哪些情况可以七天无理由退货？{
  ~%50%未拆封
  ~%50%不影响二次销售
  // 注释行
  ~%-100%定制商品
}

顾客签收后{=7 ~15 ~30}天内可以无理由退货。

::生鲜::[html]<p>生鲜&amp;冷链商品</p>可以七天无理由退货{FALSE#生鲜不支持}

::催发货::顾客说：快递三天还没到\{急\}\n你们发货了吗？{####先致歉\: 再查单号}

::转义::满 100 \= 减 10\~ 包邮\# 吗？{T}
"""


def test_gift_utf8_bom_file() -> None:
    parsed = parse_gift(GIFT.encode("utf-8-sig"))
    assert parsed.skipped == [] and parsed.errors == []
    single, multiple, blank, truefalse, essay, escaped = parsed.records
    assert single == QuestionRecord(SINGLE, "顾客问：手机质保多久？", ["一年", "两年", "半年"], "A",
                                    "三包规定一年", ["售后", "质保"], "质保期", 4)
    assert multiple.options == ["未拆封", "不影响二次销售", "定制商品"]
    assert (multiple.answer, multiple.line) == ("AB", 6)
    assert (blank.stem, blank.title, blank.line) == ("顾客签收后____天内可以无理由退货。", "", 13)
    assert (truefalse.stem, truefalse.answer) == ("生鲜&冷链商品\n可以七天无理由退货", WRONG)
    assert (essay.type, essay.stem) == (SCENARIO, "顾客说：快递三天还没到{急}\n你们发货了吗？")
    assert essay.explanation == "先致歉: 再查单号"
    assert (escaped.stem, escaped.answer) == ("满 100 = 减 10~ 包邮# 吗？", RIGHT)


def test_gift_gbk_file() -> None:
    raw = "$CATEGORY: 发货\n\n::时效::付款后多久发货？{=48 小时 ~7 天}\n".encode("gbk")
    parsed = parse_gift(raw)
    assert parsed.records == [QuestionRecord(SINGLE, "付款后多久发货？", ["48 小时", "7 天"], "A", "",
                                             ["发货"], "时效", 3)]


def test_gift_unsupported_kinds_are_skipped_with_their_lines() -> None:
    raw = "\n\n".join([
        "::运费::运费多少元？{#10:2}",
        "::匹配::匹配时效 {=发货 -> 48 小时 =退款 -> 3 天}",
        "::填空::付款后 {=48} 小时内发货",
        "::同义::质保的另一说法 {=保修 =三包}",
        "::区间::顾客可在 {#5..10} 天内申请",
        "::描述::这只是一段说明",
        "::坏括号::这个问题 {=对 ~错",
        "::好::七天无理由 {T}",
    ]).encode()
    parsed = parse_gift(raw)
    assert [r.title for r in parsed.records] == ["好"]
    assert [(s.title, s.line) for s in parsed.skipped] == [
        ("运费", 1), ("匹配", 3), ("填空", 5), ("同义", 7), ("区间", 9), ("描述", 11)]
    reasons = [s.reason for s in parsed.skipped]
    assert "数值题" in reasons[0] and "匹配题" in reasons[1]
    assert "简答题" in reasons[2] and "简答题" in reasons[3]
    # a broken question is an error (the file is refused), not an unsupported kind
    assert [(s.title, s.line) for s in parsed.errors] == [("坏括号", 13)]
    assert "不成对" in parsed.errors[0].reason


def test_gift_choice_rules() -> None:
    raw = "\n\n".join(["哪些是赠品？{=贴膜 =手机壳 ~充电器}", "哪个最快？{=顺丰 ~%50%京东 ~邮政}",
                       "哪些可退？{~%33.33333%甲 ~%33.33333%乙 ~%33.33333%丙 ~%-100%丁}"]).encode()
    several, partial, weights = parse_gift(raw).records
    assert (several.type, several.answer) == (MULTIPLE, "AB")
    assert (partial.type, partial.answer) == (SINGLE, "A")  # partial credit reads as wrong
    assert (weights.type, weights.answer) == (MULTIPLE, "ABC")


@pytest.mark.parametrize(("question", "reason"), [
    ("哪些可退？{~甲 ~%-50%乙}", "没有标出正确答案"),
    ("哪些可退？{=甲 " + " ".join(f"~选项{i}" for i in range(8)) + "}", "9 个选项"),
    ("哪些可退？{=甲 ~%abc%乙}", "分值"),
    ("哪些可退？{=甲 ~}", "选项 B 为空"),
    ("::无题干::{=甲 ~乙}", "题干为空"),
])
def test_gift_malformed_choice_questions_are_errors(question: str, reason: str) -> None:
    parsed = parse_gift(f"{question}\n\n::好::问题 {{}}\n".encode())
    assert [r.title for r in parsed.records] == ["好"]
    assert len(parsed.errors) == 1 and reason in parsed.errors[0].reason and parsed.errors[0].line == 1


def test_gift_undecodable_bytes_raise_format_error() -> None:
    with pytest.raises(FormatError, match="编码"):
        parse_gift(b"\xff\xfe\xfa{T}")


def test_gift_writer_escapes_and_weights() -> None:
    text = write_gift(RECORDS).decode("utf-8")
    assert "$CATEGORY: $course$/top/售后/质保" in text and "$CATEGORY: $course$/top/默认" in text
    assert "~%20%未拆封" in text and "~%-100%定制商品" in text and r"~%-100%\=SUM(A1)" in text
    assert r"\{急\}" in text and "{FALSE}" in text and "{TRUE####以店铺承诺为准}" in text
    assert r"::质保期::顾客问：手机的质保期是多久？\n（按国家三包规定）" in text


def test_gift_round_trip() -> None:
    parsed = parse_gift(write_gift(RECORDS))
    assert parsed.skipped == [] and parsed.errors == []
    assert unlined(parsed.records) == RECORDS


# --- The exam-tool spreadsheet ---------------------------------------------------------------------

def _xlsx(rows: Sequence[Sequence[object]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


NOTED_HEADER = ["难度", "题型\n（单选/多选/判断）", "题干（必填）", "选项A(必填)", "选项 B", "选项C", "选项D",
                "正确答案\n(多选用ABC)", "解析", "章节", "备注"]


def test_xlsx_with_noted_headers_in_any_order() -> None:
    raw = _xlsx([NOTED_HEADER,
                 ["中", "单选题", "手机质保多久？\n（三包）", "一年", "两年", None, None, "a", "三包",
                  "售后/质保", "备注"],
                 [None, "多选", "哪些能退？", "未拆封", "完好", "定制", None, "A，C", None, "售后", None],
                 [None] * 11,
                 [None, "判断题", "生鲜可七天无理由", "正确", "错误", None, None, "B", None, None, None],
                 [None, "问答题", "顾客说：太慢了", None, None, None, None, "先道歉", "再查单号", "发货",
                  None],
                 [None, "填空题", "付款后__小时发货", None, None, None, None, "48", None, None, None],
                 [1, "单选", "价格", 9.0, 10, None, None, "B", None, None, None]])
    parsed = parse_exam_xlsx(raw, file_name="题库.xlsx")
    single, multiple, truefalse, scenario, numbers = parsed.records
    assert single == QuestionRecord(SINGLE, "手机质保多久？\n（三包）", ["一年", "两年"], "A", "三包",
                                    ["售后", "质保", "难度:中"], "", 2)
    assert (multiple.answer, multiple.options, multiple.line) == ("AC", ["未拆封", "完好", "定制"], 3)
    assert (truefalse.answer, truefalse.options, truefalse.line) == (WRONG, [], 5)
    assert (scenario.answer, scenario.explanation) == ("", "参考答案：先道歉\n再查单号")
    assert (numbers.options, numbers.tags) == (["9", "10"], ["难度:1"])
    assert [(s.line, s.reason) for s in parsed.skipped] == [(7, "题型「填空题」不支持，已跳过")]
    assert parsed.errors == []


def test_xlsx_header_on_a_later_sheet_below_a_note_row() -> None:
    book = Workbook()
    book.active.append(["填写说明：题型可填 单选/多选/判断/问答"])
    sheet = book.create_sheet("题目")
    sheet.append(["导入模板 v2"])
    sheet.append(["题目", "题目类型", "A", "B", "答案"])
    sheet.append(["质保多久？", "单选", "一年", "两年", "A"])
    buffer = io.BytesIO()
    book.save(buffer)
    parsed = parse_exam_xlsx(buffer.getvalue(), file_name="题库.xlsx")
    assert parsed.records == [QuestionRecord(SINGLE, "质保多久？", ["一年", "两年"], "A", "", [], "", 3)]


@pytest.mark.parametrize(("answer", "expected"), [
    ("A", "A"), ("ABD", "ABD"), ("A,B,D", "ABD"), ("A，B，D", "ABD"), ("A B D", "ABD"), ("a、b", "AB"),
    ("DBA", "ABD"),
])
def test_choice_answer_spellings(answer: str, expected: str) -> None:
    raw = _xlsx([["题干", "题型", "选项A", "选项B", "选项C", "选项D", "正确答案"],
                 ["哪些能退？", "多选题", "甲", "乙", "丙", "丁", answer]])
    assert parse_exam_xlsx(raw, file_name="a.xlsx").records[0].answer == expected


@pytest.mark.parametrize(("answer", "options", "expected"), [
    ("正确", [], RIGHT), ("错误", [], WRONG), ("对", [], RIGHT), ("错", [], WRONG), ("√", [], RIGHT),
    ("×", [], WRONG), ("T", [], RIGHT), ("f", [], WRONG), ("是", [], RIGHT), ("否", [], WRONG),
    ("A", ["正确", "错误"], RIGHT), ("B", ["对", "错"], WRONG), ("A", ["错误", "正确"], WRONG),
    ("A", [], RIGHT),
])
def test_true_false_answer_spellings(answer: str, options: list[str], expected: str) -> None:
    row = ",".join(["生鲜可退", "判断", *(options or ["", ""]), answer])
    raw = f"题干,题型,选项A,选项B,正确答案\n{row}\n"
    assert parse_exam_xlsx(raw.encode("utf-8"), file_name="a.csv").records[0].answer == expected


@pytest.mark.parametrize(("row", "reason"), [
    (["", "单选", "甲", "乙", "A"], "题干为空"),
    (["质保", "单选", "甲", "乙", "C"], "C 没有对应的选项"),
    (["质保", "单选", "甲", "乙", "AB"], "单选题只能有一个"),
    (["质保", "多选", "甲", "", "A"], "至少要有两个选项"),
    (["质保", "多选", "", "乙", "B"], "选项A 为空"),
    (["质保", "单选", "甲", "乙", "甲"], "应为选项字母"),
    (["质保", "判断", "", "", "也许"], "应为 正确/错误"),
    (["质保", "", "", "", "A"], "题型为空"),
    (["质保", "单选", "甲", "乙", "A", "丙"], "选项I 有内容"),
])
def test_malformed_rows_are_errors_with_excel_rows(row: list[str], reason: str) -> None:
    header = ["题干", "题型", "选项A", "选项B", "正确答案", "选项I"]
    raw = _xlsx([header, ["好题", "问答", None, None, None], row])
    parsed = parse_exam_xlsx(raw, file_name="a.xlsx")
    assert len(parsed.records) == 1 and len(parsed.errors) == 1
    assert parsed.errors[0].line == 3 and reason in parsed.errors[0].reason


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_in_chinese_encodings(encoding: str) -> None:
    text = "题干（必填）,题型,选项A,选项B,正确答案,章节\n\"质保多久？\n三包\",单选,一年,两年,A,售后\n"
    parsed = parse_exam_xlsx(text.encode(encoding), file_name="题库.csv")
    expected = QuestionRecord(SINGLE, "质保多久？\n三包", ["一年", "两年"], "A", "", ["售后"], "", 2)
    assert parsed.records == [expected]


def _damaged() -> bytes:
    good = _xlsx([["题干", "题型", "正确答案"], ["a", "问答", ""]])
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as source, zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info, data[: len(data) // 2] if info.filename.endswith("sheet1.xml") else data)
    return buffer.getvalue()


@pytest.mark.parametrize(("raw", "name", "message"), [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "题库.xls", "另存为 .xlsx"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "题库.xlsx", "另存为 .xlsx"),
    (b"PK\x03\x04" + b"\0" * 100, "题库.xlsx", "已损坏"),
    (_damaged(), "题库.xlsx", "已损坏"),
    ("题干,答案\n质保,A\n".encode(), "题库.csv", "缺少列：题型"),
    ("题目,类型\n质保,单选\n".encode(), "题库.csv", "缺少列：正确答案"),
    (b"\xff\xfe\xfa\xfb", "a.csv", "编码"),
    (b"", "a.csv", "空的"),
])
def test_unreadable_spreadsheets_raise_format_error(raw: bytes, name: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        parse_exam_xlsx(raw, file_name=name)


def test_xlsx_writer_header_and_formula_safety() -> None:
    records = [dataclasses.replace(r, title="") for r in RECORDS]
    rows = list(load_workbook(io.BytesIO(write_exam_xlsx(records))).active.iter_rows(values_only=True))
    assert list(rows[0]) == HEADER
    assert rows[1][:2] == ("顾客问：手机的质保期是多久？\n（按国家三包规定）", "单选题")
    assert rows[1][12] == "售后/质保"
    assert rows[2][9] == "'=SUM(A1)" and rows[3][10] == "错误" and rows[6][0] == "'-5 元优惠券怎么用？"


def test_xlsx_round_trip() -> None:
    records = [dataclasses.replace(r, title="") for r in RECORDS]
    records[0] = dataclasses.replace(records[0], tags=["售后", "质保", "难度:难"])
    parsed = parse_exam_xlsx(write_exam_xlsx(records), file_name="导出.xlsx")
    assert parsed.skipped == [] and parsed.errors == []
    assert unlined(parsed.records) == records
    assert [r.line for r in parsed.records] == list(range(2, 2 + len(records)))


# --- Property tests: round trips and no other exception than FormatError --------------------------

TEXT = st.text(alphabet=st.sampled_from(list("质保发货退换货顾客ab 1%$[]/:~=#{}\\<>&;'\"-@\n\t")),
               min_size=1, max_size=20).map(str.strip).filter(bool)
TAG = st.text(alphabet=st.sampled_from(list("售后质保发货物流ab1")), min_size=1, max_size=6)


@st.composite
def records(draw: st.DrawFn) -> QuestionRecord:
    kind = draw(st.sampled_from([SINGLE, MULTIPLE, TRUEFALSE, SCENARIO]))
    options: list[str] = []
    answer = ""
    if kind in (SINGLE, MULTIPLE):
        options = draw(st.lists(TEXT, min_size=2, max_size=8))
        letters = [chr(65 + i) for i in range(len(options))]
        chosen = [draw(st.sampled_from(letters))] if kind == SINGLE else \
            draw(st.lists(st.sampled_from(letters), min_size=1, unique=True))
        answer = "".join(sorted(chosen))
    elif kind == TRUEFALSE:
        answer = draw(st.sampled_from([RIGHT, WRONG]))
    explanation = draw(st.one_of(st.just(""), TEXT))
    tags = draw(st.lists(TAG, max_size=3, unique=True))
    return QuestionRecord(kind, draw(TEXT), options, answer, explanation, tags, draw(TEXT))


def _no_arrow(record: QuestionRecord) -> bool:
    return not any("->" in o for o in record.options)  # GIFT has no escape for a "->" in an = answer


@FUZZ
@given(st.lists(records(), max_size=5))
def test_moodle_round_trip_property(rs: list[QuestionRecord]) -> None:
    assert unlined(parse_moodle_xml(write_moodle_xml(rs)).records) == rs


@FUZZ
@given(st.lists(records().filter(_no_arrow), max_size=5))
def test_gift_round_trip_property(rs: list[QuestionRecord]) -> None:
    parsed = parse_gift(write_gift(rs))
    assert (parsed.skipped, parsed.errors) == ([], [])
    assert unlined(parsed.records) == rs


@settings(max_examples=60, deadline=None)
@given(st.lists(records(), max_size=4))
def test_xlsx_round_trip_property(rs: list[QuestionRecord]) -> None:
    rs = [dataclasses.replace(r, title="", tags=[t for t in r.tags if "/" not in t]) for r in rs]
    assert unlined(parse_exam_xlsx(write_exam_xlsx(rs), file_name="a.xlsx").records) == rs


def _parses_or_refuses(parse: Callable[[bytes], Parsed], raw: bytes) -> None:
    try:
        result = parse(raw)
    except FormatError:
        return
    assert isinstance(result, Parsed)


@FUZZ
@given(st.binary(max_size=400))
def test_every_parser_takes_arbitrary_bytes(raw: bytes) -> None:
    _parses_or_refuses(parse_moodle_xml, raw)
    _parses_or_refuses(parse_gift, raw)
    _parses_or_refuses(lambda b: parse_exam_xlsx(b, file_name="a.csv"), raw)
    _parses_or_refuses(lambda b: parse_exam_xlsx(b, file_name="a.xlsx"), raw)


GIFT_PIECES = st.sampled_from(["::", "{", "}", "=", "~", "#", "####", "%50%", "%-100%", "->", "\\", "\n",
                               "\n\n", "//", "$CATEGORY: a/b\n", "[html]", "<p>", "&amp;", "T", "FALSE",
                               "质保", " ", "..", "%", "：", "\\n"])


@FUZZ
@given(st.lists(GIFT_PIECES, max_size=40))
def test_gift_structured_text(pieces: list[str]) -> None:
    _parses_or_refuses(parse_gift, "".join(pieces).encode("utf-8"))


XML_PIECES = st.sampled_from([
    "<question type=\"multichoice\">", "<question type=\"truefalse\">", "<question type=\"essay\">",
    "<question type=\"category\">", "<question>", "</question>", "<name><text>", "</text></name>",
    "<questiontext format=\"html\"><text>", "</text></questiontext>", "<answer fraction=\"100\">",
    "<answer fraction=\"x\">", "<answer fraction=\"-50\">", "<answer>", "<text>", "</text>", "</answer>",
    "<single>false</single>", "<single>true</single>", "<category>", "</category>", "<tags><tag>",
    "</tag></tags>",
    "质保", "true", "&lt;p&gt;", "<![CDATA[<br>]]>", "\n", "&amp;", "$course$/top/售后",
])


@FUZZ
@given(st.lists(XML_PIECES, max_size=30), st.booleans())
def test_moodle_structured_text(pieces: list[str], close: bool) -> None:
    raw = "<quiz>" + "".join(pieces) + ("</quiz>" if close else "")
    _parses_or_refuses(parse_moodle_xml, raw.encode("utf-8"))


CELL = st.one_of(st.sampled_from(["单选", "多选题", "判断", "问答题", "填空题", "A", "AB", "a、c", "正确",
                                  "×", "E", "=1", "'=1", "质保", "", "\"", ",", "\n"]), st.text(max_size=5))


@FUZZ
@given(st.lists(st.lists(CELL, min_size=1, max_size=8), max_size=6))
def test_spreadsheet_structured_rows(rows: list[list[str]]) -> None:
    header = "题干,题型,选项A,选项B,选项C,正确答案,章节,难度\n"
    body = "\n".join(",".join(row) for row in rows)
    _parses_or_refuses(lambda b: parse_exam_xlsx(b, file_name="a.csv"), (header + body).encode("utf-8"))


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0), st.binary(min_size=1, max_size=8))
def test_damaged_workbooks_raise_only_format_error(position: int, patch: bytes) -> None:
    good = write_exam_xlsx(RECORDS[:2])
    at = position % len(good)
    damaged = good[:at] + patch + good[at + len(patch):]
    _parses_or_refuses(lambda b: parse_exam_xlsx(b, file_name="a.xlsx"), damaged)
