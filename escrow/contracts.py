"""The deal's contract (issue 15): generated from the deal's terms when the deal opens, signed by
both parties on the platform, and only then payable.

- The text lives in ONE template, ``templates/escrow/contract_document.html``: an assignment contract
  (专利权/商标转让合同) or a licence contract (专利实施许可/商标使用许可合同) per deal type. It is
  rendered once, when the deal opens, and frozen (``DealContract``): ``text`` is the canonical text
  (the document without markup, whitespace collapsed) and ``sha256`` its hash, so the same terms give
  the same hash and later template edits never change what a party already signed.
- Each party signs by re-entering its password (``sign``); the signature records the signer, time,
  IP address and the hash. Signing twice, signing as a non-party and a wrong password are refused
  and change nothing.
- The payment deadline starts when the second party signs: until then ``payment_due_at`` is the
  deadline for signing (PAYMENT_DAYS after opening; unsigned by then, the deal lapses as an unpaid
  one would), and the second signature sets it to PAYMENT_DAYS from that moment.
- ``pdf`` renders the frozen document, its hash and the signatures with WeasyPrint.
"""
import hashlib
import warnings
from datetime import timedelta
from html.parser import HTMLParser

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from listings.models import RightHolder
from marketplace.kernel import accounts, labels
from marketplace.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import label, moment, msg
from marketplace.kernel.timeutil import iso, local, utcnow

from .paper_models import ContractSignature, DealContract
from .timeline import deal_title

TEMPLATE = "escrow/contract_document.html"
TEMPLATE_VERSION = "2026-12"
SIGNING_ROLES = ("buyer", "seller")
LICENCE_TYPES = {"exclusive_license": "独占实施许可", "sole_license": "排他实施许可",
                 "non_exclusive_license": "普通实施许可"}
TRADEMARK_LICENCE_TYPES = {"exclusive_license": "独占使用许可", "sole_license": "排他使用许可",
                           "non_exclusive_license": "普通使用许可"}
REGISTER_LICENCE_TYPES = {"exclusive": "独占", "sole": "排他", "non_exclusive": "普通"}


# --- the text -------------------------------------------------------------------------------

