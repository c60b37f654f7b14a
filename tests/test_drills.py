"""模拟接待 drills: building from the demo chat log, turn sequencing, the clock, resume, visibility, roles."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from sqlmodel import Session, col, select
from test_lookup import HashingEncoder

from training.auth.permissions import PermissionDenied
from training.certification.duty import duty_status
from training.chats.importer import import_chat_log
from training.core.db import get_engine
from training.drills import building, results, runs
from training.drills.access import my_drills
from training.drills.building import DrillError
from training.drills.certify import create_drill_certification
from training.drills.scoring import NO_MODEL
from training.drills.sessions import is_noise
from training.models import (
    Certificate,
    ChatMessage,
    Cohort,
    DrillRun,
    DrillTurn,
    MinedQuestion,
    Role,
    Script,
    User,
)
from training.nlp.embeddings import Embedder
from training.nlp.model_versions import SHIPPED_NAME
from training.ops.demo.seed import seed_demo

DEMO_LOG = Path(__file__).resolve().parents[1] / "data" / "demo" / "chatlog.tsv"
#: The demo session about the IH rice cooker: five customer turns, the closing "嗯嗯" proposed as noise.
RICE_COOKER = "6ce198b8"


class PromptHashingEncoder(HashingEncoder):
    """The hashing stand-in, also answering for the e5 prompts (same vectors)."""

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False,
               prompt_name: str | None = None) -> npt.NDArray[np.float32]:
        return super().encode(texts, batch_size=batch_size, show_progress=show_progress)


def _at(seconds: float) -> datetime:
    return datetime(2026, 12, 1, 2, 0, tzinfo=UTC) + timedelta(seconds=seconds)


def _user(session: Session, role: Role) -> User:
    return session.exec(select(User).where(User.role == role.value)).one()


@pytest.fixture
def world(db_url: str) -> dict[str, int]:
    """The demo store with the demo chat log imported; a 4-turn drill from the rice-cooker session."""
    with Session(get_engine(), expire_on_commit=False) as session:
        seed_demo(session=session)
        trainer = _user(session, Role.TRAINER)
        imported = import_chat_log(session=session, actor=trainer, raw=DEMO_LOG.read_bytes(),
                                   file_name="chatlog.tsv")
        key = next(c.session_key for c in building.find_sessions(session=session, actor=trainer)
                   if c.session_key.startswith(RICE_COOKER))
        drill = building.create_drill(session=session, actor=trainer, import_id=imported.import_id,
                                      session_key=key, title="电饭煲咨询", first_reply_seconds=30,
                                      reply_seconds=60)
        return {"drill": drill.id or 0, "import": imported.import_id, "trainer": trainer.id or 0,
                "newhire": _user(session, Role.NEW_HIRE).id or 0, "agent": _user(session, Role.AGENT).id or 0,
                "cohort": session.exec(select(Cohort)).one().id or 0}


def _get(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    assert user is not None
    return user


def test_noise_proposals() -> None:
    assert is_noise("在吗") == "寒暄"
    assert is_noise("我要转人工") == "转人工"
    assert is_noise("[ORDERID_10658339]") == "订单号"
    assert is_noise("嗯嗯") == "寒暄"
    assert is_noise("电饭煲是IH的吗") is None


def test_build_from_demo_session_proposes_noise_and_keeps_four_turns(world: dict[str, int]) -> None:
    with Session(get_engine()) as session:
        trainer = _get(session, world["trainer"])
        drill = building.get_drill(session=session, drill_id=world["drill"])
        kept = building.drill_turns(drill)
        assert [t["customer"] for t in kept][0] == "电饭煲是IH的吗"
        assert len(kept) == 4 and len(drill.turns or []) == 5
        assert all(t["agent"] for t in kept)  # every kept turn has the real agent's reply
        # Too few turns left: refused with the rule in words.
        with pytest.raises(DrillError, match="3–10 轮"):
            building.update_drill(session=session, actor=trainer, drill_id=world["drill"],
                                  excluded=[int(t["seq"]) for t in (drill.turns or [])][:3])
        # Filters: covered by scripts or not, number of turns.
        assert all(c.usable == 4 for c in building.find_sessions(session=session, actor=trainer, min_turns=4,
                                                                 max_turns=4))
        assert building.find_sessions(session=session, actor=trainer, covered=True) == []


def test_unmasked_session_is_refused(world: dict[str, int]) -> None:
    with Session(get_engine()) as session:
        trainer = _get(session, world["trainer"])
        lines = ["你好 我的手机是13912345678 能改地址吗", "亲，可以的", "改到哪里", "好的已记录", "谢谢",
                 "不客气",
                 "还有别的吗", "没有了"]
        session.add_all([ChatMessage(import_id=world["import"], session_key="leaky", seq=i,
                                     role="customer" if i % 2 == 0 else "agent", text=t)
                         for i, t in enumerate(lines)])
        session.commit()
        with pytest.raises(DrillError, match="未脱敏"):
            building.create_drill(session=session, actor=trainer, import_id=world["import"],
                                  session_key="leaky",
                                  title="泄露", excluded=[])
        assert all(c.session_key != "leaky" for c in building.find_sessions(session=session, actor=trainer))


def test_roles_agents_cannot_build_candidates_see_only_their_runs(world: dict[str, int]) -> None:
    with Session(get_engine()) as session:
        agent, newhire = _get(session, world["agent"]), _get(session, world["newhire"])
        with pytest.raises(PermissionDenied):
            building.find_sessions(session=session, actor=agent)
        with pytest.raises(PermissionDenied):
            building.create_drill(session=session, actor=agent, import_id=world["import"], session_key="x",
                                  title="x")
        with pytest.raises(PermissionDenied):
            results.drill_results(session=session, actor=newhire, drill_id=world["drill"])
        with pytest.raises(DrillError, match="还没有发布"):
            runs.start_run(session=session, actor=newhire, drill_id=world["drill"])
        trainer = _get(session, world["trainer"])
        building.publish_drill(session=session, actor=trainer, drill_id=world["drill"])
        run = runs.start_run(session=session, actor=newhire, drill_id=world["drill"])
        with pytest.raises(DrillError, match="找不到"):
            runs.run_view(session=session, actor=agent, run_id=run.id or 0)
        with pytest.raises(DrillError, match="找不到"):
            results.transcript(session=session, actor=agent, run_id=run.id or 0)
        assert results.transcript(session=session, actor=_get(session, world["trainer"]),
                                  run_id=run.id or 0).rows == []


def test_sequencing_clock_resume_and_scoring(world: dict[str, int]) -> None:
    embedder = Embedder(PromptHashingEncoder())
    with Session(get_engine(), expire_on_commit=False) as session:
        trainer = _get(session, world["trainer"])
        building.publish_drill(session=session, actor=trainer, drill_id=world["drill"],
                               cohort_ids=[world["cohort"]], opens_at=_at(-60), closes_at=_at(3600))
        newhire = _get(session, world["newhire"])
        run = runs.start_run(session=session, actor=newhire, drill_id=world["drill"], now=_at(0))
        view = runs.run_view(session=session, actor=newhire, run_id=run.id or 0, now=_at(1))
        assert [ln.text for ln in view.lines] == ["电饭煲是IH的吗"] and view.index == 0 and view.target == 30
        assert "计时不会重新开始" in view.rules
        with pytest.raises(DrillError, match="请先输入"):
            runs.send_reply(session=session, actor=newhire, run_id=run.id or 0, index=0, text="  ",
                            now=_at(2))
        runs.send_reply(session=session, actor=newhire, run_id=run.id or 0, index=0, now=_at(12),
                        text="亲，是IH电磁加热的哦，受热更均匀", chars_per_minute=95.0, embedder=embedder)
        # Double click: the same turn again changes nothing.
        runs.send_reply(session=session, actor=newhire, run_id=run.id or 0, index=0, now=_at(13), text="重复",
                        embedder=embedder)
        # The next customer message is on its way (default pause 3 s: the demo log has no times).
        view = runs.run_view(session=session, actor=newhire, run_id=run.id or 0, now=_at(13))
        assert view.waiting_seconds == pytest.approx(2.0) and view.index == 1
        assert [ln.role for ln in view.lines] == ["customer", "me"]
        with pytest.raises(DrillError, match="还没有出现"):
            runs.send_reply(session=session, actor=newhire, run_id=run.id or 0, index=1, text="好",
                            now=_at(14))
        with pytest.raises(DrillError, match="还没有开始"):
            runs.send_reply(session=session, actor=newhire, run_id=run.id or 0, index=2, text="好",
                            now=_at(16))
        runs.save_draft(session=session, actor=newhire, run_id=run.id or 0, text="亲，内胆是")
        assert runs.has_open_run(session=session, user_id=newhire.id or 0, now=_at(20))
    # "Restart": a new session (as after a server restart) resumes at the same turn, same clock, draft kept.
    with Session(get_engine(), expire_on_commit=False) as session:
        newhire = _get(session, world["newhire"])
        again = runs.start_run(session=session, actor=newhire, drill_id=world["drill"], now=_at(100))
        assert again.id == run.id
        view = runs.run_view(session=session, actor=newhire, run_id=again.id or 0, now=_at(100))
        assert view.index == 1 and view.draft == "亲，内胆是" and view.waiting_seconds == 0
        assert view.lines[-1].text == "内胆涂层安全吗" and view.target == 60
        replies = ["亲，内胆是食品级不粘涂层，安全无毒的哦", "可以煮粥的，有防溢设计，不会溢出来",
                   "亲，16点前付款当天发货，一般2-3天到"]
        moment = 100.0
        for i, text in enumerate(replies, start=1):
            moment += 10 * i
            runs.send_reply(session=session, actor=newhire, run_id=again.id or 0, index=i, text=text,
                            chars_per_minute=80.0, embedder=embedder, now=_at(moment))
            moment += runs.DEFAULT_PAUSE
        finished = session.get(DrillRun, again.id)
        assert finished is not None and finished.finished_at is not None and finished.score is not None
        assert not runs.has_open_run(session=session, user_id=newhire.id or 0, now=_at(moment))
        shown = results.transcript(session=session, actor=newhire, run_id=again.id or 0)
        assert [r.index for r in shown.rows] == [0, 1, 2, 3]
        assert shown.rows[0].response_seconds == pytest.approx(12.0) and shown.rows[0].target_met
        assert shown.rows[1].response_seconds == pytest.approx(95.0) and shown.rows[1].target_met is False
        assert all(r.score is not None and r.reasons and r.model_name == SHIPPED_NAME for r in shown.rows)
        assert shown.rows[1].real_reply and shown.rows[0].chars_per_minute == 95.0
        # A second go under the same assignment is refused; trainers see the result.
        with pytest.raises(DrillError, match="已经完成"):
            runs.start_run(session=session, actor=newhire, drill_id=world["drill"], now=_at(moment + 5))
        board = results.drill_results(session=session, actor=_get(session, world["trainer"]),
                                      drill_id=world["drill"])
        assert [p.user_name for p in board.people] == [newhire.display_name]
        assert board.slowest[0].index == 1 and len(board.turns) == 4


def test_approved_script_is_the_yardstick_and_window_close_finishes(world: dict[str, int]) -> None:
    with Session(get_engine(), expire_on_commit=False) as session:
        trainer = _get(session, world["trainer"])
        script = session.exec(select(Script).order_by(col(Script.id))).first()
        assert script is not None
        session.add(MinedQuestion(question="内胆涂层安全吗", member_texts=["内胆涂层安全吗"],
                                  covered_by_script_id=script.id))
        session.commit()
        drill = building.create_drill(
            session=session, actor=trainer, import_id=world["import"], title="第二版",
            session_key=building.get_drill(session=session, drill_id=world["drill"]).session_key)
        assert building.drill_turns(drill)[1]["mined_question_id"] is not None
        building.publish_drill(session=session, actor=trainer, drill_id=drill.id or 0,
                               cohort_ids=[world["cohort"]], opens_at=_at(-60), closes_at=_at(600))
        newhire = _get(session, world["newhire"])
        run = runs.start_run(session=session, actor=newhire, drill_id=drill.id or 0, now=_at(0))
        runs.send_reply(session=session, actor=newhire, run_id=run.id or 0, index=0, text="是的亲",
                        now=_at(5))
        # The window closes: the run is finished with what was sent, scored without the encoder.
        assert not runs.has_open_run(session=session, user_id=newhire.id or 0, now=_at(700))
        shown = results.transcript(session=session, actor=newhire, run_id=run.id or 0)
        assert len(shown.rows) == 4 and shown.rows[1].script is not None
        assert [r.score for r in shown.rows[1:]] == [0.0, 0.0, 0.0] and shown.rows[0].model_name == NO_MODEL
        turns = session.exec(select(DrillTurn).where(DrillTurn.run_id == run.id)).all()
        assert len(turns) == 4


def test_practice_drill_listed_and_can_be_ended(world: dict[str, int]) -> None:
    with Session(get_engine(), expire_on_commit=False) as session:
        trainer = _get(session, world["trainer"])
        building.publish_drill(session=session, actor=trainer, drill_id=world["drill"])
        agent = _get(session, world["agent"])
        cards = my_drills(session=session, actor=agent)
        assert [(c.title, c.practice, c.turns) for c in cards] == [("电饭煲咨询", True, 4)]
        run = runs.start_run(session=session, actor=agent, drill_id=world["drill"])
        assert my_drills(session=session, actor=agent)[0].run_id == run.id
        runs.end_run(session=session, actor=agent, run_id=run.id or 0)
        assert not runs.has_open_run(session=session, user_id=agent.id or 0)
        assert my_drills(session=session, actor=agent)[0].finished_runs == 1
        # Practice can be taken again.
        assert runs.start_run(session=session, actor=agent, drill_id=world["drill"]).id != run.id


def test_a_drill_section_counts_toward_a_certificate(world: dict[str, int]) -> None:
    with Session(get_engine(), expire_on_commit=False) as session:
        trainer = _get(session, world["trainer"])
        building.publish_drill(session=session, actor=trainer, drill_id=world["drill"])
        with pytest.raises(PermissionDenied):
            create_drill_certification(session=session, actor=_get(session, world["agent"]), name="实操认证",
                                       drill_ids=[world["drill"]])
        programme = create_drill_certification(session=session, actor=trainer, name="实操认证",
                                               drill_ids=[world["drill"]], pass_mark=0.6)
        newhire = _get(session, world["newhire"])
        assert not duty_status(session=session, actor=newhire).on_duty
        real = [str(t["agent"]) for t in building.drill_turns(building.get_drill(session=session,
                                                                                 drill_id=world["drill"]))]

        def take(replies: list[str], start: float) -> None:
            run = runs.start_run(session=session, actor=newhire, drill_id=world["drill"], now=_at(start))
            moment = start
            for i, text in enumerate(replies):
                moment += 10
                runs.send_reply(session=session, actor=newhire, run_id=run.id or 0, index=i, text=text,
                                now=_at(moment))
                moment += runs.DEFAULT_PAUSE

        take(["好的"] * 4, 0)  # below the pass mark: no certificate
        assert session.exec(select(Certificate)).all() == []
        take(real, 1000)  # the real agent's replies, scored by wording (no encoder): passes
        certificate = session.exec(select(Certificate)).one()
        assert certificate.certification_id == programme.id and certificate.user_id == newhire.id
        assert certificate.number and certificate.attempt_id is None
        assert duty_status(session=session, actor=newhire).on_duty


def test_real_encoder_scores_each_turn_and_names_the_model(world: dict[str, int], embedder: Embedder) -> None:
    with Session(get_engine(), expire_on_commit=False) as session:
        trainer = _get(session, world["trainer"])
        building.publish_drill(session=session, actor=trainer, drill_id=world["drill"])
        newhire = _get(session, world["newhire"])
        run = runs.start_run(session=session, actor=newhire, drill_id=world["drill"], now=_at(0))
        replies = ["亲，是的哦，这款是IH电磁加热的", "内胆是食品级不粘涂层，可以放心使用",
                   "可以煮粥，按水位线加水不会溢出", "今天好热啊"]
        moment = 0.0
        for i, text in enumerate(replies):
            moment += 20
            runs.send_reply(session=session, actor=newhire, run_id=run.id or 0, index=i, text=text,
                            embedder=embedder, now=_at(moment))
            moment += runs.DEFAULT_PAUSE
        shown = results.transcript(session=session, actor=newhire, run_id=run.id or 0)
        assert shown.model_name == SHIPPED_NAME and all(r.model_name == SHIPPED_NAME for r in shown.rows)
        scores = [r.score or 0.0 for r in shown.rows]
        assert min(scores[:3]) > scores[3]  # the off-topic reply scores lowest
        assert any(reason.startswith("参考的真实客服回复") for reason in shown.rows[0].reasons)
