"""User text (answers, chat-log lines, scripts, display names) renders inert on the pages that show it.

Each payload is put into every user-text field of one world, then the pages are run with AppTest:
the payload must appear verbatim in a text element (st.text, st.code, a dataframe) or as escaped
markdown, never raw in a markdown-rendering element, and no element may allow HTML.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from exam_world import demo_people, knowledge, sit
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from scripts_bank.authoring import create_script
from training.auth import accounts
from training.exams import delivery as paper_delivery
from training.exams import papers
from training.models import Cohort, MinedQuestion, Role, Script, User, utcnow

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
PAYLOADS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[x](javascript:alert(1))",
            "**bold**", "$$x$$", ":red[x]"]
MARKDOWN_SPECIALS = set("\\`*_{}[]()#+-.!|<>~:$")  # what pages.ui.markdown.md_escape escapes


def md_escaped(text: str) -> str:
    return "".join("\\" + ch if ch in MARKDOWN_SPECIALS else ch for ch in text)


def rendered(at: AppTest) -> tuple[list[str], list[str]]:
    """(plain-text values, markdown-rendered values) of everything the page drew."""
    plain = [t.value for t in at.text] + [c.value for c in at.code]
    for frame in at.dataframe:
        plain += [str(v) for v in frame.value.astype(str).to_numpy().ravel()]
        plain += [str(c) for c in frame.value.columns]
    for box in list(at.selectbox) + list(at.multiselect) + list(at.radio):
        plain += [str(o) for o in box.options]  # options are drawn as plain text
    markdown = [m.value for kind in ("markdown", "caption", "title", "header", "subheader", "info",
                                     "warning", "error", "success", "toast")
                for m in at.get(kind)]
    markdown += [e.label for e in at.expander] + [t.label for t in at.tabs]
    markdown += [w.label for kind in ("button", "checkbox", "selectbox", "text_input", "text_area",
                                      "multiselect", "radio", "number_input", "slider")
                 for w in at.get(kind)]
    return plain, markdown


def assert_inert(at: AppTest, payload: str) -> None:
    assert not at.exception, at.exception
    for element in [*at.markdown, *at.caption]:  # headings and alerts have no HTML switch at all
        assert not element.proto.allow_html, f"HTML allowed in {element.value!r}"
    plain, markdown = rendered(at)
    raw = [m for m in markdown if payload in m]
    assert raw == [], f"{payload!r} rendered as markdown"
    assert any(payload in p for p in plain) or any(md_escaped(payload) in m for m in markdown), \
        f"{payload!r} not shown at all"


def _world(session: Session, payload: str) -> tuple[User, User]:
    """A candidate named ``payload`` answered ``payload`` to a chat line ``payload``; a script says it."""
    demo = demo_people(session)
    admin = session.exec(select(User).where(User.role == Role.ADMIN.value)).one()
    cohort = session.exec(select(Cohort)).one()
    candidate = accounts.create_user(session=session, actor=admin, username="cand_x", display_name=payload,
                                     role="agent", password="candidate-pass-1", cohort_id=cohort.id)
    mined = MinedQuestion(question=f"顾客问：{payload}", category="物流配送", in_question_bank=True,
                          context=[{"role": "customer", "text": f"顾客说：{payload}"},
                                   {"role": "agent", "text": f"客服答：{payload}"}],
                          examples=[f"同类问法：{payload}"], agent_replies=[f"客服回复：{payload}"])
    session.add(mined)
    session.commit()
    create_script(session=session, actor=demo.trainer, question=f"话术问题：{payload}",
                  answer=f"话术回答：{payload}", category="物流配送", product=payload, variant=payload,
                  tags=[payload[:20]], mined_question_id=mined.id)
    paper = papers.create_paper(session=session, actor=demo.trainer, title=f"试卷 {payload}", shuffle=False,
                                pass_mark=0.5)
    papers.add_questions(session=session, actor=demo.trainer, paper_id=paper.id or 0,
                         mined_question_ids=[mined.id or 0],
                         knowledge_item_ids=[i.id or 0 for i in knowledge(session, 1)])
    paper_delivery.publish_paper(session=session, actor=demo.trainer, paper_id=paper.id or 0,
                                 cohort_ids=[cohort.id or 0], opens_at=utcnow(), closes_at=None)
    sit(session, candidate, paper.id or 0, reply=f"我的回答：{payload}")
    return demo.trainer, candidate


def _page(user: User, page: str | None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["user_id"] = user.id
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    return at


@pytest.mark.parametrize("payload", PAYLOADS)
def test_user_text_renders_inert(session: Session, payload: str) -> None:
    trainer, candidate = _world(session, payload)
    # Results and review: the candidate's name, answer, the chat line and the approved script.
    results = _page(trainer, "pages/exam_results.py")
    assert_inert(results, payload)
    plain, _ = rendered(results)
    assert f"我的回答：{payload}" in plain and f"顾客说：{payload}" in plain
    # The script bank: question, answer, tags, product and variant of a script.
    bank = _page(trainer, "pages/script_bank.py")
    script = session.exec(select(Script).where(Script.question == f"话术问题：{payload}")).one()
    bank.session_state[f"bank_open_{script.id}"] = True  # its editor and history are drawn when open
    bank.run()
    assert_inert(bank, payload)
    assert f"话术回答：{payload}" in [c.value for c in bank.code]
    # The question bank: mined questions, their chat context and the agents' replies.
    questions = _page(trainer, "pages/question_bank.py")
    assert_inert(questions, payload)
    # Home page and sidebar of the user whose display name is the payload.
    home = _page(candidate, None)
    assert_inert(home, payload)


#: Raw HTML that is not a literal but is made by the server from no user input; each is checked below.
SERVER_MADE_HTML = {
    "_TYPING_AUTOSAVE_JS",  # a module constant with a number from the code
    "chinese_chrome_css(get_settings().upload_limit_mb)",  # an int from the settings
    "script",  # pages.ui.common.cookie_script(): a random code from the server, or a fixed logout call
    "_COPY_JS",  # pages.script_lookup: a literal script that copies a card's code block
}


def test_server_made_html_holds_no_user_text(monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    from pages.ui import common, exam_take

    assert "__DELAY__" not in exam_take._TYPING_AUTOSAVE_JS and "1500" in exam_take._TYPING_AUTOSAVE_JS
    lookup = ast.parse((ROOT / "pages" / "script_lookup.py").read_text(encoding="utf-8"))
    [copy_js] = [n.value for n in ast.walk(lookup) if isinstance(n, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == "_COPY_JS" for t in n.targets)]
    assert isinstance(copy_js, ast.Constant), "the copy script must be a literal"
    # it reads the text from the page (innerText), never writes markup into it
    assert "innerHTML" not in copy_js.value and "insertAdjacentHTML" not in copy_js.value
    css = common.chinese_chrome_css(50)
    assert "<" not in css.removeprefix("<style>").removesuffix("</style>")
    state: dict[str, object] = {common.HANDOFF_KEY: "AbC-_123"}
    monkeypatch.setattr(common.st, "session_state", state)
    script = common.cookie_script()
    assert script is not None and re.fullmatch(r"<script>[^<]*</script>", script)
    assert '\\"code\\": \\"AbC-_123\\"' in script
    state[common.CLEAR_COOKIE_KEY] = True
    assert common.cookie_script() == ("<script>fetch(\"/api/logout\", {method: 'POST', "
                                      "credentials: 'same-origin'});</script>")
    assert common.cookie_script() is None


def test_unsafe_html_is_never_given_user_text() -> None:
    """Every ``unsafe_allow_html=True`` / ``st.html`` in the UI renders a constant string only."""
    uses = []
    for path in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            unsafe = any(k.arg == "unsafe_allow_html" and not (isinstance(k.value, ast.Constant)
                                                              and k.value.value is False)
                         for k in node.keywords)
            html = isinstance(node.func, ast.Attribute) and node.func.attr == "html"
            if unsafe or html:
                uses.append(path.name)
                assert node.args and (isinstance(node.args[0], ast.Constant)
                                      or ast.unparse(node.args[0]) in SERVER_MADE_HTML), \
                    f"{path.name}:{node.lineno} passes non-constant text to raw HTML"
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "pages").glob("*.py"))
    assert source.count("unsafe_allow_html=True") + source.count("st.html(") == len(uses)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_messages_quoting_user_text_render_inert(session: Session, payload: str) -> None:
    """Success and error messages repeat what was typed (here a cohort name): shown as typed."""
    admin = User(username="root", display_name="管理员", role=Role.ADMIN.value,
                 password_hash=accounts.hash_password("root-pass-1"))
    session.add(admin)
    session.commit()
    at = _page(admin, "pages/admin_cohorts.py")
    for _ in range(2):  # created, then refused as a duplicate
        at.text_input(key="cohort_name").input(payload)
        next(b for b in at.button if b.label == "创建").click()
        at.run()
        assert_inert(at, payload)
    assert at.success or at.error
    assert any(md_escaped(payload) in e.value for e in at.error)