class _TextOf(HTMLParser):
    """The document's text: block elements start a new line, cells are separated by a space."""

    BLOCKS = {"p", "h1", "h2", "h3", "h4", "li", "tr", "dt", "dd", "div", "section", "table", "br", "ol", "ul",
              "header", "footer", "article"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []

    def handle_starttag(self, tag, attrs):
        self.parts.append("\n" if tag in self.BLOCKS else " " if tag in ("td", "th") else "")

    def handle_endtag(self, tag):
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        self.parts.append(data)


def canonical_text(html):
    """The canonical text of a rendered contract: one line per block, runs of whitespace as one space."""
    parser = _TextOf()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def sha256_of(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_DIGITS = "零壹贰叁肆伍陆柒捌玖"


def rmb_upper(fen):
    """人民币大写金额: 100000000 fen → 壹佰万元整 (as contracts and invoices write amounts)."""
    yuan, rest = divmod(int(fen), 100)
    jiao, fen_ = divmod(rest, 10)
    if yuan == 0:
        text = ""
    else:
        groups, units, text = [], ["", "万", "亿", "万亿"], ""
        while yuan:
            yuan, group = divmod(yuan, 10000)
            groups.append(group)
        zero_pending = False
        for index in range(len(groups) - 1, -1, -1):
            group = groups[index]
            if group == 0:
                zero_pending = bool(text)
                continue
            part, inner_zero = "", False
            for position, unit in ((1000, "仟"), (100, "佰"), (10, "拾"), (1, "")):
                digit = group // position % 10
                if digit == 0:
                    inner_zero = bool(part) or bool(text)
                    continue
                if inner_zero or (zero_pending and not part):
                    part += "零"
                inner_zero = zero_pending = False
                part += _DIGITS[digit] + unit
            text += part + units[index]
        text += "元"
    if jiao == 0 and fen_ == 0:
        return (text or "零元") + "整"
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif text:
        text += "零"
    if fen_:
        text += _DIGITS[fen_] + "分"
    return text


def _yuan(fen):
    yuan, rest = divmod(int(fen), 100)
    return f"¥{yuan:,}.{rest:02d}"


def _party(deal, role):
    """The party bound by the contract on one side: its organisation (name and USCC), or the user as a
    natural person (name and, where the register holds one, the masked ID number; the full number is
    never stored)."""
    user = deal.buyer if role == "buyer" else deal.seller
    org = deal.organization if role == "seller" else user.organization
    if org is not None:
        return {"name": org.name, "id_label": "统一社会信用代码", "id_text": org.uscc,
                "signatory": user.name, "natural_person": False}
    masked = getattr(user, "id_number_masked", None) or _masked_id_from_register(user)
    return {"name": user.name, "id_label": "身份证件号码（部分隐藏）", "id_text": masked or "（由平台核验，未记录完整号码）",
            "signatory": user.name, "natural_person": True}


def _masked_id_from_register(user):
    return db.session.scalar(db.select(RightHolder.id_number_masked).where(
        RightHolder.user_id == user.id, RightHolder.id_number_masked.isnot(None)).limit(1))


def _contract_title(deal):
    kind = deal.listing.kind
    if deal.deal_type == "assignment":
        return "专利权转让合同" if kind == "patent" else "注册商标转让合同"
    return "专利实施许可合同" if kind == "patent" else "注册商标使用许可合同"


def terms(deal, today=None):
    """Everything the contract states, from the deal, its listing and the register (plain values)."""
    from .deals import licences_to_acknowledge

    config = current_app.config
    listing = deal.listing
    rights = []
    for right in listing.rights:
        if right.kind == "patent":
            detail = labels.PATENT_TYPE_NOUN.get(right.patent_type or "", "专利")
            label = "专利号" if right.legal_status == "granted" else "申请号"
        else:
            classes = "、".join(str(c) for c in (right.nice_classes or []))
            detail = f"注册商标（第 {classes} 类）" if classes else "注册商标"
            label = "注册号"
        rights.append({"number": right.number, "title": right.title or "", "detail": detail, "label": label})
    surviving = [{"number": right.number, "licensee": lic.party_name or "（未具名）",
                  "type": REGISTER_LICENCE_TYPES.get(lic.licence_type, lic.licence_type or ""),
                  "territory": lic.territory or "中国大陆", "field": getattr(lic, "field", None) or "不限",
                  "until": lic.ends_on.isoformat() if getattr(lic, "ends_on", None) else "（未约定）"}
                 for right, lic in licences_to_acknowledge(deal)]
    licence_types = LICENCE_TYPES if listing.kind == "patent" else TRADEMARK_LICENCE_TYPES
    return {
        "number": f"IPM-{local(deal.created_at).strftime('%Y%m%d')}-{deal.id:06d}",
        "title": _contract_title(deal),
        "kind": listing.kind,
        "assignment": deal.deal_type == "assignment",
        "licence_type": licence_types.get(deal.deal_type),
        "deal_type": deal.deal_type,
        "seller": _party(deal, "seller"),
        "buyer": _party(deal, "buyer"),
        "rights": rights,
        "listing_title": listing.title,
        "price": _yuan(deal.price), "price_upper": rmb_upper(deal.price), "currency": deal.currency,
        "fee": _yuan(deal.fee), "fee_percent": f"{deal.fee * 100 / deal.price:.2f}".rstrip("0").rstrip("."),
        "payment_reference": deal.payment_reference,
        "payment_days": config["PAYMENT_DAYS"], "transfer_days": config["TRANSFER_DAYS"],
        "inspection_days": config["INSPECTION_DAYS"],
        "territory": deal.license_territory, "field": deal.license_field,
        "start": deal.license_start.isoformat() if deal.license_start else None,
        "end": deal.license_end.isoformat() if deal.license_end else None,
        "surviving_licences": surviving,
        "opened_on": local(deal.created_at).strftime("%Y年%m月%d日"),
        "royalty": _royalty_terms(deal),  # issue 16: the licence's royalty structure (escrow.royalties)
    }


def _royalty_terms(deal):
    from .royalties import contract_terms

    return contract_terms(deal)


def render_document(deal):
    """The contract's HTML body, always in Chinese (the text the parties sign and CNIPA records)."""
    # The bare Jinja environment: no request context (the deal may open in a job or the CLI).
    with force_locale("zh_CN"):
        return current_app.jinja_env.get_template(TEMPLATE).render(t=terms(deal))


def generate(deal, now=None):
    """Render and freeze the deal's contract (called when the deal opens); returns it."""
    html = render_document(deal)
    text = canonical_text(html)
    contract = DealContract(deal_id=deal.id, kind="assignment" if deal.deal_type == "assignment" else "license",
                            template_version=TEMPLATE_VERSION, html=html, text=text, sha256=sha256_of(text),
                            created_at=now or utcnow())
    db.session.add(contract)
    db.session.flush()
    return contract


def contract_of(deal):
    """The deal's contract, generated now for a deal opened before contracts existed."""
    contract = db.session.scalar(db.select(DealContract).where(DealContract.deal_id == deal.id))
    return contract if contract is not None else generate(deal)


def signature_of(deal, role):
    return db.session.scalar(db.select(ContractSignature).where(ContractSignature.deal_id == deal.id,
                                                                 ContractSignature.role == role))


def signed_roles(deal):
    return set(db.session.scalars(db.select(ContractSignature.role).where(ContractSignature.deal_id == deal.id)))


def fully_signed(deal):
    return signed_roles(deal) >= set(SIGNING_ROLES)


def ensure_signed(deal):
    """Refuse (409 ``contract_unsigned``) a payment step while a party has not signed the contract."""
    missing = [role for role in SIGNING_ROLES if role not in signed_roles(deal)]
    if missing:
        who = "、".join(_("买方") if role == "buyer" else _("卖方") for role in missing)
        raise ContractUnsigned(_("合同尚未由双方签署（待签署：%(who)s），签署后方可付款", who=who), missing=missing)


class ContractUnsigned(Conflict):
    code = "contract_unsigned"


# --- signing -----------------------------------------------------------------------------

MAX_PASSWORD = accounts.MAX_PASSWORD  # the account's own password signs


def sign(deal_id, actor, password, ip_address="", now=None):
    """``actor`` signs the deal's contract as buyer or seller, confirming with its password.

    Refused, with nothing changed: a user who is not a party (404 if they may not see the deal, 403
    for an operator), a wrong password (422), a party that has signed already (409), a deal no longer
    awaiting payment (409). The second signature starts the payment deadline.
    """
    from . import deals, machine

    now = now or utcnow()
    deal = deals.lock_deal(deal_id)
    roles = deals.roles_of(deal, actor)
    if not roles:
        raise NotFound(_("交易不存在"))
    party_roles = roles & set(SIGNING_ROLES)
    if not party_roles:
        raise PermissionDenied(_("只有交易双方可以签署合同"))
    machine.check(deal.state, "sign_contract", party_roles)
    if not isinstance(password, str) or not password or len(password) > MAX_PASSWORD \
            or not actor.check_password(password):
        raise ValidationError(_("密码不正确，未签署"), {"password": _("请输入您的登录密码")})
    role = "buyer" if "buyer" in party_roles else "seller"
    if signature_of(deal, role) is not None:
        raise Conflict(_("您已签署本合同"), code_hint="already_signed")
    contract = contract_of(deal)
    party = _party(deal, role)
    db.session.add(ContractSignature(
        contract_id=contract.id, deal_id=deal.id, role=role, user_id=actor.id, signer_name=actor.name[:100],
        party_name=party["name"][:200], party_id_text=(party["id_text"] or "")[:60], sha256=contract.sha256,
        ip_address=(ip_address or "")[:45], signed_at=now))
    db.session.flush()
    done = fully_signed(deal)
    if done:
        deal.payment_due_at = now + timedelta(days=current_app.config["PAYMENT_DAYS"])
    deals._record(deal, "sign_contract", deal.state, actor, now,
                  note=msg(N_("%(role)s签署，文本摘要 %(digest)s"), role=label(labels.ROLE[role]),
                           digest=contract.sha256[:8]))
    other = deal.seller_id if role == "buyer" else deal.buyer_id
    if done:
        deals._tell(deal, [deal.buyer_id], deal_title(deal, N_("合同已由双方签署，请付款")),
                    msg(N_("请在 %(due)s 前付款，逾期交易将自动取消。"), due=moment(deal.payment_due_at)))
        deals._tell(deal, [deal.seller_id], deal_title(deal, N_("合同已由双方签署")),
                    msg(N_("买方付款到账后请办理变更手续。")))
    else:
        deals._tell(deal, [other], deal_title(deal, N_("对方已签署合同，请审阅并签署")),
                    msg(N_("请在 %(due)s 前签署，逾期未签署交易将自动取消。"), due=moment(deal.payment_due_at)))
    return deal


def unpaid_lapse_is_buyers_fault(deal):
    """Whether a deal that lapsed unpaid counts against the buyer: not when the seller never signed
    (the buyer could not pay)."""
    return signature_of(deal, "seller") is not None


# --- the PDF -------------------------------------------------------------------------------

def pdf(deal):
    """The contract as PDF: the frozen document, its SHA-256 and the signatures (WeasyPrint)."""
    with warnings.catch_warnings():  # a test tool's import hook without find_spec warns on the lazy import
        warnings.simplefilter("ignore", ImportWarning)
        from weasyprint import HTML

    contract = contract_of(deal)
    with force_locale("zh_CN"):
        page = current_app.jinja_env.get_template("escrow/contract_pdf.html").render(
            deal=deal, contract=contract, signatures=contract.signatures, signed=fully_signed(deal))
    return HTML(string=page, base_url=None).write_pdf()


def contract_json(deal, include_text=True):
    contract = contract_of(deal)
    body = {
        "deal_id": deal.id, "kind": contract.kind, "template_version": contract.template_version,
        "sha256": contract.sha256, "created_at": iso(contract.created_at), "fully_signed": fully_signed(deal),
        "signatures": [{"role": s.role, "signer": s.signer_name, "party": s.party_name, "party_id": s.party_id_text,
                        "signed_at": iso(s.signed_at), "ip_address": s.ip_address, "sha256": s.sha256}
                       for s in contract.signatures],
        "pdf_url": f"/api/v1/deals/{deal.id}/contract.pdf",
    }
    if include_text:
        body["text"] = contract.text
        body["html"] = contract.html
    return body


def ip_of(request):
    return (request.remote_addr or "")[:45]
