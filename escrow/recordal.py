"""Recordal that is checked (issue 15).

The seller uploads CNIPA's notice and enters what it says (``submit``, the table's ``record_transfer``):

- patents: the notice's 发文序号 and 发文日 (and, optionally, the 专利公报 issue);
- trademarks: the 商标公告 issue (期号) and page of the 核准转让公告 (or of the licence recordal notice).

The deal waits in ``recordal_submitted`` until an operator compares the details with the document:
``verify`` records the transfer (the register follows, ``listings.register.apply_recorded_transfer``)
and starts the buyer's inspection window; ``reject`` sends it back to the seller with the reason.
A trademark assignment is filed jointly by both parties (商标法第四十二条), so its buyer confirms the
filing (``confirm_filing``) before the seller's notice can count.
"""
import re
from datetime import date, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from listings import register
from marketplace.kernel.errors import Conflict, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import moment, msg, render
from marketplace.kernel.timeutil import iso, local, utcnow

from .models import DealEvent
from .paper_models import RecordalDetails
from .timeline import deal_title

NOTICE_NUMBER = re.compile(r"^\d{10,20}$")
GAZETTE_ISSUE_TM = re.compile(r"^第?(\d{1,4})期?$")
GAZETTE_ISSUE_PATENT = re.compile(r"^[0-9第卷号期\-/ ]{1,20}$")
MAX_PAGE = 99_999
MAX_REASON = 1000


def needs_joint_filing(deal):
    """A trademark assignment is applied for by assignor and assignee together (商标法第四十二条)."""
    return deal.deal_type == "assignment" and deal.listing.kind == "trademark"


def filing_confirmed(deal):
    return db.session.scalar(select(DealEvent.id).where(DealEvent.deal_id == deal.id,
                                                         DealEvent.action == "confirm_filing").limit(1)) is not None


def _text(details, key, limit=40):
    value = details.get(key) if isinstance(details, dict) else None
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value).strip()[:limit + 1]


def _date(raw, errors, key, required, earliest, today):
    if not raw:
        if required:
            errors[key] = _("请填写日期（YYYY-MM-DD）")
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        errors[key] = _("日期格式应为 YYYY-MM-DD")
        return None
    if value > today:
        errors[key] = _("日期不能晚于今天")
    elif value < earliest:
        errors[key] = _("日期不能早于提交变更申请的日期（%(day)s）", day=earliest.isoformat())
    return value


def parse_details(deal, details, today=None):
    """Validated recordal details for ``deal``'s kind, or ValidationError naming each bad field."""
    today = today or local(utcnow()).date()
    kind = deal.listing.kind
    errors = {}
    raw = {key: _text(details or {}, key) for key in ("notice_number", "notice_date", "gazette_issue", "gazette_page")}
    for key, value in raw.items():
        if value is None:
            errors[key] = _("格式无效")
    earliest = local(deal.filed_at).date() if deal.filed_at else local(deal.created_at).date()
    values = {"notice_number": None, "notice_date": None, "gazette_issue": None, "gazette_page": None}
    if kind == "patent":
        number = re.sub(r"\s", "", raw["notice_number"] or "")
        if not number:
            errors.setdefault("notice_number", _("请填写通知书上的发文序号"))
        elif not NOTICE_NUMBER.match(number):
            errors.setdefault("notice_number", _("发文序号应为 10 至 20 位数字（见通知书右上角）"))
        values["notice_number"] = number
        if "notice_date" not in errors:
            values["notice_date"] = _date(raw["notice_date"], errors, "notice_date", True, earliest, today)
        issue = raw["gazette_issue"] or ""
        if issue and "gazette_issue" not in errors and not GAZETTE_ISSUE_PATENT.match(issue):
            errors["gazette_issue"] = _("公告期号只能包含数字及“卷”“期”“号”，不超过 20 个字符")
        values["gazette_issue"] = issue or None
        if raw["gazette_page"]:
            errors.setdefault("gazette_page", _("专利只需填写发文序号和发文日"))
    else:
        issue = re.sub(r"\s", "", raw["gazette_issue"] or "")
        match = GAZETTE_ISSUE_TM.match(issue)
        if not issue:
            errors.setdefault("gazette_issue", _("请填写商标公告的期号"))
        elif not match or not 1 <= int(match.group(1)) <= 9999:
            errors.setdefault("gazette_issue", _("期号应为 1 至 4 位数字，如 1890"))
        else:
            values["gazette_issue"] = str(int(match.group(1)))
        page = raw["gazette_page"] or ""
        if not page:
            errors.setdefault("gazette_page", _("请填写公告所在页码"))
        elif not page.isdigit() or not 1 <= int(page) <= MAX_PAGE:
            errors.setdefault("gazette_page", _("页码应为 1 至 %(max)s 的整数", max=MAX_PAGE))
        else:
            values["gazette_page"] = int(page)
        if "notice_date" not in errors:
            values["notice_date"] = _date(raw["notice_date"], errors, "notice_date", False, earliest, today)
        if raw["notice_number"]:
            errors.setdefault("notice_number", _("商标只需填写公告期号和页码"))
    if errors:
        raise ValidationError(_("登记信息格式不正确，未提交"), errors)
    return values


