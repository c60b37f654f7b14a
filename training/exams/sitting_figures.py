"""Per-sitting figures the dashboards read instead of every answer, filed when results are released.

Releasing a sitting files one ``SittingFigure`` (the candidate's cohort and role, the local day
of submission, the typing-speed sums) and adds its scored answers to the ``ItemFigure`` sums of
their slots (and to ``ItemDayFigure``, the same split by day), in the release's own
transaction, so the figures are never partial. A released sitting's scores never change
afterwards (``review_answer`` refuses, releasing takes only unreleased sittings); a future path
that changes them must go through ``refile_sittings``. The cohort, role and zone may change
later: the dashboards correct for that (``training.analytics.figures``), and ``refile_moved``
files such sittings under their new key so the correction stays small.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import delete, func
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from training.core import clock
from training.models import Answer, Attempt, AttemptStatus, ItemDayFigure, ItemFigure, SittingFigure, User

#: Sittings per statement (keeps IN lists short on SQLite).
CHUNK = 500
#: The keys of ItemFigure and ItemDayFigure rows.
KEYS: dict[type[ItemFigure] | type[ItemDayFigure], tuple[str, ...]] = {
    ItemFigure: ("item_id", "cohort_id", "role"),
    ItemDayFigure: ("item_id", "cohort_id", "role", "day", "zone"),
}
SUMS = ("n", "sx", "sy", "sxy", "sxx", "syy")


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def fileable(attempt: Attempt) -> bool:
    """Whether the dashboards count this sitting: submitted, released and scored."""
    return (attempt.status == AttemptStatus.SUBMITTED and attempt.released_at is not None
            and attempt.score is not None and attempt.submitted_at is not None)


def _add_sums(session: Session, figure: type[ItemFigure] | type[ItemDayFigure], ids: list[int], sign: int,
              ) -> None:
    """``INSERT INTO <figure> <sums of the sittings ids> ON CONFLICT (key) DO UPDATE`` adding them up."""
    dialect = session.connection().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"item figures need PostgreSQL or SQLite, not {dialect}")
    module: Any = postgresql if dialect == "postgresql" else sqlite
    key = KEYS[figure]
    table = figure.__table__  # type: ignore[union-attr]
    statement = module.insert(table).from_select([*key, *SUMS], _answer_sums(key, ids, sign))
    session.connection().execute(statement.on_conflict_do_update(
        index_elements=list(key), set_={name: table.c[name] + statement.excluded[name] for name in SUMS}))


def _answer_sums(key: tuple[str, ...], ids: list[int], sign: int) -> Any:
    """Per key, the sums of the scored answers of the filed sittings ``ids`` (times ``sign``)."""
    x, y = col(Answer.score), col(Attempt.score)
    keys = [col(Answer.item_id), *[col(getattr(SittingFigure, name)) for name in key[1:]]]
    sums: list[Any] = [func.count(), func.sum(x), func.sum(y), func.sum(x * y), func.sum(x * x),
                       func.sum(y * y)]
    return (
        sa_select(*keys, *(sums if sign > 0 else [-s for s in sums]))
        .select_from(Answer)
        .join(SittingFigure, col(SittingFigure.attempt_id) == col(Answer.attempt_id))
        .join(Attempt, col(Attempt.id) == col(Answer.attempt_id))
        .where(col(Answer.attempt_id).in_(ids), x.is_not(None))
        .group_by(*keys)
        .order_by(*keys)  # rows locked in key order: two releases adding to the same rows queue up
    )


def file_sittings(*, session: Session, attempts: Iterable[Attempt]) -> int:
    """File the released sittings among ``attempts`` (not yet filed); flushes, does not commit.

    Call after the scores and the release stamp are set, before the release commits. Returns how
    many sittings were filed.
    """
    todo = {a.id: a for a in attempts if a.id is not None and fileable(a)}
    if not todo:
        return 0
    session.flush()
    run = session.connection().execute
    ids = sorted(todo)
    filed = set()
    for chunk in _chunks(ids):
        filed |= set(run(sa_select(col(SittingFigure.attempt_id))
                         .where(col(SittingFigure.attempt_id).in_(chunk))).scalars().all())
    ids = [i for i in ids if i not in filed]
    if not ids:
        return 0
    zone = clock.team_zone_name()
    people: dict[int, tuple[int, str]] = {int(i or 0): (int(c or 0), str(r)) for i, c, r in run(
        sa_select(col(User.id), col(User.cohort_id), col(User.role))
        .where(col(User.id).in_({todo[i].user_id for i in ids}))).all()}
    for chunk in _chunks(ids):
        typed = {int(a): (int(n), float(s or 0.0)) for a, n, s in run(
            sa_select(col(Answer.attempt_id), func.count(), func.sum(col(Answer.chars_per_minute)))
            .where(col(Answer.attempt_id).in_(chunk), col(Answer.chars_per_minute).is_not(None))
            .group_by(col(Answer.attempt_id))).all()}
        for attempt_id in chunk:
            attempt = todo[attempt_id]
            cohort_id, role = people[attempt.user_id]
            assert attempt.submitted_at is not None
            n, cpm = typed.get(attempt_id, (0, 0.0))
            session.add(SittingFigure(attempt_id=attempt_id, user_id=attempt.user_id, cohort_id=cohort_id,
                                      role=role, day=clock.team_date(attempt.submitted_at), zone=zone,
                                      typed_answers=n, typed_cpm=cpm))
        session.flush()
        for figure in KEYS:
            _add_sums(session, figure, chunk, 1)
    return len(ids)


def unfile_sittings(*, session: Session, attempt_ids: Iterable[int]) -> int:
    """Take filed sittings out of the figures (their answers and scores as they stand now); no commit.

    Returns how many were filed. Emptied ``ItemFigure`` rows stay, with zero sums.
    """
    ids = sorted(set(attempt_ids))
    count = 0
    session.flush()
    run = session.connection().execute
    for chunk in _chunks(ids):
        for figure in KEYS:
            _add_sums(session, figure, chunk, -1)
        result = run(delete(SittingFigure).where(col(SittingFigure.attempt_id).in_(chunk)))
        count += int(getattr(result, "rowcount", 0) or 0)
        gone = set(chunk)
        for obj in list(session.identity_map.values()):  # deleted behind the ORM's back
            if isinstance(obj, SittingFigure) and obj.attempt_id in gone:
                session.expunge(obj)
    return count


def refile_moved(*, session: Session, user_ids: Iterable[int] | None = None) -> int:
    """Refile the sittings whose candidate changed cohort or role since (or filed in another zone); no commit.

    The dashboards stay right without it (they correct for such sittings from their answers),
    but each moved sitting costs them a read of its answers: call this after changing people's
    cohort or role (``user_ids``) or the zone (all), in that change's transaction or later.
    Returns how many sittings were refiled.
    """
    moved = (col(SittingFigure.role) != col(User.role)) | (
        col(SittingFigure.cohort_id) != func.coalesce(col(User.cohort_id), 0)) | (
        col(SittingFigure.zone) != clock.team_zone_name())
    query = (sa_select(col(SittingFigure.attempt_id)).join(User, col(User.id) == col(SittingFigure.user_id))
             .where(moved))
    if user_ids is not None:
        query = query.where(col(User.id).in_(sorted(set(user_ids))))
    session.flush()
    ids = sorted(int(i) for i in session.connection().execute(query).scalars().all())
    for chunk in _chunks(ids):
        attempts = [a for i in chunk if (a := session.get(Attempt, i)) is not None]
        unfile_sittings(session=session, attempt_ids=chunk)
        file_sittings(session=session, attempts=attempts)
    return len(ids)


def refile_sittings(*, session: Session, attempts: list[Attempt], change: Any) -> None:
    """Change released sittings and keep their figures right: unfile, ``change()``, file again.

    ``change`` edits the attempts' scores or answers (in this session, without committing); the
    caller commits once afterwards, so figures and scores change together.
    """
    unfile_sittings(session=session, attempt_ids=[a.id for a in attempts if a.id is not None])
    change()
    file_sittings(session=session, attempts=attempts)
