"""Invoices and tax notes (issue 15).

- A 发票 request on a deal: the seller invoices the price (requested by the buyer, once the price is in
  escrow); the platform invoices its fee (requested by whoever bears the fee, ``FEE_PAYER``, once the
  fee is earned at release). A request carries the invoice title, the 纳税人识别号 (a USCC, checked by
  ``marketplace.kernel.uscc``) and the type (普通 / 专用), and goes requested → issued with the invoice number,
  recorded by the issuer (the seller; operators for the platform).
- ``tax_notes``: the VAT treatment and stamp duty a deal attracts, shown as information.
- 技术合同登记 (patent deals): the data the registration form needs, and the registration number once
  registered (registration is what makes a technology transfer VAT-exempt).
"""
import csv
import io
import re
import unicodedata

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from marketplace.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import label, money, msg
from marketplace.kernel.money import display_yuan
from marketplace.kernel.timeutil import iso, local, utcnow
from marketplace.kernel.uscc import InvalidUSCC, normalize_uscc

from .paper_models import InvoiceRequest
from .timeline import deal_title

FEE_PAYER = "seller"  # the platform fee comes out of the seller's share (escrow.fees, the contract's 第二条)
ISSUERS = ("seller", "platform")
TYPE_MSGIDS = {"normal": N_("增值税普通发票"), "special": N_("增值税专用发票")}
TYPES = {code: _l(text) for code, text in TYPE_MSGIDS.items()}
ISSUER_LABELS = {"seller": _l("卖方开具（成交价）"), "platform": _l("平台开具（服务费）")}
STATUS_LABELS = {"requested": _l("已申请"), "issued": _l("已开具")}
INVOICE_NUMBER = re.compile(r"^(\d{8}|\d{20})$")  # 8 digits (with a 发票代码), or a 20-digit 数电发票 number
TECH_REGISTRATION = re.compile(r"^[0-9A-Za-z\-]{6,40}$")
# text bounds of an invoice request (escrow/schemas.py documents and checks them on the API, the service here
# on every input)
TITLE_LENGTH = (2, 100)
ADDRESS_LENGTH = (5, 200)
BANK_LENGTH = (2, 60)
MAX_PHONE, MAX_BANK_ACCOUNT, MAX_TAXPAYER_ID = 40, 60, 40
STAMP_DUTY_BPS = 3  # 万分之三 for both items below (印花税法 税目税率表)


def _lock(deal_id, actor):
    from . import deals

    deal = deals.lock_deal(deal_id)
    roles = deals.roles_of(deal, actor)
    if not roles:
        raise NotFound(_("交易不存在"))
    return deal, roles


def requester_role(issuer):
    return "buyer" if issuer == "seller" else FEE_PAYER


def amount_for(deal, issuer):
    return deal.price if issuer == "seller" else deal.fee


def invoices_of(deal):
    return db.session.scalars(select(InvoiceRequest).where(InvoiceRequest.deal_id == deal.id)
                              .order_by(InvoiceRequest.id)).all()


def _one_of(value, allowed):
    """``value`` is one of the ``allowed`` names: a JSON body may carry any type there (a list or an object
    is not hashable, and is not a choice either)."""
    return isinstance(value, str) and value in allowed


def can_request(deal, issuer):
    """Whether an invoice from ``issuer`` can be asked for now (the money it covers has been paid)."""
    if deal.state in ("cancelled", "refunded") or deal.state == "awaiting_payment":
        return False
    if issuer == "platform":
        return deal.released_at is not None and deal.fee > 0
    return deal.funded_at is not None


PHONE = re.compile(r"^(\+?86[- ]?)?(0\d{2,3}-?\d{7,8}(-\d{1,6})?|1[3-9]\d{9}|400-?\d{3}-?\d{4})$")
SPECIAL_FIELDS = ("address", "phone", "bank", "bank_account")