def latest(deal):
    return db.session.scalar(select(RecordalDetails).where(RecordalDetails.deal_id == deal.id)
                             .order_by(RecordalDetails.id.desc()).limit(1))


def history(deal):
    return db.session.scalars(select(RecordalDetails).where(RecordalDetails.deal_id == deal.id)
                              .order_by(RecordalDetails.id)).all()


def describe_message(row):
    """One line for the deal's history and the operator queue, as a message (``marketplace.kernel.messages``)."""
    date_text = row.notice_date.isoformat() if row.notice_date else "—"
    if row.kind == "patent":
        if row.gazette_issue:
            return msg(N_("发文序号 %(number)s，发文日 %(date)s，公告期号 %(issue)s"), number=row.notice_number,
                       date=date_text, issue=row.gazette_issue)
        return msg(N_("发文序号 %(number)s，发文日 %(date)s"), number=row.notice_number, date=date_text)
    if row.notice_date:
        return msg(N_("商标公告第 %(issue)s 期第 %(page)s 页（%(date)s）"), issue=row.gazette_issue,
                   page=row.gazette_page, date=date_text)
    return msg(N_("商标公告第 %(issue)s 期第 %(page)s 页"), issue=row.gazette_issue, page=row.gazette_page)


def describe(row):
    """``describe_message`` in the reader's language."""
    return render(describe_message(row))


# --- the steps ---------------------------------------------------------------------------

def confirm_filing(deal_id, actor, now=None):
    """The buyer of a trademark assignment confirms the joint application was filed."""
    from . import deals

    now = now or utcnow()
    deal, _row = deals._begin(deal_id, "confirm_filing", actor)
    if not needs_joint_filing(deal):
        raise Conflict(_("只有商标转让需要买方确认共同提交申请"))
    if filing_confirmed(deal):
        raise Conflict(_("您已确认共同提交转让申请"))
    deals._record(deal, "confirm_filing", deal.state, actor, now, note=msg(N_("商标转让申请由双方共同提交")))
    deals._tell(deal, [deal.seller_id], deal_title(deal, N_("买方已确认共同提交转让申请")),
                msg(N_("核准公告后请上传公告并填写期号和页码。")))
    return deal


