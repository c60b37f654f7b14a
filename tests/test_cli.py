"""The `huashu` CLI does what docs/cli.md says: shapes, order, ids, errors, stdout/stderr."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from scripts_bank.cli.main import main

pytestmark = pytest.mark.encoder


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


PAIRS = [
    {"id": "p1", "a": "花呗怎么还款", "b": "花呗还款方式有哪些"},
    {"id": "p2", "a": "花呗怎么还款", "b": "这款电饭煲是几升的"},
    {"id": "p3", "a": "快递到哪了", "b": "我的包裹现在在哪里"},
    {"id": "p0", "a": "快递到哪了", "b": "发票抬头怎么改"},
]


def test_similarity_shapes_order_and_semantics(tmp_path: Path, real_encoder: object) -> None:
    out = tmp_path / "scores.jsonl"
    assert main(["similarity", "--input", str(write_jsonl(tmp_path / "p.jsonl", PAIRS)),
                 "--output", str(out)]) == 0
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == ["p1", "p2", "p3", "p0"]
    scores = {r["id"]: r["score"] for r in rows}
    assert all(isinstance(s, float) for s in scores.values())
    assert scores["p1"] > scores["p2"]
    assert scores["p3"] > scores["p0"]


def test_rank_scores_one_per_answer_and_prefers_the_helpful_one(
    tmp_path: Path, real_encoder: object,
) -> None:
    groups = [
        {"id": "q7", "question": "我的快递三天了还没到",
         "context": [{"role": "customer", "text": "在吗"},
                     {"role": "agent", "text": "您好，请问有什么可以帮您？"}],
         "answers": ["亲，非常抱歉让您久等了，我马上帮您查询物流进度，请提供一下订单号哦",
                     "不知道",
                     "亲，这款空气炸锅有4.5升和6升两种规格",
                     "亲，抱歉久等，我这边帮您联系快递催一下，今天内给您回复物流情况"]},
        {"id": "q8", "question": "可以开发票吗", "answers": ["可以的亲，下单时填写抬头即可"],
         "reference": "亲，支持开具电子普通发票", "reviews": [[0.9, 0.8]]},
        {"id": "q9", "question": "能便宜点吗", "answers": [], "reviews": []},
    ]
    out = tmp_path / "rank.jsonl"
    assert main(["rank", "--input", str(write_jsonl(tmp_path / "g.jsonl", groups)),
                 "--output", str(out)]) == 0
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == ["q7", "q8", "q9"]
    assert [len(r["scores"]) for r in rows] == [4, 1, 0]
    q7 = rows[0]["scores"]
    assert q7[0] > q7[1] and q7[3] > q7[1]
    assert q7[0] > q7[2] and q7[3] > q7[2]


def test_rank_with_a_reference_scores_a_lone_answer_absolutely(tmp_path: Path, real_encoder: object) -> None:
    script = "亲，这边帮您查一下物流：包裹已到您当地网点，今天会派送，请保持电话畅通哦"
    close = "亲，帮您查询了物流，快递已到您所在城市的网点，预计今天派送，请留意电话哦"
    far = "亲，这款空气炸锅有4.5升和6升两种规格"
    question = "我的快递三天了还没到"
    groups = [{"id": "alone-close", "question": question, "answers": [close], "reference": script},
              {"id": "alone-far", "question": question, "answers": [far], "reference": script},
              {"id": "crowd", "question": question, "answers": [far, close, "不知道"], "reference": script},
              {"id": "no-script", "question": question, "answers": [close]}]
    out = tmp_path / "rank.jsonl"
    assert main(["rank", "--input", str(write_jsonl(tmp_path / "g.jsonl", groups)),
                 "--output", str(out)]) == 0
    scores = {r["id"]: r["scores"] for r in read_jsonl(out)}
    assert scores["alone-close"][0] - scores["alone-far"][0] > 0.4
    # The same answer means the same alone and in a crowd; without a script a lone answer is 0.5.
    assert scores["crowd"][:2] == pytest.approx([scores["alone-far"][0], scores["alone-close"][0]], abs=1e-4)
    assert scores["no-script"] == [0.5]


def test_lookup_returns_bank_ids_best_first_at_most_k(tmp_path: Path, real_encoder: object) -> None:
    bank = [
        {"id": "s1", "question": "怎么修改收货地址", "answer": "亲，订单未发货前可以在订单详情里修改地址哦"},
        {"id": "s2", "question": "什么时候发货", "answer": "亲，付款后48小时内发货"},
        {"id": "s3", "question": "可以开发票吗", "answer": "亲，支持电子普通发票"},
        {"id": "s4", "question": "支持花呗分期吗", "answer": "亲，支持花呗3期免息"},
    ]
    queries = [{"id": "u1", "query": "地址填错了能改吗"}, {"id": "u2", "query": "今天下单啥时候能发"},
               {"id": "u3", "query": "发票怎么开"}]
    out = tmp_path / "hits.jsonl"
    assert main(["lookup", "--bank", str(write_jsonl(tmp_path / "b.jsonl", bank)),
                 "--input", str(write_jsonl(tmp_path / "q.jsonl", queries)),
                 "--output", str(out), "--k", "2"]) == 0
    rows = read_jsonl(out)
    assert [r["id"] for r in rows] == ["u1", "u2", "u3"]
    assert all(len(r["hits"]) == 2 for r in rows)
    assert [r["hits"][0] for r in rows] == ["s1", "s2", "s3"]


@pytest.mark.parametrize(("content", "expected"), [
    ('{"id": "p1", "a": "x", "b": "y"}\nnot json\n', ":2: 不是合法的 JSON"),
    ('{"id": "p1", "a": "x"}\n', ':1: 缺少字段 "b"'),
    ('{"id": "p1", "a": "x", "b": 3}\n', ':1: 字段 "b" 应为字符串'),
    ('{"id": 1, "a": "x", "b": "y"}\n', ':1: 字段 "id" 应为字符串'),
    ('{"id": "p1", "a": "x", "b": "y"}\n{"id": "p1", "a": "x", "b": "y"}\n', ":2: id \"p1\""),
    ("[1, 2]\n", ":1: 每行必须是一个 JSON 对象"),
    ("", "文件为空"),
])
def test_bad_similarity_input_exits_nonzero_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str,
) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text(content, "utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["similarity", "--input", str(source), "--output", str(out)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert str(source) in err[0] and expected in err[0]
    assert not out.exists()
    assert list(tmp_path.glob("*.part")) == []


@pytest.mark.parametrize(("group", "expected"), [
    ({"id": "q", "question": "x", "answers": "abc"}, 'answers" 应为字符串数组'),
    ({"id": "q", "question": "x", "answers": ["a"], "reviews": [[1.5]]}, "reviews[0]"),
    ({"id": "q", "question": "x", "answers": ["a", "b"], "reviews": [None]}, "等长"),
    ({"id": "q", "question": "x", "answers": ["a"], "context": [{"role": "customer"}]}, "context[0]"),
])
def test_bad_rank_input_is_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], group: dict[str, Any], expected: str,
) -> None:
    source = write_jsonl(tmp_path / "g.jsonl", [group])
    assert main(["rank", "--input", str(source), "--output", str(tmp_path / "o.jsonl")]) == 2
    assert expected in capsys.readouterr().err


def test_failed_run_leaves_previous_output_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n", "utf-8")
    source = tmp_path / "bad.jsonl"
    source.write_text("{oops\n", "utf-8")
    assert main(["similarity", "--input", str(source), "--output", str(out)]) == 2
    assert out.read_text("utf-8") == "previous\n"


def test_console_script_keeps_stdout_clean_and_shows_progress(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "huashu"
    run = uuid.uuid4().hex[:8]  # fresh texts, so the embedding cache cannot skip the encoder
    source = write_jsonl(tmp_path / "p.jsonl", [
        {"id": f"x{i}", "a": f"第{i}个订单{run}什么时候发货", "b": f"订单{i}号{run}能退货吗"}
        for i in range(70)
    ])
    out = tmp_path / "s.jsonl"
    done = subprocess.run([str(exe), "similarity", "--input", str(source), "--output", str(out)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert "%" in done.stderr or "it/s" in done.stderr
    assert len(read_jsonl(out)) == 70
    missing = subprocess.run([str(exe), "similarity", "--input", str(tmp_path / "nope.jsonl"),
                              "--output", str(out)], capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and "nope.jsonl" in missing.stderr


def test_adapt_refuses_an_unknown_user(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["adapt", "--as", "nobody", "--budget-minutes", "1"]) == 2
    err = capsys.readouterr().err
    assert "huashu adapt: 输入错误" in err and "用户「nobody」不存在" in err


def test_unwritable_output_and_missing_model_are_one_line_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    source = write_jsonl(tmp_path / "p.jsonl", PAIRS)
    blocker = tmp_path / "a-file"
    blocker.write_text("x", "utf-8")
    assert main(["similarity", "--input", str(source), "--output", str(blocker / "out.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "输入错误" in err and "无法写出输出文件" in err
    assert main(["similarity", "--input", str(source), "--output", str(tmp_path)]) == 2
    assert "输出路径是一个文件夹" in capsys.readouterr().err
    missing = tmp_path / "no-such-model"
    assert main(["similarity", "--input", str(source), "--output", str(tmp_path / "o.jsonl"),
                 "--model", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "模型文件夹不存在" in err and "no-such-model" in err
    assert not (tmp_path / "o.jsonl").exists()


def test_a_model_folder_that_cannot_load_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{not json", "utf-8")
    source = write_jsonl(tmp_path / "p.jsonl", PAIRS)
    assert main(["similarity", "--input", str(source), "--output", str(tmp_path / "o.jsonl"),
                 "--model", str(broken)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "无法加载模型" in err