def clean_special_details(details, invoice_type, errors):
    """The buyer's details a 专用发票 prints (地址、电话、开户行及账号), validated into ``errors``; all four are
    required for a 专用发票 and optional, but checked when given, for a 普通发票. Returns the clean values."""
    from .payouts import ACCOUNT_NUMBER

    details = details if isinstance(details, dict) else {}
    raw = {key: details.get(key) for key in SPECIAL_FIELDS}
    values = {key: unicodedata.normalize("NFKC", v).strip() if isinstance(v, str) else "" for key, v in raw.items()}
    required = invoice_type == "special"
    if values["address"] or required:
        if not ADDRESS_LENGTH[0] <= len(values["address"]) <= ADDRESS_LENGTH[1]:
            errors["address"] = _("专用发票须填写注册地址，5 至 200 个字")
    if values["phone"] or required:
        phone = re.sub(r"[\s()（）]", "", values["phone"][:MAX_PHONE])
        if not PHONE.fullmatch(phone):
            errors["phone"] = _("请填写注册电话：带区号的座机（如 010-12345678）或 11 位手机号")
        values["phone"] = phone
    if values["bank"] or required:
        if not BANK_LENGTH[0] <= len(values["bank"]) <= BANK_LENGTH[1]:
            errors["bank"] = _("请填写开户行全称，2 至 60 个字")
    if values["bank_account"] or required:
        number = re.sub(r"[\s-]", "", values["bank_account"][:MAX_BANK_ACCOUNT])
        if not ACCOUNT_NUMBER.fullmatch(number):
            errors["bank_account"] = _("银行账号应为 8–30 位数字（可含空格）")
        values["bank_account"] = number
    return {key: value or None for key, value in values.items()}


def request_invoice(deal_id, actor, issuer, title, taxpayer_id, invoice_type, now=None, details=None):
    """The paying party asks for an invoice; bad input is refused (422) and nothing is stored.

    ``details``: the buyer's address, phone, bank and bank_account, required for a 专用发票
    (``clean_special_details``)."""
    now = now or utcnow()
    if not _one_of(issuer, ISSUERS):
        raise ValidationError(_("开票方无效"), {"issuer": _("可选：seller、platform")})
    deal, roles = _lock(deal_id, actor)
    if requester_role(issuer) not in roles:
        raise PermissionDenied(_("只有付款方可以申请该发票") if issuer == "seller"
                               else _("平台服务费由卖方承担，只有卖方可以申请服务费发票"))
    if not can_request(deal, issuer):
        raise Conflict(_("款项到账后才能申请成交价发票") if issuer == "seller"
                       else _("放款后才能申请平台服务费发票"), state=deal.state)
    errors = {}
    title = title.strip() if isinstance(title, str) else ""
    if not TITLE_LENGTH[0] <= len(title) <= TITLE_LENGTH[1]:
        errors["title"] = _("发票抬头为 2 至 100 个字")
    if not _one_of(invoice_type, TYPES):
        errors["invoice_type"] = _("可选：normal（普通发票）、special（专用发票）")
    raw_id = taxpayer_id.strip() if isinstance(taxpayer_id, str) else ""
    code = None
    if raw_id:
        try:
            code = normalize_uscc(raw_id[:MAX_TAXPAYER_ID])
        except InvalidUSCC as exc:
            errors["taxpayer_id"] = str(exc)
    elif invoice_type == "special" or actor.organization_id is not None:
        errors["taxpayer_id"] = _("单位开票须填写纳税人识别号（统一社会信用代码）")
    special = clean_special_details(details, invoice_type, errors)
    if errors:
        raise ValidationError(_("开票信息有误，未提交"), errors)
    if db.session.scalar(select(InvoiceRequest.id).where(InvoiceRequest.deal_id == deal.id,
                                                         InvoiceRequest.issuer == issuer)) is not None:
        raise Conflict(_("本交易已申请过该发票"))
    row = InvoiceRequest(deal_id=deal.id, issuer=issuer, amount=amount_for(deal, issuer), currency=deal.currency,
                         title=title, taxpayer_id=code, invoice_type=invoice_type, status="requested",
                         requested_by_id=actor.id, requested_at=now, **special)
    db.session.add(row)
    db.session.flush()
    from . import deals

    what = N_("成交价发票：%(title)s %(code)s") if issuer == "seller" else N_("平台服务费发票：%(title)s %(code)s")
    deals._record(deal, "invoice_requested", deal.state, actor, now, note=msg(what, title=title, code=code or ""))
    who = [deal.seller_id] if issuer == "seller" else deals._operators()
    deals._tell(deal, who, deal_title(deal, N_("新的开票申请")),
                msg(N_("%(title)s，%(amount)s，%(type)s"), title=title, amount=money(row.amount, deal.currency),
                    type=label(TYPE_MSGIDS[invoice_type])))
    return row


