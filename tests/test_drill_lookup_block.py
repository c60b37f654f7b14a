"""While a drill run is open the candidate cannot look scripts up (the scripts are the answers)."""

from __future__ import annotations

import pytest
from sqlmodel import Session
from test_drills import _get, world  # noqa: F401 - the drill world fixture
from test_lookup import HashingEncoder

from scripts_bank.service import lookup_scripts
from training.auth.permissions import PermissionDenied
from training.core.db import get_engine
from training.drills import building, runs
from training.models import User
from training.nlp.embeddings import Embedder

pytestmark = pytest.mark.db


def test_an_open_drill_run_hides_the_scripts_until_it_ends(world: dict[str, int]) -> None:  # noqa: F811
    embedder = Embedder(HashingEncoder())
    with Session(get_engine(), expire_on_commit=False) as session:
        trainer, agent = _get(session, world["trainer"]), _get(session, world["agent"])

        def look(user: User) -> None:
            lookup_scripts(session=session, actor=user, query="电饭煲几升", embedder=embedder,
                           semantic_weight=0.7)

        building.publish_drill(session=session, actor=trainer, drill_id=world["drill"])
        look(agent)
        run = runs.start_run(session=session, actor=agent, drill_id=world["drill"])
        with pytest.raises(PermissionDenied, match="模拟接待进行中"):
            look(agent)
        look(trainer)  # staff are never blocked
        runs.end_run(session=session, actor=agent, run_id=run.id or 0)
        look(agent)
