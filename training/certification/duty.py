"""The duty gate: whether a person may take customer chats, and which certificates need attention."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from training.auth.permissions import EVERYONE, STAFF, require_role
from training.certification.certificates import certificates_of, is_valid
from training.certification.programmes import CertificationError, all_programmes
from training.models import Certificate, Certification, User, utcnow

REMINDER_DAYS = 30


@dataclass(frozen=True)
class DutyStatus:
    """Whether a person may take customer chats, and which certificates need attention."""

    on_duty: bool
    missing: list[Certification]
    certificates: list[Certificate]
    expiring: list[Certificate]
    flagged: list[Certificate]


def duty_from(programmes: Sequence[Certification], certs: Sequence[Certificate], now: datetime) -> DutyStatus:
    """The gate computed from a user's programmes and certificates."""
    valid = [c for c in certs if is_valid(c, now)]
    held = {c.certification_id for c in valid}
    missing = [p for p in programmes if p.required_for_duty and p.id not in held]
    soon = now + timedelta(days=REMINDER_DAYS)
    return DutyStatus(
        on_duty=not missing,
        missing=missing,
        certificates=valid,
        expiring=[c for c in valid if c.expires_at <= soon],
        flagged=[c for c in valid if c.recert_flagged_at is not None],
    )


def duty_status(
    *, session: Session, actor: User | None, user_id: int | None = None, now: datetime | None = None
) -> DutyStatus:
    """The on-duty gate for a user (default: the actor); others' status is for staff only."""
    reader = require_role(actor, *EVERYONE)
    target = reader.id if user_id is None else user_id
    assert target is not None
    if target != reader.id:
        require_role(reader, *STAFF)
        if session.get(User, target) is None:
            raise CertificationError("用户不存在。")
    programmes = all_programmes(session=session)
    return duty_from(programmes, certificates_of(session=session, user_ids=[target]), now or utcnow())