def submit(deal_id, actor, document, details, note=None, now=None):
    """The seller uploads CNIPA's approval notice with its details: the deal waits for an operator.

    Bad details are refused (422) before the file is stored; nothing changes.
    """
    from . import deals

    now = now or utcnow()
    deal, _row = deals._begin(deal_id, "record_transfer", actor)
    if needs_joint_filing(deal) and not filing_confirmed(deal):
        raise Conflict(_("商标转让由双方共同申请：须先由买方在交易页确认已共同提交转让申请"),
                       code_hint="confirm_filing")
    values = parse_details(deal, details, today=local(now).date())
    doc = deals._store_document(deal, "approval_notice", document, actor, now)
    row = RecordalDetails(deal_id=deal.id, document_id=doc.id, kind=deal.listing.kind, status="submitted",
                          submitted_by_id=actor.id, submitted_at=now, **values)
    db.session.add(row)
    db.session.flush()
    text = describe_message(row)
    note = deals._note(note)
    deals._record(deal, "record_transfer", "recordal_submitted", actor, now,
                  note=msg(N_("%(details)s；%(note)s"), details=text, note=note) if note else text, document=doc)
    deals._tell(deal, deals._operators(), deal_title(deal, N_("登记核准文件待核对")), text)
    deals._tell(deal, [deal.buyer_id], deal_title(deal, N_("卖方已上传登记核准文件，平台核对中")), text)
    return deal


def verify(deal_id, actor, note=None, now=None):
    """An operator found the details match the document: the transfer is recorded, the register follows
    and the buyer's inspection window starts now."""
    from . import deals

    now = now or utcnow()
    deal, _row = deals._begin(deal_id, "verify_recordal", actor)
    row = latest(deal)
    if row is None or row.status != "submitted":
        raise Conflict(_("没有待核对的登记信息"))
    row.status, row.decided_by_id, row.decided_at = "verified", actor.id, now
    deal.recorded_at = now
    deal.inspection_ends_at = now + timedelta(days=current_app.config["INSPECTION_DAYS"])
    deals._record(deal, "verify_recordal", "transfer_recorded", actor, now, note=deals._note(note) or describe_message(row))
    register.apply_recorded_transfer(deal, now=now)
    deals._tell(deal, [deal.buyer_id], deal_title(deal, N_("变更已登记，请验收")),
                msg(N_("平台已核对登记文件。请核对登记结果并在 %(until)s 前确认验收或提出争议；期满未处理将自动放款。"),
                    until=moment(deal.inspection_ends_at)))
    deals._tell(deal, [deal.seller_id], deal_title(deal, N_("登记信息已核对")), msg(N_("买方验收期开始。")))
    return deal


def reject(deal_id, actor, reason, now=None):
    """An operator found a mismatch: back to the seller (transfer filed) with the reason."""
    from . import deals

    now = now or utcnow()
    deal, _row = deals._begin(deal_id, "reject_recordal", actor)
    reason = reason.strip() if isinstance(reason, str) else ""
    if len(reason) < 5:
        raise ValidationError(_("请说明退回原因"), {"reason": _("至少 5 个字")})
    if len(reason) > MAX_REASON:
        raise ValidationError(_("退回原因过长"), {"reason": _("不超过 1000 个字")})
    row = latest(deal)
    if row is None or row.status != "submitted":
        raise Conflict(_("没有待核对的登记信息"))
    row.status, row.decided_by_id, row.decided_at, row.reject_reason = "rejected", actor.id, now, reason
    deals._record(deal, "reject_recordal", "transfer_filed", actor, now, note=reason)
    deals._tell(deal, [deal.seller_id], deal_title(deal, N_("登记信息被退回，请更正后重新提交")), reason)
    return deal


def recordal_json(row):
    return {"id": row.id, "kind": row.kind, "status": row.status, "notice_number": row.notice_number,
            "notice_date": row.notice_date.isoformat() if row.notice_date else None,
            "gazette_issue": row.gazette_issue, "gazette_page": row.gazette_page,
            "document_url": f"/api/v1/deals/{row.deal_id}/documents/{row.document_id}",
            "submitted_at": iso(row.submitted_at), "decided_at": iso(row.decided_at),
            "reject_reason": row.reject_reason}
