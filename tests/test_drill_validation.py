"""Building drills refuses what the browser walk did silently: a second drill of the same title,
assigning a cohort twice while the first assignment is open, a time limit of 0 on an edit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select
from test_drills import RICE_COOKER, _get, world  # noqa: F401 - the drill world fixture

from training.core.db import get_engine
from training.drills import building
from training.drills.building import DrillError
from training.models import Cohort, DrillAssignment, utcnow

pytestmark = pytest.mark.db


def test_duplicates_and_a_zero_limit_are_refused(world: dict[str, int]) -> None:  # noqa: F811
    with Session(get_engine(), expire_on_commit=False) as session:
        trainer = _get(session, world["trainer"])
        key = next(c.session_key for c in building.find_sessions(session=session, actor=trainer)
                   if c.session_key.startswith(RICE_COOKER))
        with pytest.raises(DrillError, match="已有名为「电饭煲咨询」"):
            building.create_drill(session=session, actor=trainer, import_id=world["import"],
                                  session_key=key, title=" 电饭煲咨询 ")
        with pytest.raises(DrillError, match="5–600 秒"):
            building.update_drill(session=session, actor=trainer, drill_id=world["drill"],
                                  first_reply_seconds=0)
        assert building.get_drill(session=session, drill_id=world["drill"]).first_reply_seconds == 30
        cohort = session.exec(select(Cohort)).one()
        closes = utcnow() + timedelta(days=7)
        building.publish_drill(session=session, actor=trainer, drill_id=world["drill"],
                               cohort_ids=[cohort.id or 0], closes_at=closes)
        with pytest.raises(DrillError, match="已分配过"):
            building.publish_drill(session=session, actor=trainer, drill_id=world["drill"],
                                   cohort_ids=[cohort.id or 0], closes_at=closes)
        assert len(session.exec(select(DrillAssignment)).all()) == 1
