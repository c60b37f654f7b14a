"""Import templates in Chinese: 知识题库 and 用户管理 read Chinese headers and values (the English
ones still work), and a broken file is explained without the parser's English message."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from training.auth import accounts
from training.core.tables import TableError, read_table
from training.exams import knowledge
from training.models import KnowledgeItem, Role, User

ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")


def _person(session: Session, role: Role) -> User:
    user = User(username=role.value, display_name=role.value, role=role.value, password_hash="x")
    session.add(user)
    session.commit()
    return user


def test_knowledge_import_reads_chinese_headers_and_kinds(session: Session) -> None:
    trainer = _person(session, Role.TRAINER)
    table = ("题型,题干,选项,答案,解析,商品编号,标签\n"
             "单选题,质保多久？,A. 12个月|B. 24个月,B,整机两年,QH-RV04,质保|售后\n"
             "多选,哪些可以退？,A. 未拆封|B. 已使用|C. 质量问题,AC,,,\n"
             "判断题,可以开专票。,,对,,,\n")
    result = knowledge.import_items(session=session, actor=trainer, raw=table.encode("gbk"),
                                    file_name="题库.csv", limit_bytes=1 << 20)
    assert result.errors == []
    items = session.exec(select(KnowledgeItem).order_by(KnowledgeItem.id)).all()  # type: ignore[arg-type]
    assert [(i.kind, i.answer, i.sku, i.tags) for i in items] == [
        ("single", "B", "QH-RV04", ["质保", "售后"]), ("multiple", "AC", "", []), ("truefalse", "对", "", [])]


def test_knowledge_import_names_missing_and_wrong_things_in_chinese(session: Session) -> None:
    trainer = _person(session, Role.TRAINER)
    with pytest.raises(TableError, match="缺少列：答案"):
        knowledge.import_items(session=session, actor=trainer, raw="题型,题干,选项\n单选题,问,A|B\n".encode(),
                               file_name="a.csv", limit_bytes=1 << 20)
    result = knowledge.import_items(session=session, actor=trainer,
                                    raw="题型,题干,选项,答案\n问答题,问,A. 1|B. 2,A\n".encode(),
                                    file_name="a.csv", limit_bytes=1 << 20)
    assert result.errors == ["第 2 行：题型「问答题」无效，应为单选题、多选题或判断题。"]


def test_bulk_users_read_chinese_headers_and_role_names(session: Session) -> None:
    admin = _person(session, Role.ADMIN)
    table = "用户名,姓名,角色,班组\nxw1,小王,新人,十二月班\nxl2,小李,客服,\nxz3,小张,培训师,\n"
    result = accounts.bulk_create_users(session=session, actor=admin, raw=table.encode("utf-8"),
                                        file_name="users.csv")
    assert result.errors == []
    roles = {u.username: u.role for u in session.exec(select(User)).all()}
    assert (roles["xw1"], roles["xl2"], roles["xz3"]) == ("new_hire", "agent", "trainer")
    wrong = accounts.bulk_create_users(session=session, actor=admin,
                                       raw="用户名,姓名,角色\nxq4,小钱,组长\n".encode(), file_name="u.csv")
    assert wrong.errors == ["第 2 行：未知角色「组长」（应为管理员、培训师、客服或新人）。"]
    with pytest.raises(TableError, match="缺少列：角色"):
        accounts.bulk_create_users(session=session, actor=admin, raw="用户名,姓名\na1,甲\n".encode(),
                                   file_name="u.csv")


@pytest.mark.parametrize(("raw", "name"), [
    (b"PK\x03\x04garbage", "broken.xlsx"),
    (b'a,b\n1,2\n"3,4\n', "quote.csv"),
])
def test_unreadable_files_are_explained_without_the_parsers_english(raw: bytes, name: str) -> None:
    with pytest.raises(TableError) as caught:
        read_table(raw, file_name=name)
    message = str(caught.value).replace(name, "")
    assert not ENGLISH_WORD.findall(message.replace("Excel", "").replace("xlsx", "")), message


def test_a_missing_answer_is_asked_for_not_called_wrong() -> None:
    """知识题库 新建题目 without an answer said 答案「」不在选项 AB 之中."""
    with pytest.raises(knowledge.KnowledgeError, match="^请填写答案：选项 AB 中正确的字母"):
        knowledge.validate(knowledge.KnowledgeDraft("single", "质保多久？", ["A. 12个月", "B. 24个月"], " "))
