"""Importing a 话术 table from CSV/XLSX and exporting the bank safely."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd
import pytest

from scripts_bank.io import (
    ScriptImportError,
    ScriptRow,
    export_bytes,
    match_category,
    read_script_table,
    scripts_table,
    split_tags,
)
from training.core.errors import UserError
from training.models import Category

ROWS = [
    ScriptRow("什么时候发货", "{客户称呼}您好，付款后48小时内发货哦", "物流配送", ["发货", "时效"],
              "羽绒服", "标准版"),
    ScriptRow("可以开发票吗", "亲，支持电子普通发票，下单时填写抬头即可", "发票", [], "", ""),
    ScriptRow("支持花呗分期吗", "亲，支持花呗3期免息", "账户支付", ["花呗"], "", "简洁版"),
]
PAYLOADS = ['=HYPERLINK("http://evil.example","点我")', "+1", "-2+3", "@SUM(A1)", "\t=1+1"]


def _xlsx(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt,name", [("csv", "bank.csv"), ("xlsx", "bank.xlsx")])
def test_export_then_import_gives_the_rows_back(fmt: str, name: str) -> None:
    raw = export_bytes(scripts_table(ROWS), fmt)
    assert read_script_table(raw, file_name=name) == ROWS


def test_csv_export_has_a_bom_and_chinese_headers() -> None:
    raw = export_bytes(scripts_table(ROWS), "csv")
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.decode("utf-8-sig").splitlines()[0] == "问题,话术,分类,标签,商品,变体"


def test_gbk_csv_with_english_headers_and_lenient_categories() -> None:
    text = ("question,answer,category,tags,product\n"
            "怎么退货,亲，在订单页申请售后即可,退换,退货；七天无理由|售后,\n"
            "多久到货,亲，一般3天内送达,物流,,保温杯\n"
            "在吗,亲，在的,,,\n")
    rows = read_script_table(text.encode("gbk"), file_name="旧话术.csv")
    assert [r.category for r in rows] == ["退换货", "物流配送", "其他"]
    assert rows[0].tags == ["退货", "七天无理由", "售后"]
    assert rows[1].product == "保温杯"


def test_chinese_header_aliases_are_recognised() -> None:
    frame = pd.DataFrame({"顾客问题": ["价格能便宜点吗"], "最佳话术": ["亲，已经是活动价了哦"],
                          "类别": ["价格优惠"], "产品": ["电饭煲"], "变体": ["B"]})
    [row] = read_script_table(_xlsx(frame), file_name="话术.xlsx")
    assert (row.question, row.answer, row.category, row.product, row.variant) == (
        "价格能便宜点吗", "亲，已经是活动价了哦", "价格优惠", "电饭煲", "B")


def test_category_matching() -> None:
    assert match_category("售后") is Category.REPAIR
    assert match_category("INVOICE") is Category.INVOICE
    assert match_category(" 其它 ") is Category.OTHER
    assert match_category("") is Category.OTHER
    assert match_category("退") is None  # 退换货 or 退款: ambiguous
    assert match_category("会员专区") is None
    assert split_tags("a，b、c;d；e|b") == ["a", "b", "c", "d", "e"]


def test_unknown_categories_and_empty_cells_name_the_excel_rows() -> None:
    text = ("问题,话术,分类\n"
            "什么时候发货,亲，48小时内发货,物流配送\n"
            ",亲，这行没有问题,物流配送\n"
            "能便宜吗,亲，活动价哦,砍价专区\n"
            "\n"
            "发票呢,,发票\n")
    with pytest.raises(ScriptImportError) as caught:
        read_script_table(text.encode("utf-8"), file_name="bad.csv")
    message = str(caught.value)
    assert "第 3、6 行的问题或话术为空" in message  # the blank line 5 is a row in Excel too
    assert "第 4 行的分类「砍价专区」无法识别" in message
    assert "bad.csv" in message


def test_row_numbers_count_records_not_lines() -> None:
    text = '问题,话术\n在吗,"亲，在的\n请问有什么可以帮您"\n发货吗,\n'
    with pytest.raises(ScriptImportError, match="第 3 行的问题或话术为空"):
        read_script_table(text.encode(), file_name="multi.csv")


def test_empty_rows_in_xlsx_are_skipped_and_numbers_match_excel() -> None:
    frame = pd.DataFrame({"问题": ["在吗", "", "发货吗"], "话术": ["亲，在的", "", ""]})
    with pytest.raises(UserError, match="第 4 行的问题或话术为空"):
        read_script_table(_xlsx(frame), file_name="a.xlsx")


def test_missing_columns_are_named() -> None:
    with pytest.raises(ScriptImportError, match="缺少列：话术"):
        read_script_table("问题,备注\n在吗,x\n".encode(), file_name="a.csv")


@pytest.mark.parametrize("raw,match", [
    (b"", "是空的"),
    ("问题,话术\n".encode(), "没有话术"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "旧版 Excel"),
    ("问题,话术\n在吗,在的\n".encode("utf-16"), "UTF-16"),
])
def test_unreadable_files_get_a_chinese_error(raw: bytes, match: str) -> None:
    with pytest.raises(ScriptImportError, match=match):
        read_script_table(raw, file_name="x.csv")


def test_truncated_xlsx_is_refused() -> None:
    raw = export_bytes(scripts_table(ROWS), "xlsx")
    with pytest.raises(ScriptImportError, match="不是有效的 Excel"):
        read_script_table(raw[: len(raw) // 2], file_name="cut.xlsx")
    with pytest.raises(ScriptImportError, match="不是有效的 Excel"):
        read_script_table(raw[: len(raw) // 2], file_name="cut.csv")  # detected by content


def test_oversize_files_are_refused_before_parsing() -> None:
    raw = ("问题,话术\n" + "在吗,在的\n" * 2000).encode()
    with pytest.raises(ScriptImportError, match="超过上传上限"):
        read_script_table(raw, file_name="big.csv", limit_bytes=1024)


def test_undecodable_csv_is_refused() -> None:
    with pytest.raises(UserError, match="编码无法识别"):
        read_script_table(b"\x81\x30\x81", file_name="x.csv")


def _injection_rows() -> list[ScriptRow]:
    return [ScriptRow(p, p, "其他", [p], p, p) for p in PAYLOADS]


def test_csv_export_neutralises_formulas() -> None:
    raw = export_bytes(scripts_table(_injection_rows()), "csv")
    frame = pd.read_csv(io.BytesIO(raw), dtype=str, encoding="utf-8-sig", keep_default_na=False)
    for column in ("问题", "话术", "标签", "商品", "变体"):
        assert all(cell.startswith("'") for cell in frame[column]), column
    assert read_script_table(raw, file_name="x.csv")[3].question == "@SUM(A1)"


def test_xlsx_export_holds_no_formula_cells() -> None:
    raw = export_bytes(scripts_table(_injection_rows()), "xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(raw)).worksheets[0]
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row]
    assert cells and all(c.data_type == "s" for c in cells if c.value is not None)
    assert all(str(c.value).startswith("'") for c in cells if c.column != 3)
    assert read_script_table(raw, file_name="x.xlsx")[0].answer == PAYLOADS[0]


def test_unknown_export_format() -> None:
    with pytest.raises(ValueError):
        export_bytes(scripts_table(ROWS), "pdf")


def test_variant_column_is_called_bian_ti_and_old_files_still_import() -> None:
    """Issue 17.11: a script's variant is 变体, not a version; 版本 columns exported before still read."""
    for header in ("变体", "版本"):
        raw = f"问题,话术,{header}\n能开专票吗,亲，可以开专票哦,企业客户\n".encode()
        assert read_script_table(raw, file_name="x.csv")[0].variant == "企业客户", header
