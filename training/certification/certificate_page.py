"""A certificate for its holder and trainers: what it shows, and its printable A4 page."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date, datetime
from string import Template
from typing import Any

from sqlmodel import Session

from training.auth.permissions import EVERYONE, STAFF, PermissionDenied, require_role
from training.certification.certificates import expiry_date, is_valid, issue_date
from training.certification.programmes import CertificationError
from training.models import Certificate, Certification, User, utcnow


@dataclass(frozen=True)
class CertificateView:
    """What a printed certificate shows."""

    number: str
    holder: str
    programme: str
    product_line: str
    issued_on: date
    expires_on: date
    valid: bool
    recert_reason: str


def certificate_view(
    *, session: Session, actor: User | None, certificate_id: int, now: datetime | None = None
) -> CertificateView:
    """A certificate for display or printing (its holder, trainers and admins)."""
    reader = require_role(actor, *EVERYONE)
    cert = session.get(Certificate, certificate_id)
    if cert is None:
        raise CertificationError("证书不存在。")
    if cert.user_id != reader.id and reader.role not in {r.value for r in STAFF}:
        raise PermissionDenied("只能查看本人的证书。")
    holder, programme = session.get(User, cert.user_id), session.get(Certification, cert.certification_id)
    assert holder is not None and programme is not None
    return CertificateView(
        cert.number,
        holder.display_name,
        programme.name,
        programme.product_line,
        issue_date(cert.issued_at),
        expiry_date(cert.expires_at),
        is_valid(cert, now or utcnow()),
        cert.recert_reason,
    )


_PAGE = Template("""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>上岗资格证书 $number</title>
<style>
@page { size: A4 landscape; margin: 0; }
* { box-sizing: border-box; }
body { margin: 0; font-family: "Noto Serif CJK SC", "Songti SC", "SimSun", serif; color: #3a2a12; }
.sheet { width: 297mm; height: 210mm; padding: 18mm; background: #fffdf6; }
.frame { height: 100%; border: 3mm double #b8860b; padding: 14mm 20mm; text-align: center; }
h1 { font-size: 30pt; letter-spacing: 0.5em; margin: 0 0 10mm; color: #8b0000; }
.lead { font-size: 15pt; line-height: 2; }
.name { font-size: 24pt; font-weight: bold; border-bottom: 1px solid #3a2a12; padding: 0 6mm; }
table { margin: 10mm auto 0; font-size: 12pt; border-collapse: collapse; }
td { padding: 1.5mm 5mm; text-align: left; }
.notice { margin-top: 6mm; color: #8b0000; font-size: 11pt; white-space: pre-line; }
@media print { .sheet { page-break-after: always; } }
</style></head>
<body><div class="sheet"><div class="frame">
<h1>上岗资格证书</h1>
<p class="lead">兹证明 <span class="name">$holder</span><br>
已通过「$programme」全部考核，具备上岗接待资格。</p>
<table>
<tr><td>证书编号</td><td>$number</td></tr>
<tr><td>产品线</td><td>$product_line</td></tr>
<tr><td>发证日期</td><td>$issued_on</td></tr>
<tr><td>有效期至</td><td>$expires_on</td></tr>
<tr><td>状态</td><td>$state</td></tr>
</table>
$notice
</div></div></body></html>
""")


def certificate_html(view: CertificateView) -> str:
    """A standalone printable A4 page; every value is HTML-escaped (names are user text)."""
    notice = (
        f'<p class="notice">需重新认证：{html.escape(view.recert_reason)}</p>' if view.recert_reason else ""
    )
    values: dict[str, Any] = {
        "number": view.number,
        "holder": view.holder,
        "programme": view.programme,
        "product_line": view.product_line or "通用",
        "issued_on": f"{view.issued_on:%Y年%m月%d日}",
        "expires_on": f"{view.expires_on:%Y年%m月%d日}",
        "state": "有效" if view.valid else "已失效",
    }
    return _PAGE.substitute({k: html.escape(str(v)) for k, v in values.items()}, notice=notice)
