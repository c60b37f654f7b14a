"""Accounts: users and the cohorts they belong to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from training.models.base import utcnow


class Cohort(SQLModel, table=True):
    """A group of agents trained and examined together (e.g. 2026年11月新人班)."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    description: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)


class UserBase(SQLModel):
    username: str = Field(max_length=64, unique=True, index=True)
    display_name: str = Field(max_length=100)
    role: str = Field(max_length=16, index=True)
    cohort_id: int | None = Field(default=None, foreign_key="cohort.id")


class User(UserBase, table=True):
    """A person who logs in; only the argon2 hash of the password is stored."""

    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = Field(max_length=255)
    is_active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    joined_at: datetime = Field(default_factory=utcnow)
    # Raised on every password change or reset: logged-in sessions holding an older value end.
    session_version: int = 0
    password_changed_at: datetime | None = None


class LoginThrottle(SQLModel, table=True):
    """Failed logins per typed username, known or not, so lockout does not reveal which exist."""

    username_key: str = Field(max_length=64, primary_key=True)
    failures: int = 0
    window_started_at: datetime = Field(default_factory=utcnow)
    locked_until: datetime | None = None


class LoginSession(SQLModel, table=True):
    """One browser login: the cookie carries a random token, only its SHA-256 is stored here.

    A login starts with a one-time hand-off code (also stored hashed) that the browser trades for
    the token through an HTTP request, so the token can travel in an HttpOnly cookie and never
    appears in a URL or in the page.
    """

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str | None = Field(default=None, max_length=64, unique=True)
    handoff_hash: str | None = Field(default=None, max_length=64, unique=True)
    handoff_expires_at: datetime | None = None
    # The user's session_version at login: a password change raises it and ends this login.
    session_version: int = 0
    started_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None
    end_reason: str | None = Field(default=None, max_length=16)


class UserPublic(UserBase):
    """What pages may see of a user (never the hash)."""

    id: int
    is_active: bool
    created_at: datetime
