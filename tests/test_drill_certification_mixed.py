"""A programme that requires a paper AND a drill: passing the paper alone earns nothing; the
certificate comes when the drill is passed too (whichever is passed last)."""

from __future__ import annotations

import pytest
from exam_world import publish, sit
from sqlmodel import Session, select
from test_drills import _at, _get, world  # noqa: F401 - the drill world fixture

from training.certification.programmes import create_certification
from training.core.db import get_engine
from training.drills import building, runs
from training.models import Certificate, CertificationDrill

pytestmark = pytest.mark.db


def test_paper_and_drill_programme_needs_both(world: dict[str, int]) -> None:  # noqa: F811
    with Session(get_engine(), expire_on_commit=False) as session:
        trainer, newhire = _get(session, world["trainer"]), _get(session, world["newhire"])
        building.publish_drill(session=session, actor=trainer, drill_id=world["drill"])
        paper_id = publish(session, trainer, "电饭煲上岗考", scenario=False, objective=2)
        programme = create_certification(session=session, actor=trainer, name="电饭煲上岗认证",
                                         paper_ids=[paper_id], pass_mark=0.6)
        session.add(CertificationDrill(certification_id=programme.id or 0, drill_id=world["drill"]))
        session.commit()

        sit(session, newhire, paper_id)  # objective only: released and evaluated at submission
        assert session.exec(select(Certificate)).all() == [], "the drill is not passed yet"

        real = [str(t["agent"]) for t in building.drill_turns(building.get_drill(session=session,
                                                                                 drill_id=world["drill"]))]
        run = runs.start_run(session=session, actor=newhire, drill_id=world["drill"], now=_at(0))
        moment = 0.0
        for index, text in enumerate(real):
            moment += 10
            runs.send_reply(session=session, actor=newhire, run_id=run.id or 0, index=index, text=text,
                            now=_at(moment))
            moment += runs.DEFAULT_PAUSE
        certificate = session.exec(select(Certificate)).one()
        assert (certificate.certification_id, certificate.user_id) == (programme.id, newhire.id)
