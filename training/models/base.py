"""Shared column helpers and the enums every table module uses."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field


def utcnow() -> datetime:
    """Timezone-aware UTC now (SQLModel's UTCDateTime columns require aware values)."""
    return datetime.now(UTC)


def _json(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=nullable))


class Role(StrEnum):
    """Who a user is; decides what the service layer lets them do."""

    ADMIN = "admin"
    TRAINER = "trainer"
    AGENT = "agent"
    NEW_HIRE = "new_hire"


ROLE_LABELS: dict[Role, str] = {
    Role.ADMIN: "管理员",
    Role.TRAINER: "培训师",
    Role.AGENT: "客服",
    Role.NEW_HIRE: "新人",
}


class Category(StrEnum):
    """Customer-question categories used for mining, scripts and analytics."""

    PRESALE = "售前咨询"
    PRICE = "价格优惠"
    LOGISTICS = "物流配送"
    RETURN = "退换货"
    REFUND = "退款"
    REPAIR = "售后维修"
    INVOICE = "发票"
    PAYMENT = "账户支付"
    OTHER = "其他"
