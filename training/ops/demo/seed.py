"""Demo data: a fictional store's users, knowledge items and approved scripts (and, optionally, history)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import Session, select

from training.auth import audit
from training.auth.accounts import hash_password
from training.core.tables import read_table
from training.models import Cohort, KnowledgeItem, Role, Script, ScriptVersion, User
from training.ops.demo.constants import DEMO_COHORT, DEMO_DIR, DEMO_USERS
from training.ops.demo.history import seed_demo_history


def is_seeded(*, session: Session) -> bool:
    """True if the demo (or any real content) is already there."""
    return session.exec(select(Script)).first() is not None or session.exec(
        select(User).where(User.username == DEMO_USERS[1].username)).first() is not None


def seed_demo(*, session: Session, demo_dir: Path = DEMO_DIR, history: bool = False) -> dict[str, int]:
    """Load the demo into an empty database; returns counts of what was added.

    ``history`` adds the learners' past exams, reviews and certificates (``seed_history``), so
    the 训练看板 has something to show; tests that build their own exams leave it off.
    """
    if is_seeded(session=session):
        return {}
    cohort = Cohort(name=DEMO_COHORT, description="演示用新人班组")
    session.add(cohort)
    session.flush()
    users = {}
    for demo in DEMO_USERS:
        user = User(username=demo.username, display_name=demo.display_name, role=demo.role.value,
                    password_hash=hash_password(demo.password),
                    cohort_id=cohort.id if demo.role in (Role.AGENT, Role.NEW_HIRE) else None)
        session.add(user)
        users[demo.username] = user
    session.flush()
    trainer = users["trainer"]

    items = read_table((demo_dir / "knowledge_items.csv").read_bytes(),
                       file_name="knowledge_items.csv")
    for row in items.to_dict("records"):
        session.add(KnowledgeItem(
            kind=row["kind"], stem=row["stem"],
            options=[o for o in row["options"].split("|") if o] or None,
            answer=row["answer"], explanation=row["explanation"], sku=row["sku"],
            tags=[t for t in row["tags"].split("|") if t], created_by=trainer.id,
        ))

    scripts = 0
    for line in (demo_dir / "scripts.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        script = Script(question=entry["question"], category=entry["category"],
                        tags=entry.get("tags", []), created_by=trainer.id)
        session.add(script)
        session.flush()
        assert script.id is not None
        session.add(ScriptVersion(script_id=script.id, version=1, question=entry["question"],
                                  answer=entry["answer"], editor_id=trainer.id, note="演示数据"))
        scripts += 1
    audit.record(session=session, actor=None, action="demo.seed", target=str(demo_dir.name))
    session.commit()
    counts = {"users": len(DEMO_USERS), "knowledge_items": len(items), "scripts": scripts}
    if history:
        counts |= seed_demo_history(session=session, demo_dir=demo_dir)
    return counts