def issue_invoice(deal_id, actor, issuer, invoice_number, now=None):
    """The issuer records the invoice number: the seller for the price, an operator for the fee."""
    now = now or utcnow()
    if not _one_of(issuer, ISSUERS):
        raise ValidationError(_("开票方无效"), {"issuer": _("可选：seller、platform")})
    deal, roles = _lock(deal_id, actor)
    if ("seller" if issuer == "seller" else "operator") not in roles:
        raise PermissionDenied(_("只有卖方可以登记成交价发票") if issuer == "seller"
                               else _("只有平台运营可以登记服务费发票"))
    row = db.session.scalar(select(InvoiceRequest).where(InvoiceRequest.deal_id == deal.id,
                                                         InvoiceRequest.issuer == issuer))
    if row is None:
        raise NotFound(_("没有该发票申请"))
    if row.status == "issued":
        raise Conflict(_("该发票已开具（号码 %(number)s）", number=row.invoice_number))
    number = re.sub(r"\s", "", invoice_number) if isinstance(invoice_number, str) else ""
    if not INVOICE_NUMBER.match(number[:30]):
        raise ValidationError(_("发票号码有误，未登记"),
                              {"invoice_number": _("发票号码为 8 位数字，数电发票为 20 位数字")})
    row.status, row.invoice_number, row.issued_by_id, row.issued_at = "issued", number, actor.id, now
    from . import deals

    number_text = msg(N_("发票号码 %(number)s"), number=number)
    deals._record(deal, "invoice_issued", deal.state, actor, now, note=number_text)
    deals._tell(deal, [row.requested_by_id], deal_title(deal, N_("发票已开具")), number_text)
    return row


def invoice_json(row):
    return {"issuer": row.issuer, "amount": row.amount, "currency": row.currency, "title": row.title,
            "taxpayer_id": row.taxpayer_id, "invoice_type": row.invoice_type, "status": row.status,
            "invoice_number": row.invoice_number, "requested_at": iso(row.requested_at),
            "address": row.address, "phone": row.phone, "bank": row.bank, "bank_account": row.bank_account,
            "issued_at": iso(row.issued_at)}


# --- tax notes -----------------------------------------------------------------------------

def stamp_duty(deal):
    """Stamp duty per party, in fen (rounded to the fen), or 0 when the document is not taxable."""
    if deal.listing.kind == "trademark" and deal.deal_type != "assignment":
        return 0
    return (deal.price * STAMP_DUTY_BPS + 5000) // 10000


def tax_notes(deal):
    """The VAT and stamp-duty notes for the deal (information, not tax advice): list of (title, text)."""
    contract = getattr(deal, "contract", None)
    registered = contract is not None and contract.tech_registration_number
    notes = []
    if deal.listing.kind == "trademark":
        notes.append((_("增值税"), _(
            "转让或许可商标属于销售无形资产，一般纳税人税率 6%；小规模纳税人征收率 3%（现行减按 1%，"
            "财政部 税务总局公告 2023 年第 19 号，至 2027 年 12 月 31 日）。由卖方开具发票。")))
    elif registered:
        notes.append((_("增值税"), _(
            "专利转让或许可属于技术转让：技术合同已登记（登记号 %(number)s），卖方可按财税〔2016〕36 号附件 3 "
            "第一条第（二十六）项申请免征增值税。", number=contract.tech_registration_number)))
    else:
        notes.append((_("增值税"), _(
            "专利转让或许可属于技术转让，经技术合同登记后可按财税〔2016〕36 号附件 3 第一条第（二十六）项"
            "免征增值税；未登记的按 6% 计税。请卖方办理技术合同登记并在本页登记编号。")))
    duty = stamp_duty(deal)
    if deal.listing.kind == "patent" and deal.deal_type != "assignment":
        text = _("专利实施许可合同属“技术合同”，按价款的万分之三由双方各自缴纳，每方约 %(amount)s。",
                 amount=display_yuan(duty, deal.currency))
    elif duty:
        text = _("专利权、商标专用权转让书据属“产权转移书据”，按价款的万分之三由双方各自缴纳，每方约 %(amount)s。",
                 amount=display_yuan(duty, deal.currency))
    else:
        text = _("商标使用许可合同不在印花税税目税率表所列范围内，不缴纳印花税。")
    notes.append((_("印花税"), text + " " + _(
        "依据《中华人民共和国印花税法》（2022 年 7 月 1 日施行）税目税率表；小型微利企业、个体工商户及"
        "增值税小规模纳税人可减半征收（财政部 税务总局公告 2023 年第 12 号）。")))
    notes.append((_("说明"), _("以上为一般规定，仅供参考；具体以主管税务机关的认定为准。"
                              "《中华人民共和国增值税法》自 2026 年 1 月 1 日起施行，优惠政策以现行规定为准。")))
    return notes


# --- 技术合同登记 -------------------------------------------------------------------------------

def tech_contract_data(deal):
    """The rows the 技术合同认定登记 form asks for, from the frozen contract and the deal (patent deals)."""
    from . import contracts

    if deal.listing.kind != "patent":
        raise Conflict(_("只有专利交易需要技术合同登记"))
    contract = contracts.contract_of(deal)
    t = contracts.terms(deal)
    signed = [s.signed_at for s in contract.signatures]
    rows = [
        (_("合同名称"), t["title"]),
        (_("合同编号"), t["number"]),
        (_("合同类型"), _("技术转让（专利权转让）") if deal.deal_type == "assignment" else _("技术转让（专利实施许可）")),
        (_("卖方（让与人/许可人）"), f"{t['seller']['name']}（{t['seller']['id_label']} {t['seller']['id_text']}）"),
        (_("买方（受让人/被许可人）"), f"{t['buyer']['name']}（{t['buyer']['id_label']} {t['buyer']['id_text']}）"),
        (_("合同金额（元）"), f"{deal.price // 100}.{deal.price % 100:02d}"),
        (_("技术交易额（元）"), f"{deal.price // 100}.{deal.price % 100:02d}"),
        (_("签订日期"), local(max(signed)).date().isoformat() if len(signed) == 2 else _("双方尚未全部签署")),
        (_("合同文本 SHA-256"), contract.sha256),
    ]
    for right in t["rights"]:
        rows.append((_("专利"), f"{right['label']} {right['number']} {right['title']}"))
    if deal.deal_type != "assignment":
        rows.append((_("许可方式、地域、期限"), f"{t['licence_type']}；{t['territory']}；{t['start']} 至 {t['end']}"))
    rows.append((_("登记编号"), contract.tech_registration_number or _("未登记")))
    return rows


def tech_contract_csv(deal):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["field", "value"])
    for key, value in tech_contract_data(deal):
        text = str(value)
        writer.writerow([str(key), "'" + text if text[:1] in "=+-@" else text])  # no formula injection
    return "\ufeff" + out.getvalue()  # BOM: Excel opens UTF-8 Chinese correctly


def record_tech_registration(deal_id, actor, number, now=None):
    """The seller (or an operator) records the 技术合同登记 number of a patent deal's contract."""
    from . import contracts, deals

    now = now or utcnow()
    deal, roles = _lock(deal_id, actor)
    if not roles & {"seller", "operator"}:
        raise PermissionDenied(_("只有卖方或平台运营可以登记技术合同登记编号"))
    if deal.listing.kind != "patent":
        raise Conflict(_("只有专利交易需要技术合同登记"))
    if not contracts.fully_signed(deal):
        raise Conflict(_("合同由双方签署后才能办理技术合同登记"))
    number = number.strip() if isinstance(number, str) else ""
    if not TECH_REGISTRATION.match(number[:41]):
        raise ValidationError(_("登记编号有误，未登记"),
                              {"registration_number": _("6 至 40 位字母、数字或连字符")})
    contract = contracts.contract_of(deal)
    if contract.tech_registration_number:
        raise Conflict(_("已登记技术合同（编号 %(number)s）", number=contract.tech_registration_number))
    contract.tech_registration_number = number
    contract.tech_registered_at = now
    contract.tech_registered_by_id = actor.id
    deals._record(deal, "tech_contract_registered", deal.state, actor, now, note=msg(N_("技术合同登记编号 %(number)s"), number=number))
    return deal
