"""The permission matrix: every API route, and every HTML route that changes state, called as
anonymous, a buyer, another buyer, the seller (owner), another seller and an operator.

The routes come from the app's own ``url_map``. ``MATRIX`` classifies each (method, endpoint):
what it acts on (a builder in ``conftest.World`` puts the object in the state the route
needs), the request, a probe that reads the state the route would change, and the expected
outcome for each of the six visitors, in the order of ``ROLES``:

* a number: that status. A 2xx must change what the probe reads; a refusal (4xx) must not.
* ``"login"``: an HTML redirect to the sign-in page; nothing changes.
* ``"done"``: an HTML redirect elsewhere after the act; the probe must read a change.
* ``"refused"``: an HTML redirect with an error message; nothing changes.
* ``"page"``: the form shown again (200) without acting.
* ``"harmless"``: an HTML redirect after acting on the caller's own things; the probed object
  (someone else's) does not change.

A route nobody has classified fails ``test_every_route_is_classified`` with its name.
Each visitor acts on objects of their own (a fresh builder call), so no cell depends on another.
"""
import io
import itertools
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

import pytest
from sqlalchemy import select

from escrow.models import Deal, DealEvent
from escrow.payout_models import PayoutAccount, RefundInstruction
from escrow.webhook_models import StripePaymentIntent
from listings.models import Bid, Listing, Offer
from listings.models import RightClaim as RightClaimModel
from marketplace.kernel.extensions import db
from marketplace.kernel.models import ApiToken, Notification, Organization, User
from marketplace.kernel.timeutil import local, utcnow
from search.models import SavedSearch
from tests import factories
from tests.factories import PASSWORD, make_uscc, recordal_details
from tests.probes import count as _count
from tests.probes import reread as _reread

from .conftest import PDF, PNG, ROLES, World, _refs, client_for

_seq = itertools.count(1)
NEW_PASSWORD = "another-long-passphrase-42"


@dataclass
class Case:
    expect: tuple  # one outcome per ROLES entry
    setup: Callable = lambda w: None  # noqa: E731  -> the object the route acts on
    args: Callable = lambda obj: {}  # noqa: E731  -> url_map values
    body: Callable = lambda w, obj, user: {}  # noqa: E731  -> keyword arguments of the test client call
    probe: Callable | None = None  # (w, obj, user) -> what the route would change
    note: str = ""
    tags: tuple = field(default_factory=tuple)


def _deal_events(w, deal, user):
    return _count(DealEvent, DealEvent.deal_id == deal.id), _reread(Deal, "state")(w, deal, user)


def _bank_account(user):
    """A well-formed bank account held in the caller's own (organisation's) name."""
    name = "" if user is None else (user.organization.name if user.organization_id else user.name)
    return {"bank": "中国银行", "branch": "深圳分行", "account_number": f"62220210{next(_seq):08d}",
            "account_name": name}


def _json(data):
    return lambda w, obj, user: {"json": data(w, obj) if callable(data) else data}


def _files(name, data, filename, **fields):
    import io

    return lambda w, obj, user: {"data": {name: (io.BytesIO(data), filename), **fields},
                                 "content_type": "multipart/form-data"}


def _new_user():
    user = factories.make_user("buyer")
    db.session.commit()
    return user


def _reset_token(user):
    from marketplace.kernel.password_reset import make_token

    return make_token(user)


def _form(data):
    return lambda w, obj, user: {"data": data(w, obj, user) if callable(data) else data}


_BODY_SEQ = itertools.count(900_000)


def _patent_body(w, obj):
    # A number nobody holds yet: each visitor enters a right of its own into the register.
    from tests.factories import unique_patent_number

    return {"kind": "patent", "title": "锂电池正极材料发明专利转让", "description": "**高能量密度**正极材料",
            "deal_types": ["assignment"], "price_mode": "fixed", "price": 500_000_00,
            "rights": [{"patent": {"application_number": unique_patent_number(next(_BODY_SEQ)), "title": "一种锂电池正极材料及其制备方法",
                                   "ipc_codes": ["H01M 4/36"], "filing_date": "2017-07-21",
                                   "grant_date": "2020-03-10", "claims_count": 10, "legal_status": "granted"}}]}


def _grade_scores(w, listing):
    from listings import grading

    return {item["key"]: 6 for item in grading.propose(listing)}


def _draft_trademarks(w):
    """A draft trademark assignment listing and, in the same organisation, another with the same mark."""
    first = w.listing(status="draft", kind="trademark", price_mode="negotiable", price=None,
                      deal_types=("assignment",))
    second = w.listing(status="draft", kind="trademark", price_mode="negotiable", price=None,
                       deal_types=("assignment",))
    first.other = second
    return first


def _appealed_record(w):
    from marketplace.kernel import credit

    rec = w.credit_record()
    credit.file_appeal(w.seller, rec.id, "该交易延误是因为国家知识产权局补正通知")
    db.session.commit()
    return rec


def _card_deal(w):
    deal = w.deal("awaiting_payment")
    deal.gateway = "fake_stripe"
    db.session.commit()
    return deal


def _deposit_auction(w):
    return w.listing(price_mode="auction", auction={"ends_at": utcnow() + timedelta(days=2), "deposit_amount": 1_000_00})


def _deposit(w, gateway="offline", status=None):
    """The buyer's deposit on an auction asking one: awaiting payment, or moved on to ``status``."""
    from escrow import deposits

    # a forfeit is the winner walking away, a strike against them: a bidder of its own each time
    bidder = factories.make_user("buyer") if status == "forfeited" else w.buyer
    deposit = deposits.open_deposit(_deposit_auction(w).id, bidder)
    deposit.gateway = gateway
    db.session.commit()
    if status is not None:
        deposits.confirm_offline_deposit(deposit.id, deposit.payment_reference, deposit.amount, w.operator)
        db.session.commit()
    if status == "returning":
        deposits.return_all(deposit.auction, "测试退还")
        db.session.commit()
    if status == "forfeited":
        from escrow import deals, trading

        trading.place_bid(deposit.auction.listing_id, bidder, deposit.auction.start_price)
        db.session.commit()
        trading.close_auction(deposit.auction.listing_id, deposit.auction.ends_at)
        deal = db.session.query(Deal).filter_by(listing_id=deposit.auction.listing_id).one()
        from escrow import contracts

        contracts.sign(deal.id, deal.seller, PASSWORD, "127.0.0.1")  # the seller was ready to sell
        deals.cancel_deal(deal.id, bidder)  # the winner walks away: forfeited
        db.session.commit()
    return deposit


def _deposits_on(w, listing, user):
    from listings.models import AuctionDeposit

    return _count(AuctionDeposit, AuctionDeposit.auction_id == listing.auction.id)


def _deposit_state(w, deposit, user):
    from listings.models import AuctionDeposit

    db.session.expire_all()
    row = db.session.get(AuctionDeposit, deposit.id)
    return row.status, row.payout_status, row.version


def _right_of(w):
    return w.listing().rights[0]


def _pledged_right(w):
    from listings.models import Encumbrance

    right = _right_of(w)
    right.encumbrances.append(Encumbrance(kind="pledge", party_name="招商银行", source="operator"))
    db.session.commit()
    right.pledge = right.encumbrances[-1]
    return right


def _claim(w):
    """The other seller's organisation claims a right the register gives to the seller's."""
    import io

    from werkzeug.datastructures import FileStorage

    from listings import register

    right = _right_of(w)
    claim = register.file_claim(w.other_seller, right, FileStorage(io.BytesIO(PDF), "proof.pdf"), "已受让")
    db.session.commit()
    return claim


def _right_args(right):
    return {"kind": right.kind, "number": right.number}


def _holders_of(w, right, user):
    from listings.models import Right

    db.session.expire_all()
    return [h.name for h in db.session.get(Right, right.id).holders]


def _claims_on(w, right, user):
    from listings.models import RightClaim

    return _count(RightClaim, RightClaim.right_id == right.id)


def _reread_right(attr):
    def probe(w, right, user):
        from listings.models import Right

        db.session.expire_all()
        return getattr(db.session.get(Right, right.id), attr)
    return probe


def _recordal_upload(name, prefix=""):
    """The approval notice with valid recordal details (dated today, so never before the filing)."""
    def body(w, deal, user):
        fields = {f"{prefix}{k}": v for k, v in recordal_details(deal).items()}
        return _files(name, PNG, "notice.png", **fields)(w, deal, user)
    return body


def _invoice_body(w, deal, user=None):
    return {"issuer": "seller", "title": "测试科技有限公司", "taxpayer_id": make_uscc(), "invoice_type": "normal"}


def _requested_invoice(w):
    from escrow import invoices

    deal = w.deal("funded")
    invoices.request_invoice(deal.id, w.buyer, "seller", "测试科技有限公司", make_uscc(), "normal")
    db.session.commit()
    return deal


# --- the demand side (issue 22): wanted ads, answers, the data room ----------------------------------------

def _ad_body(w=None, obj=None):
    from datetime import timedelta

    from marketplace.kernel.timeutil import local

    return {"kind": "patent", "title": "求购锂电池正极材料专利", "keywords": ["锂电池"], "ipc": "H01M",
            "deal_types": ["assignment"], "negotiable": True, "region": "shenzhen",
            "expires_at": (local(utcnow()).date() + timedelta(days=30)).isoformat()}


def _ad(w, status="published"):
    """The buyer's wanted ad, under review or published."""
    from demand import wanted

    ad = wanted.post(w.buyer, _ad_body())
    if status == "published":
        wanted.review(ad.id, w.operator, "approve")
    db.session.commit()
    ad.listing = w.listing()  # the seller's listing that can answer it
    return ad


def _answer(w):
    """The seller's answer to the buyer's wanted ad (a thread)."""
    from demand import answers

    ad = _ad(w)
    row = answers.answer(ad.id, w.seller, ad.listing.id, "我方专利符合需求")
    db.session.commit()
    return row


def _room(w):
    """The seller's published listing with one file in its data room."""
    from werkzeug.datastructures import FileStorage

    from demand import dataroom

    listing = w.listing()
    listing.file = dataroom.upload(listing.id, w.seller, FileStorage(io.BytesIO(_pdf()), "claims.pdf"), "claims")
    db.session.commit()
    return listing


def _pdf():
    from demand.watermark import quiet_import

    PdfWriter = quiet_import("pypdf").PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _room_access(w, granted=False):
    """The buyer's signed request for the seller's data room, perhaps granted."""
    from demand import dataroom

    listing = _room(w)
    access = dataroom.request_access(listing.id, w.buyer, PASSWORD, "127.0.0.1")
    if granted:
        dataroom.grant(access.id, w.seller)
    db.session.commit()
    access.file = listing.file
    return access


def _demand_count(name, *where):
    def probe(w, obj, user):
        from demand import models

        return _count(getattr(models, name), *where)
    return probe


def _demand_reread(name, attr):
    def probe(w, obj, user):
        from demand import models

        db.session.expire_all()
        return getattr(db.session.get(getattr(models, name), obj.id), attr)
    return probe


def _nda_of(w, listing, user):
    from demand import dataroom

    db.session.expire_all()
    return dataroom.nda_text(db.session.get(Listing, listing.id))


def _file_removed(w, listing, user):
    from demand.models import DataRoomFile

    db.session.expire_all()
    return db.session.get(DataRoomFile, listing.file.id).removed_at


def _room_files(w, listing, user):
    from demand.models import DataRoomFile

    return _count(DataRoomFile, DataRoomFile.listing_id == listing.id)


def _accesses_on(w, listing, user):
    from demand.models import DataRoomAccess

    return _count(DataRoomAccess, DataRoomAccess.listing_id == listing.id)


def _answers_on(w, ad, user):
    from demand.models import WantedAnswer

    return _count(WantedAnswer, WantedAnswer.wanted_id == ad.id)


def _messages_in(w, row, user):
    from demand.models import DemandMessage

    return _count(DemandMessage, DemandMessage.answer_id == row.id)


def _asked_for_document(w):
    """The seller's listing, rejected with a request for a supporting document (issue 17)."""
    from listings import service

    listing = w.listing(status="pending_review")
    service.review_listing(w.operator, listing.id, "reject", "请补充年费缴纳凭证", requested_document="supporting_doc")
    db.session.commit()
    return listing


# --- messages (issue 17) -----------------------------------------------------------------------------------

def _listing_thread(w, disputed=False):
    """The buyer's thread with the seller about a listing (on a listing whose deal with the buyer is disputed)."""
    from messaging import service as messages

    listing = w.deal("disputed").listing if disputed else w.listing()
    thread = messages.write_about_listing(listing.id, w.buyer, "请问年费缴到哪年？").thread
    db.session.commit()
    return thread


def _thread_messages(w, thread, user):
    from messaging.models import Message

    return _count(Message, Message.thread_id == thread.id)


def _threads_on_listing(w, listing, user):
    from messaging.models import MessageThread

    return _count(MessageThread, MessageThread.listing_id == listing.id)


def _deal_thread_messages(w, deal, user):
    from messaging.models import MessageThread

    return _count(MessageThread, MessageThread.deal_id == deal.id)


def _disclosed(w, thread, user):
    from messaging.models import MessageThread

    db.session.expire_all()
    return db.session.get(MessageThread, thread.id).disclosed_deal_id


NDA = "本保密协议约束接收方对资料室全部资料保密，期限三年，违约承担赔偿责任。"
# --- the finance desk (issue 23) -------------------------------------------------------------------------
# Objects belong to the seller's organisation (a valuation of its right, a loan application sent to a bank of
# the builder's own); banks, valuers and voucher issuers are not among the six visitors, so their routes are
# refused to all six here (tests/finance covers them allowed and refused).

def _fin_body(w, right=None):
    right = right or _right_of(w)
    return {"rights": [{"kind": right.kind, "number": right.number}], "revenues": [50_000_00] * 3,
            "royalty_rate": "8", "discount_rate": "10", "life_years": 3}


def _valuation(w, review=False, paid=False):
    from finance import valuation, vouchers

    right = _right_of(w)
    v = valuation.create(w.seller, _fin_body(w, right))
    v.listing_for_test = right.listings[0]
    if review:
        valuation.request_review(w.seller, v.id)
    if paid:
        charge = valuation.review_charge(v)
        vouchers.confirm_transfer(w.operator, charge.id, f"BOC{next(_seq):08d}", charge.amount)
    db.session.commit()
    return v


def _loan(w, step="open"):
    from finance import lending

    bank = factories.make_user("bank", org=factories.make_org(name=f"测试银行{next(_seq)}"))
    db.session.commit()
    right = _right_of(w)
    a = lending.apply(w.seller, {"rights": [{"kind": right.kind, "number": right.number}], "amount": 10_000_00,
                                 "term_months": 12, "purpose": "补充流动资金", "banks": [bank.organization_id]})
    db.session.commit()
    steps = ["asked", "offered", "accepted", "registration_submitted", "pledged", "release_pending"]
    today = local(utcnow()).date().isoformat()
    if step == "asked":
        lending.ask(bank, a.id, "请说明专利的实施情况")
    if step in steps[1:]:
        a.offer = lending.make_offer(bank, a.id, {"amount": 8_000_00, "rate_bps": 385, "term_months": 12})
    if step in steps[2:]:
        lending.accept(w.seller, a.offer.id)
    if step in steps[3:]:
        lending.record_registration(bank, a.id, {"number": f"Y2026{next(_seq):08d}", "date": today})
    if step in steps[4:]:
        lending.verify_registration(w.operator, a.id)
    if step in steps[5:]:
        lending.mark_repaid(bank, a.id)
    db.session.commit()
    a.bank = bank
    return a


def _loan_state(w, a, user):
    from finance.models import LoanApplication, LoanMessage, LoanOffer

    db.session.expire_all()
    row = db.session.get(LoanApplication, a.id)
    return (row.status, _count(LoanOffer, LoanOffer.application_id == a.id),
            _count(LoanMessage, LoanMessage.application_id == a.id), row.pledge_number, row.release_number)


def _seller_also_issues(w):
    w.seller.roles = set(w.seller.roles) | {"voucher_issuer"}
    db.session.commit()
    return w.seller


def _loan_with_statements(w):
    from finance import lending

    from .conftest import upload

    a = _loan(w)
    lending.attach_statements(w.seller, a.id, upload())
    db.session.commit()
    return a


def _offer_of(w, step="offered"):
    return _loan(w, step).offer


def _charge_and_batch(w, redeemed=False):
    from finance import vouchers
    from finance.models import ServiceCharge

    issuer = factories.make_user("voucher_issuer", org=factories.make_org(name=f"创新券项目{next(_seq)}"))
    charge = ServiceCharge(organization_id=w.seller.organization_id, service="valuation_review", amount=2000_00)
    db.session.add(charge)
    db.session.commit()
    batch = vouchers.create_batch(issuer, {"programme": "创新券", "face_value": 1000_00, "valid_from": "2026-01-01",
                                           "valid_until": "2099-12-31", "services": ["valuation_review"],
                                           "organization_ids": [w.seller.organization_id]})
    db.session.commit()
    if redeemed:
        vouchers.redeem(w.seller, batch.id, charge.id, 500_00)
        db.session.commit()
    charge.batch, charge.issuer = batch, issuer
    return charge


def _deal_and_batch(w):
    """A deal of the seller's awaiting payment, and a voucher batch for its fee, the seller's organisation named."""
    from finance import vouchers

    deal = w.deal()
    issuer = factories.make_user("voucher_issuer", org=factories.make_org(name=f"创新券项目{next(_seq)}"))
    db.session.commit()
    deal.batch = vouchers.create_batch(issuer, {
        "programme": "创新券", "face_value": 1000_00, "valid_from": "2026-01-01", "valid_until": "2099-12-31",
        "services": ["deal_fee"], "organization_ids": [w.seller.organization_id]})
    db.session.commit()
    return deal


def _fee_held(w, deal, user):
    from finance.models import ServiceCharge, VoucherRedemption

    return _count(VoucherRedemption, VoucherRedemption.charge_id.in_(
        select(ServiceCharge.id).where(ServiceCharge.deal_id == deal.id)))


def _charge_paid(w, charge, user):
    from finance.models import ServiceCharge

    db.session.expire_all()
    row = db.session.get(ServiceCharge, charge.id)
    return row.paid_by_voucher, row.paid_by_transfer, row.status


def _settled(w, charge, user):
    from finance.models import VoucherRedemption

    return _count(VoucherRedemption, VoucherRedemption.settled_at.isnot(None))


def _valuations(w, obj, user):
    from finance.models import Valuation

    return _count(Valuation)


def _loans(w, obj, user):
    from finance.models import LoanApplication

    return _count(LoanApplication)


def _batches(w, obj, user):
    from finance.models import VoucherBatch

    return _count(VoucherBatch)


def _reread_finance(model, obj_id, attr):
    import finance.models as fm
    from marketplace.kernel import models as mm

    db.session.expire_all()
    return getattr(db.session.get(getattr(fm, model, None) or getattr(mm, model), obj_id), attr)


def _committed(obj):
    db.session.commit()
    return obj


def _loan_released_submitted(w):
    from finance import lending

    a = _loan(w, "release_pending")
    lending.record_release(w.seller, a.id, {"number": f"ZX2026{next(_seq):08d}", "date": local(utcnow()).date().isoformat()})
    db.session.commit()
    return a


BANKS_ONLY_API = (401, 403, 403, 403, 403, 403)  # bank staff (not among the six visitors) only
HOLDER_API = (401, 404, 404, 200, 404, 403)  # the holder's side acts; operators see but may not act for it
# --- open licences and royalties (issue 16) -------------------------------------------------------------

_OPEN_TERMS = {"royalty_kind": "percent", "royalty_bps": 500, "yearly_minimum": 1_000_00, "period": "quarter",
               "term_years": 3}


def _open_listing(w):
    return w.listing(deal_types=("non_exclusive_license",))


def _buyers_in_organisations(w):
    """Open licences are taken by verified organisations: the buyers get one each (once)."""
    for buyer in (w.buyer, w.other_buyer):
        if buyer.organization_id is None:
            buyer.organization = factories.make_org()
    db.session.commit()


def _declaration(w):
    from listings import open_licence

    decl = open_licence.declare(_open_listing(w).id, w.seller, dict(_OPEN_TERMS))
    db.session.commit()
    _buyers_in_organisations(w)
    return decl


def _licence(w):
    """The buyer's licence under an open declaration, paid, started 200 days ago (its first quarter ended)."""
    from escrow import deals, royalties
    from listings import open_licence

    deal, licence = open_licence.take(_declaration(w).id, w.buyer)
    db.session.commit()
    factories.sign_contract(deal)
    deals.confirm_offline_payment(deal.id, deal.payment_reference, deal.price, w.operator)
    start = licence.starts_on - timedelta(days=200)
    licence.starts_on, licence.ends_on = start, start.replace(year=start.year + 3) - timedelta(days=1)
    royalties.sync(licence)
    db.session.commit()
    return licence


def _period(status="open"):
    """The first period of the buyer's licence, in ``status`` (open → awaiting_payment → held → released)."""
    def build(w):
        from escrow import royalties

        licence = _licence(w)
        period = licence.periods[0]
        if status != "open":
            royalties.report(licence.id, period.id, w.buyer, 500_000_00)
        if status in ("held", "released"):
            royalties.confirm_payment(period.id, period.payment_reference, period.amount, w.operator)
        if status == "released":
            royalties.release(licence.id, period.id, w.seller)
        db.session.commit()
        period.licence_args = {"licence_id": licence.id, "period_id": period.id}
        return period
    return build


def _period_status(w, period, user):
    from escrow.royalty_models import RoyaltyPeriod

    db.session.expire_all()
    return db.session.get(RoyaltyPeriod, period.id).status


def _licence_deal(w):
    """A negotiated non-exclusive licence deal awaiting payment, its contract unsigned."""
    from escrow import deals

    listing = _open_listing(w)
    deal = deals.open_deal(listing, w.buyer, 50_000_00, "non_exclusive_license", "purchase")
    db.session.commit()
    return deal


def _royalty_bps(w, deal, user):
    from escrow import royalties

    db.session.expire_all()
    licence = royalties.licence_of(deal)
    return licence.royalty_bps if licence is not None else None


def _deals_on_declared(w, decl, user):
    return _count(Deal, Deal.listing_id == decl.listing_id)


def _reread_status(decl):
    from listings.models import OpenLicence

    db.session.expire_all()
    return db.session.get(OpenLicence, decl.id).status


def _declarations_on(w, listing, user):
    from listings.models import OpenLicence

    return _count(OpenLicence, OpenLicence.listing_id == listing.id)


API_ALL = (200, 200, 200, 200, 200, 200)
SIGNED_IN = (401, 200, 200, 200, 200, 200)
DEAL_PARTIES = (401, 200, 404, 200, 404, 200)  # buyer, seller and operators see a deal; others get 404
OPERATORS_ONLY_API = (401, 403, 403, 403, 403, 200)
OPERATORS_ONLY_PAGE = ("login", 403, 403, 403, 403, "done")

MATRIX = {
    # --- accounts -----------------------------------------------------------------------------------
    ("POST", "auth_api.api_register"): Case(
        (201,) * 6, body=lambda w, obj, user: {"json": {
            "email": f"new{next(_seq)}@example.com", "password": "long-enough-password", "name": "新用户",
            "roles": ["buyer"], "accept_terms": True}},
        probe=lambda w, obj, user: _count(User)),
    ("POST", "auth_api.api_token"): Case(
        (200,) * 6, note="anonymous signs in with the buyer's password",
        body=lambda w, obj, user: {"json": {"email": (user or w.buyer).email, "password": PASSWORD}},
        probe=lambda w, obj, user: _count(ApiToken)),
    ("POST", "auth_api.api_revoke"): Case(
        SIGNED_IN, probe=lambda w, obj, user: _count(ApiToken, ApiToken.revoked_at.isnot(None))),
    ("GET", "auth_api.api_me"): Case(SIGNED_IN),
    ("GET", "openapi.openapi_json"): Case(API_ALL),
    ("POST", "webhooks.stripe_webhook"): Case(
        (400,) * 6, note="unsigned: refused for everyone (the signature is the only credential)",
        setup=lambda w: w.deal(), body=lambda w, obj, user: {"json": {"id": "evt_1", "type": "payment_intent.succeeded",
                                                                       "data": {"object": {"id": "pi_x"}}}},
        probe=_reread(Deal, "state")),

    # --- deals ----------------------------------------------------------------------------------------
    ("GET", "escrow_api.list_deals"): Case(SIGNED_IN),
    ("GET", "escrow_api.get_deal"): Case(DEAL_PARTIES, setup=lambda w: w.deal(), args=lambda d: {"deal_id": d.id}),
    ("GET", "escrow_api.deal_ledger"): Case(DEAL_PARTIES, setup=lambda w: w.deal("funded"),
                                            args=lambda d: {"deal_id": d.id}),
    ("GET", "escrow_api.deal_document"): Case(
        DEAL_PARTIES, setup=lambda w: w.deal("transfer_filed"),
        args=lambda d: {"deal_id": d.id, "document_id": d.documents[0].id}),
    ("POST", "escrow_api.pay"): Case(
        (401, 200, 404, 403, 404, 403), setup=lambda w: w.deal(), args=lambda d: {"deal_id": d.id},
        probe=_deal_events),
    ("POST", "escrow_api.confirm_payment"): Case(
        (401, 403, 404, 403, 404, 200), setup=lambda w: w.deal(), args=lambda d: {"deal_id": d.id},
        body=_json(lambda w, d: {"reference": d.payment_reference, "amount": d.price}), probe=_deal_events),
    ("POST", "escrow_api.transfer_filed"): Case(
        (401, 403, 404, 200, 404, 403), setup=lambda w: w.deal("funded"), args=lambda d: {"deal_id": d.id},
        body=_files("document", PDF, "receipt.pdf"), probe=_deal_events),
    ("POST", "escrow_api.transfer_recorded"): Case(
        (401, 403, 404, 200, 404, 403), setup=lambda w: w.deal("transfer_filed"), args=lambda d: {"deal_id": d.id},
        body=_recordal_upload("document"), probe=_deal_events),
    ("POST", "escrow_api.accept"): Case(
        (401, 200, 404, 403, 404, 403), setup=lambda w: w.deal("transfer_recorded"),
        args=lambda d: {"deal_id": d.id}, probe=_deal_events),
    ("POST", "escrow_api.dispute"): Case(
        (401, 200, 404, 200, 404, 403), setup=lambda w: w.deal("funded"), args=lambda d: {"deal_id": d.id},
        body=_json({"reason": "卖方迟迟不提交变更申请"}), probe=_deal_events),
    ("POST", "escrow_api.resolve"): Case(
        (401, 403, 404, 403, 404, 200), setup=lambda w: w.deal("disputed"), args=lambda d: {"deal_id": d.id},
        body=_json({"outcome": "refund"}), probe=_deal_events),
    ("POST", "escrow_api.confirm_reversal"): Case(
        (401, 403, 404, 403, 404, 200), setup=lambda w: w.deal("transfer_back"), args=lambda d: {"deal_id": d.id},
        probe=_deal_events),
    ("POST", "escrow_api.acknowledge_licences"): Case(
        (401, 200, 404, 403, 404, 403), note="the buyer of a deal awaiting payment",
        setup=lambda w: w.deal(), args=lambda d: {"deal_id": d.id}, probe=_reread(Deal, "licences_acknowledged_at")),
    ("POST", "escrow_api.cancel"): Case(
        (401, 200, 404, 403, 404, 200), setup=lambda w: w.deal(), args=lambda d: {"deal_id": d.id},
        probe=_deal_events),
    ("POST", "escrow_api.payout_paid"): Case(
        (401, 403, 404, 403, 404, 200), setup=lambda w: w.deal("released"), args=lambda d: {"deal_id": d.id},
        body=_json({"reference": "BOC20260101001"}), probe=_deal_events),

    # --- payout accounts, the refund queue, fee quotes (issue 15) -------------------------------------------
    ("GET", "payouts_api.api_payout_account"): Case((401, 403, 403, 200, 200, 403)),
    ("PUT", "payouts_api.api_payout_account_put"): Case(
        (401, 403, 403, 201, 201, 403), note="each seller records its own organisation's account",
        body=lambda w, obj, user: {"json": _bank_account(user)}, probe=lambda w, obj, user: _count(PayoutAccount)),
    ("POST", "payouts_api.api_micro_deposit"): Case(
        (401, 403, 403, 200, 409, 403), note="the other seller has no account waiting for the check",
        setup=lambda w: w.pending_account(micro=42), body=_json({"amount": 42}), probe=_reread(PayoutAccount, "status")),
    ("GET", "payouts_api.api_accounts_queue"): Case(OPERATORS_ONLY_API),
    ("POST", "payouts_api.api_account_verify"): Case(
        OPERATORS_ONLY_API, setup=lambda w: w.pending_account(), args=lambda a: {"account_id": a.id},
        probe=_reread(PayoutAccount, "status")),
    ("POST", "payouts_api.api_account_reject"): Case(
        OPERATORS_ONLY_API, setup=lambda w: w.pending_account(), args=lambda a: {"account_id": a.id},
        body=_json({"note": "户名与开户许可证不符"}), probe=_reread(PayoutAccount, "status")),
    ("POST", "payouts_api.api_account_micro"): Case(
        OPERATORS_ONLY_API, setup=lambda w: w.pending_account(), args=lambda a: {"account_id": a.id},
        body=_json({"amount": 42}), probe=_reread(PayoutAccount, "micro_amount")),
    ("GET", "payouts_api.api_refund_queue"): Case(OPERATORS_ONLY_API),
    ("GET", "payouts_api.api_refund"): Case(DEAL_PARTIES, setup=lambda w: w.refund(),
                                            args=lambda r: {"deal_id": r.deal_id}),
    ("PUT", "payouts_api.api_refund_account"): Case(
        (401, 200, 404, 403, 404, 403), setup=lambda w: w.refund(), args=lambda r: {"deal_id": r.deal_id},
        body=lambda w, r, user: {"json": _bank_account(user)}, probe=_reread(RefundInstruction, "status")),
    ("POST", "payouts_api.api_refund_paid"): Case(
        OPERATORS_ONLY_API, setup=lambda w: w.refund(account=True), args=lambda r: {"deal_id": r.deal_id},
        body=lambda w, r, user: {"json": {"reference": f"BOCR{next(_seq):08d}"}},
        probe=_reread(RefundInstruction, "status")),
    ("GET", "payouts_api.api_fee_quote"): Case(API_ALL, body=lambda w, obj, user: {"query_string": {"price": 100}}),

    # --- deal paperwork (issue 15): contract, recordal check, invoices, tax --------------------------------
    ("GET", "escrow_paper_api.get_contract"): Case(DEAL_PARTIES, setup=lambda w: w.deal(),
                                                   args=lambda d: {"deal_id": d.id}),
    ("GET", "escrow_paper_api.contract_pdf"): Case(DEAL_PARTIES, setup=lambda w: w.deal(),
                                                   args=lambda d: {"deal_id": d.id}),
    ("POST", "escrow_paper_api.sign_contract"): Case(
        (401, 200, 404, 200, 404, 403), note="each party once; an operator is not a party",
        setup=lambda w: w.deal(signed=False), args=lambda d: {"deal_id": d.id}, body=_json({"password": PASSWORD}),
        probe=_deal_events),
    ("POST", "escrow_paper_api.confirm_filing"): Case(
        (401, 200, 404, 403, 404, 403), note="the buyer of a trademark assignment",
        setup=lambda w: w.deal("transfer_filed", kind="trademark"), args=lambda d: {"deal_id": d.id},
        probe=_deal_events),
    ("GET", "escrow_paper_api.get_recordal"): Case(DEAL_PARTIES, setup=lambda w: w.deal("recordal_submitted"),
                                                   args=lambda d: {"deal_id": d.id}),
    ("POST", "escrow_paper_api.verify_recordal"): Case(
        (401, 403, 404, 403, 404, 200), setup=lambda w: w.deal("recordal_submitted"),
        args=lambda d: {"deal_id": d.id}, probe=_deal_events),
    ("POST", "escrow_paper_api.reject_recordal"): Case(
        (401, 403, 404, 403, 404, 200), setup=lambda w: w.deal("recordal_submitted"),
        args=lambda d: {"deal_id": d.id}, body=_json({"reason": "发文序号与通知书不一致"}), probe=_deal_events),
    ("GET", "escrow_paper_api.list_invoices"): Case(DEAL_PARTIES, setup=lambda w: w.deal("funded"),
                                                    args=lambda d: {"deal_id": d.id}),
    ("POST", "escrow_paper_api.request_invoice"): Case(
        (401, 201, 404, 403, 404, 403), note="the buyer asks the seller for the price invoice",
        setup=lambda w: w.deal("funded"), args=lambda d: {"deal_id": d.id}, body=_json(_invoice_body),
        probe=_deal_events),
    ("POST", "escrow_paper_api.issue_invoice"): Case(
        (401, 403, 404, 200, 404, 403), note="the seller records the number of the price invoice",
        setup=_requested_invoice, args=lambda d: {"deal_id": d.id, "issuer": "seller"},
        body=_json({"invoice_number": "12345678"}), probe=_deal_events),
    ("GET", "escrow_paper_api.tax"): Case(DEAL_PARTIES, setup=lambda w: w.deal(), args=lambda d: {"deal_id": d.id}),
    ("POST", "escrow_paper_api.tech_contract"): Case(
        (401, 403, 404, 200, 404, 200), setup=lambda w: w.deal(), args=lambda d: {"deal_id": d.id},
        body=_json({"registration_number": "2026440300001234"}), probe=_deal_events),
    ("POST", "escrow_paper.contract_sign"): Case(
        ("login", "done", 404, "done", 404, 403), setup=lambda w: w.deal(signed=False),
        args=lambda d: {"deal_id": d.id}, body=_form({"password": PASSWORD}), probe=_deal_events),
    ("POST", "escrow_paper.confirm_filing"): Case(
        ("login", "done", 404, 403, 404, 403), setup=lambda w: w.deal("transfer_filed", kind="trademark"),
        args=lambda d: {"deal_id": d.id}, probe=_deal_events),
    ("POST", "escrow_paper.recordal_verify"): Case(
        ("login", 403, 404, 403, 404, "done"), setup=lambda w: w.deal("recordal_submitted"),
        args=lambda d: {"deal_id": d.id}, probe=_deal_events),
    ("POST", "escrow_paper.recordal_reject"): Case(
        ("login", 403, 404, 403, 404, "done"), setup=lambda w: w.deal("recordal_submitted"),
        args=lambda d: {"deal_id": d.id}, body=_form({"reason": "发文序号与通知书不一致"}), probe=_deal_events),
    ("POST", "escrow_paper.invoice_request"): Case(
        ("login", "done", 404, 403, 404, 403), setup=lambda w: w.deal("funded"), args=lambda d: {"deal_id": d.id},
        body=_form(_invoice_body), probe=_deal_events),
    ("POST", "escrow_paper.invoice_issued"): Case(
        ("login", 403, 404, "done", 404, 403), setup=_requested_invoice,
        args=lambda d: {"deal_id": d.id, "issuer": "seller"}, body=_form({"invoice_number": "12345678"}),
        probe=_deal_events),
    ("POST", "escrow_paper.tech_contract"): Case(
        ("login", 403, 404, "done", 404, "done"), setup=lambda w: w.deal(), args=lambda d: {"deal_id": d.id},
        body=_form({"registration_number": "2026440300001234"}), probe=_deal_events),

    # --- listings ---------------------------------------------------------------------------------------
    ("POST", "listings_api.create"): Case(
        (401, 403, 403, 201, 201, 403), body=_json(_patent_body), probe=lambda w, obj, user: _count(Listing)),
    ("GET", "rights_api.show"): Case(
        (200, 200, 200, 200, 200, 200), note="the register is public",
        setup=lambda w: w.listing(), args=lambda x: {"kind": "patent", "number": x.rights[0].number}),
    ("POST", "rights_api.upload_document"): Case(
        (401, 404, 404, 200, 404, 403), setup=lambda w: w.listing(status="draft"),
        args=lambda x: {"listing_id": x.id, "field": "authorization_doc"}, body=_files("document", PDF, "auth.pdf"),
        probe=_reread(Listing, "authorization_doc")),
    ("POST", "rights_api.co_owner_consent"): Case(
        (401, 404, 404, 403, 403, 404), note="only a co-owner of another organisation may consent; none here",
        setup=lambda w: w.listing(status="draft"), args=lambda x: {"listing_id": x.id},
        probe=_reread(Listing, "co_owner_consents")),
    ("POST", "register_ops_api.api_file_claim"): Case(
        (401, 403, 403, 409, 201, 403), note="a seller of another organisation claims; the holder gets 409",
        setup=_right_of, args=_right_args, body=_files("evidence", PDF, "proof.pdf", note="已受让"),
        probe=_claims_on),
    ("GET", "register_ops_api.api_claims"): Case(OPERATORS_ONLY_API),
    ("GET", "register_ops_api.api_claim_evidence"): Case(OPERATORS_ONLY_API, setup=_claim,
                                                         args=lambda c: {"claim_id": c.id}),
    ("POST", "register_ops_api.api_decide"): Case(
        OPERATORS_ONLY_API, setup=_claim, args=lambda c: {"claim_id": c.id},
        body=_json({"decision": "uphold", "reason": "转让登记通知书"}), probe=_reread(RightClaimModel, "status")),
    ("PATCH", "register_ops_api.api_correct"): Case(
        OPERATORS_ONLY_API, setup=_right_of, args=_right_args,
        body=_json({"changes": {"legal_status": "lapsed"}, "reason": "国家知识产权局公告"}),
        probe=_reread_right("legal_status")),
    ("GET", "listings_api.show"): Case(
        (404, 404, 404, 200, 404, 200), note="a draft: only its organisation's sellers and operators see it",
        setup=lambda w: w.listing(status="draft"), args=lambda x: {"listing_id": x.id}),
    ("PATCH", "listings_api.update"): Case(
        (401, 404, 404, 200, 404, 403), setup=lambda w: w.listing(status="draft"),
        args=lambda x: {"listing_id": x.id}, body=_json({"title": "锂电池正极材料专利（改）"}),
        probe=_reread(Listing, "title")),
    ("POST", "listings_api.submit"): Case(
        (401, 404, 404, 200, 404, 403), setup=lambda w: w.listing(status="draft"),
        args=lambda x: {"listing_id": x.id}, probe=_reread(Listing, "status")),
    ("POST", "listings_api.review"): Case(
        OPERATORS_ONLY_API, setup=lambda w: w.listing(status="pending_review"), args=lambda x: {"listing_id": x.id},
        body=_json({"decision": "approve"}), probe=_reread(Listing, "status")),
    ("POST", "listings_api.requested_document"): Case(
        (401, 404, 404, 200, 404, 403), note="the seller side uploads what the rejection asked for",
        setup=_asked_for_document, args=lambda x: {"listing_id": x.id},
        body=_files("document", PDF, "receipt.pdf"), probe=_reread(Listing, "supporting_doc")),
    ("POST", "listings_api.withdraw"): Case(
        (401, 403, 403, 200, 403, 403), setup=lambda w: w.listing(), args=lambda x: {"listing_id": x.id},
        probe=_reread(Listing, "status")),
    ("POST", "listings_api.relist"): Case(
        (401, 404, 404, 201, 404, 403), note="an expired listing is seen only by its organisation and operators",
        setup=lambda w: w.listing(status="expired"), args=lambda x: {"listing_id": x.id},
        probe=lambda w, obj, user: _count(Listing)),
    ("POST", "listings_api.pledge_consent"): Case(
        (401, 404, 404, 200, 404, 403), setup=lambda w: w.listing(status="draft"),
        args=lambda x: {"listing_id": x.id}, body=_files("document", PDF, "consent.pdf"),
        probe=_reread(Listing, "pledge_consent")),
    ("POST", "listings_api.image"): Case(
        (401, 404, 404, 200, 404, 403),
        setup=lambda w: w.listing(status="draft", kind="trademark", price_mode="negotiable", price=None),
        args=lambda x: {"listing_id": x.id}, body=_files("document", PNG, "mark.png"),
        probe=_reread(Listing, "image")),
    ("GET", "listings_api.mine"): Case((401, 403, 403, 200, 200, 403)),

    # --- trading ----------------------------------------------------------------------------------------
    ("POST", "trading_api.purchase"): Case(
        (401, 201, 201, 403, 403, 403), setup=lambda w: w.listing(), args=lambda x: {"listing_id": x.id},
        body=_json({"deal_type": "assignment"}), probe=_reread(Listing, "status")),
    ("POST", "trading_api.make_offer"): Case(
        (401, 201, 201, 403, 403, 403), setup=lambda w: w.listing(price_mode="negotiable", price=None),
        args=lambda x: {"listing_id": x.id}, body=_json({"amount": 50_000_00, "deal_type": "assignment"}),
        probe=lambda w, x, user: _count(Offer, Offer.listing_id == x.id)),
    ("POST", "trading_api.accept_offer"): Case(
        (401, 403, 404, 200, 404, 403), note="a buyer's offer: the seller answers it; operators see it",
        setup=lambda w: w.offer(), args=lambda o: {"offer_id": o.id}, probe=_reread(Offer, "status")),
    ("POST", "trading_api.decline_offer"): Case(
        (401, 403, 404, 200, 404, 403), setup=lambda w: w.offer(), args=lambda o: {"offer_id": o.id},
        probe=_reread(Offer, "status")),
    ("POST", "trading_api.counter_offer"): Case(
        (401, 403, 404, 201, 404, 403), setup=lambda w: w.offer(), args=lambda o: {"offer_id": o.id},
        body=_json({"amount": 80_000_00}), probe=_reread(Offer, "status")),
    ("POST", "trading_api.place_bid"): Case(
        (401, 201, 201, 403, 403, 403), setup=lambda w: w.auction(), args=lambda x: {"listing_id": x.id},
        body=_json({"amount": 100_000_00}), probe=lambda w, x, user: _count(Bid, Bid.auction_id == x.auction.id)),
    ("GET", "trading_api.list_bids"): Case(API_ALL, setup=lambda w: w.auction(), args=lambda x: {"listing_id": x.id}),
    ("POST", "deposits_api.api_start"): Case(
        (401, 201, 201, 403, 403, 403), note="buyers only, never the seller's side", setup=_deposit_auction,
        args=lambda x: {"listing_id": x.id}, probe=_deposits_on),
    ("GET", "deposits_api.api_show"): Case(
        (401, 200, 404, 404, 404, 404), note="one's own deposit only", setup=lambda w: _deposit(w).auction.listing,
        args=lambda x: {"listing_id": x.id}),

    # --- grades -----------------------------------------------------------------------------------------
    ("GET", "grading_api.proposal"): Case(OPERATORS_ONLY_API, setup=lambda w: w.listing(),
                                          args=lambda x: {"listing_id": x.id}),
    ("GET", "grading_api.assessments"): Case(OPERATORS_ONLY_API, setup=lambda w: w.listing(),
                                             args=lambda x: {"listing_id": x.id}),
    ("POST", "grading_api.assess"): Case(
        OPERATORS_ONLY_API, setup=lambda w: w.listing(), args=lambda x: {"listing_id": x.id},
        body=_json(lambda w, x: {"scores": _grade_scores(w, x), "rationale": "权利稳定，技术先进，市场需求明确，评级合理。"}),
        probe=_reread(Listing, "grade")),

    # --- search, saved searches, notifications ---------------------------------------------------------
    ("GET", "search_api.api_search"): Case(API_ALL),
    ("GET", "search_api.api_notifications"): Case(SIGNED_IN),
    ("GET", "search_api.api_saved_searches"): Case(SIGNED_IN),
    ("POST", "search_api.api_save_search"): Case(
        (401, 201, 201, 201, 201, 201), body=_json({"q": "锂电池", "filters": {"kind": "patent"}}),
        probe=lambda w, obj, user: _count(SavedSearch)),
    ("DELETE", "search_api.api_delete_saved_search"): Case(
        (401, 200, 404, 404, 404, 404), note="only the owner", setup=lambda w: w.saved_search().id,  # an id: the row goes
        args=lambda s: {"saved_id": s}, probe=lambda w, s, user: _count(SavedSearch, SavedSearch.id == s)),

    # --- HTML: accounts -------------------------------------------------------------------------------
    ("POST", "auth.login"): Case(
        ("done",) * 6, note="anonymous signs in with the buyer's password",
        body=_form(lambda w, obj, user: {"email": (user or w.buyer).email, "password": PASSWORD})),
    ("POST", "auth.register"): Case(
        ("done",) * 6, body=_form(lambda w, obj, user: {"email": f"page{next(_seq)}@example.com",
                                                         "password": "long-enough-password", "name": "新用户",
                                                         "roles": "buyer", "accept_terms": "y"}),
        probe=lambda w, obj, user: _count(User)),
    ("POST", "auth.logout"): Case(("done",) * 6),
    ("POST", "auth.change_password"): Case(
        ("login", "done", "done", "done", "done", "done"),
        body=_form({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        probe=lambda w, obj, user: user and _reread(User, "password_hash")(w, user, user)),
    ("POST", "auth.forgot_password"): Case(
        ("page",) * 6, note="the same answer for everyone (never tells who is registered); the mail is the act",
        setup=lambda w: w.buyer, body=_form(lambda w, obj, user: {"email": obj.email}),
        probe=lambda w, obj, user: _reread(User, "password_hash")(w, obj, user)),
    ("POST", "auth.reset_password"): Case(
        ("done",) * 6, note="the e-mailed link is the permission: whoever holds it sets that account's password",
        setup=lambda w: _new_user(), args=lambda u: {"token": _reset_token(u)},
        body=_form({"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}),
        probe=lambda w, obj, user: _reread(User, "password_hash")(w, obj, user)),
    ("POST", "auth.privacy"): Case(
        ("login", "done", "done", "page", "done", "page"),
        note="deletes (anonymises) only the caller's own account; refused (the page again) for the seller, whose "
             "listing is on the market, and for an operator",
        setup=lambda w: w.listing(),
        body=_form({"password": PASSWORD, "confirm": "y"}),
        probe=lambda w, obj, user: user and _reread(User, "deleted_at")(w, user, user)),
    ("POST", "storefront.account_organization"): Case(
        ("login", 403, 403, "done", "done", "done"), note="uploads the caller's own organisation's licence",
        body=_files("licence", PDF, "licence.pdf"),
        probe=lambda w, obj, user: user and user.organization_id and _reread(
            Organization, "business_licence")(w, user.organization, user)),
    ("POST", "storefront.account_credit_appeal"): Case(
        ("login", 404, 404, "done", 404, "refused"), note="a record about the seller: only they appeal",
        setup=lambda w: w.credit_record(), args=lambda r: {"record_id": r.id},
        body=_form(lambda w, r, user: {f"r{r.id}-note": "该交易延误是因为国家知识产权局补正通知"}),
        probe=lambda w, r, user: _reread(type(r), "appeal_status")(w, r, user)),
    ("POST", "storefront.notification_read"): Case(
        ("login", "done", 404, 404, 404, 404), setup=lambda w: w.notification(),
        args=lambda n: {"notification_id": n.id}, probe=_reread(Notification, "read_at")),
    ("POST", "storefront.notifications_read_all"): Case(
        ("login", "done", "harmless", "harmless", "harmless", "harmless"),
        note="marks only the caller's own: the buyer's notification stays unread for everyone else",
        setup=lambda w: w.notification(), probe=_reread(Notification, "read_at")),

    # --- HTML: listings ---------------------------------------------------------------------------------
    ("POST", "listings.new"): Case(("login", 403, 403, 422, 422, 403), note="an empty wizard: errors, no listing",
                                   probe=lambda w, obj, user: _count(Listing)),
    ("POST", "listings.edit"): Case(
        ("login", 404, 404, 422, 404, 403), note="an empty wizard: errors, nothing saved",
        setup=lambda w: w.listing(status="draft"), args=lambda x: {"listing_id": x.id},
        probe=_reread(Listing, "title")),
    ("POST", "listings.import_csv"): Case(("login", 403, 403, 422, 422, 403), note="no file: an error",
                                          probe=lambda w, obj, user: _count(Listing)),
    ("POST", "listings.submit"): Case(
        ("login", 404, 404, "done", 404, "refused"), setup=lambda w: w.listing(status="draft"),
        args=lambda x: {"listing_id": x.id}, probe=_reread(Listing, "status")),
    ("POST", "listings.withdraw"): Case(
        ("login", "refused", "refused", "done", "refused", "refused"), setup=lambda w: w.listing(),
        args=lambda x: {"listing_id": x.id}, probe=_reread(Listing, "status")),
    ("POST", "listings.reopen"): Case(
        ("login", 404, 404, "done", 404, "refused"), setup=lambda w: w.listing(status="withdrawn"),
        args=lambda x: {"listing_id": x.id}, probe=_reread(Listing, "status")),
    ("POST", "listings.relist"): Case(
        ("login", 404, 404, "done", 404, "refused"), setup=lambda w: w.listing(status="expired"),
        args=lambda x: {"listing_id": x.id}, probe=lambda w, obj, user: _count(Listing)),
    ("POST", "listings.bundle"): Case(
        ("login", 404, 404, "done", 404, "refused"), setup=_draft_trademarks, args=lambda x: {"listing_id": x.id},
        body=_form(lambda w, x, user: {"bundle": str(x.other.rights[0].id)}),
        probe=lambda w, x, user: _reread(Listing, "status")(w, x.other, user)),
    ("POST", "listings.requested_document"): Case(
        ("login", 404, 404, "done", 404, 403), setup=_asked_for_document, args=lambda x: {"listing_id": x.id},
        body=_files("document", PDF, "receipt.pdf"), probe=_reread(Listing, "supporting_doc")),
    ("POST", "listings.review"): Case(
        OPERATORS_ONLY_PAGE, setup=lambda w: w.listing(status="pending_review"), args=lambda x: {"listing_id": x.id},
        body=_form({"decision": "approve"}), probe=_reread(Listing, "status")),
    ("POST", "grading.assess_form"): Case(
        OPERATORS_ONLY_PAGE, setup=lambda w: w.listing(), args=lambda x: {"listing_id": x.id},
        body=_form(lambda w, x, user: {**{f"score-{k}": str(v) for k, v in _grade_scores(w, x).items()},
                                       "rationale": "权利稳定，技术先进，市场需求明确，评级合理。"}),
        probe=_reread(Listing, "grade")),

    # --- HTML: operator console ---------------------------------------------------------------------------
    ("POST", "operator.verify_organization"): Case(
        OPERATORS_ONLY_PAGE, setup=lambda w: w.seller.organization, args=lambda org: {"org_id": org.id},
        body=_form({"decision": "unverify", "note": "营业执照已过期，请重新上传"}), probe=_reread(Organization, "verified")),
    ("POST", "operator.record_credit"): Case(
        OPERATORS_ONLY_PAGE, body=_form(lambda w, obj, user: {
            "subject_type": "user", "subject_id": str(w.seller.id), "violation": "non_performance",
            "level": "warned", "description": "未按约定时间办理著录项目变更手续"}),
        probe=lambda w, obj, user: _reread(User, "credit_level")(w, w.seller, user)),
    ("POST", "operator.decide_appeal"): Case(
        OPERATORS_ONLY_PAGE, setup=_appealed_record, args=lambda r: {"record_id": r.id},
        body=_form({"decision": "upheld", "reply": "经核实，延误确由卖方造成"}),
        probe=lambda w, r, user: _reread(type(r), "appeal_status")(w, r, user)),

    # --- HTML: the register (operators correct; sellers of another organisation claim) -----------------
    ("POST", "register_ops.correct"): Case(
        OPERATORS_ONLY_PAGE, setup=_right_of, args=_right_args,
        body=_form({"correct-legal_status": "lapsed", "correct-reason": "国家知识产权局公告"}),
        probe=_reread_right("legal_status")),
    ("POST", "register_ops.holders"): Case(
        OPERATORS_ONLY_PAGE, setup=_right_of, args=_right_args,
        body=_form({"holders-0-type": "outside", "holders-0-name": "某大学", "holders-reason": "著录项目变更"}),
        probe=_holders_of),
    ("POST", "register_ops.add_encumbrance"): Case(
        OPERATORS_ONLY_PAGE, setup=_right_of, args=_right_args,
        body=_form({"encumbrance-kind": "pledge", "encumbrance-party_name": "招商银行",
                    "encumbrance-reason": "质押登记通知书"}),
        probe=lambda w, r, user: _reread_right("pledged")(w, r, user)),
    ("POST", "register_ops.end_encumbrance"): Case(
        OPERATORS_ONLY_PAGE, setup=_pledged_right, args=lambda r: {**_right_args(r), "encumbrance_id": r.pledge.id},
        body=_form({"end-reason": "质押注销登记"}), probe=lambda w, r, user: _reread_right("pledged")(w, r, user)),
    ("POST", "register_ops.file_claim"): Case(
        ("login", 403, 403, "refused", "done", 403), note="the holder's own seller is refused with a message",
        setup=_right_of, args=_right_args, body=_files("claim-evidence", PDF, "proof.pdf"), probe=_claims_on),
    ("POST", "register_ops.decide"): Case(
        OPERATORS_ONLY_PAGE, setup=_claim, args=lambda c: {"claim_id": c.id},
        body=lambda w, c, user: {"data": {f"decide-{c.id}-decision": "dismiss", f"decide-{c.id}-reason": "证据不足"}},
        probe=_reread(RightClaimModel, "status")),

    # --- HTML: deal pages (forms are prefixed with the action's name) -----------------------------------
    ("POST", "escrow.deal_pay"): Case(
        ("login", 200, 404, 403, 404, 403), note="offline: the bank transfer instructions page",
        setup=lambda w: w.deal(), args=lambda d: {"deal_id": d.id}, probe=_deal_events),
    ("POST", "escrow.deal_confirm_payment"): Case(
        ("login", 403, 404, 403, 404, "done"), setup=lambda w: w.deal(), args=lambda d: {"deal_id": d.id},
        body=_form(lambda w, d, user: {"confirm_payment-reference": d.payment_reference,
                                       "confirm_payment-amount": f"{d.price // 100}.{d.price % 100:02d}"}),
        probe=_deal_events),
    ("POST", "escrow.deal_transfer_filed"): Case(
        ("login", 403, 404, "done", 404, 403), setup=lambda w: w.deal("funded"), args=lambda d: {"deal_id": d.id},
        body=_files("file_transfer-document", PDF, "receipt.pdf"), probe=_deal_events),
    ("POST", "escrow.deal_transfer_recorded"): Case(
        ("login", 403, 404, "done", 404, 403), setup=lambda w: w.deal("transfer_filed"),
        args=lambda d: {"deal_id": d.id},
        body=_recordal_upload("record_transfer-document", "record_transfer-"),
        probe=_deal_events),
    ("POST", "escrow.deal_accept"): Case(
        ("login", "done", 404, 403, 404, 403), setup=lambda w: w.deal("transfer_recorded"),
        args=lambda d: {"deal_id": d.id}, probe=_deal_events),
    ("POST", "escrow.deal_dispute"): Case(
        ("login", "done", 404, "done", 404, 403), setup=lambda w: w.deal("funded"), args=lambda d: {"deal_id": d.id},
        body=_form({"dispute-reason": "卖方迟迟不提交变更申请"}), probe=_deal_events),
    ("POST", "escrow.deal_resolve"): Case(
        ("login", 403, 404, 403, 404, "done"), setup=lambda w: w.deal("disputed"), args=lambda d: {"deal_id": d.id},
        body=_form({"resolve-outcome": "refund"}), probe=_deal_events),
    ("POST", "escrow.deal_cancel"): Case(
        ("login", "done", 404, 403, 404, "done"), setup=lambda w: w.deal(), args=lambda d: {"deal_id": d.id},
        probe=_deal_events),
    ("POST", "escrow.deal_payout_paid"): Case(
        ("login", 403, 404, 403, 404, "done"), setup=lambda w: w.deal("released"), args=lambda d: {"deal_id": d.id},
        body=_form({"payout_paid-reference": "BOC20260101001"}), probe=_deal_events),

    # --- HTML: payout accounts and the refund queue (issue 15) ------------------------------------------
    ("POST", "payouts.payout_account"): Case(
        ("login", 403, 403, "done", "done", 403), note="each seller records its own organisation's account",
        body=lambda w, obj, user: {"data": _bank_account(user)}, probe=lambda w, obj, user: _count(PayoutAccount)),
    ("POST", "payouts.payout_account_micro"): Case(
        ("login", 403, 403, "done", 409, 403), note="the other seller has no account waiting for the check",
        setup=lambda w: w.pending_account(micro=42), body=_form({"micro-amount": "0.42"}),
        probe=_reread(PayoutAccount, "status")),
    ("POST", "payouts.payout_account_verify"): Case(
        OPERATORS_ONLY_PAGE, setup=lambda w: w.pending_account(), args=lambda a: {"account_id": a.id},
        probe=_reread(PayoutAccount, "status")),
    ("POST", "payouts.payout_account_reject"): Case(
        OPERATORS_ONLY_PAGE, setup=lambda w: w.pending_account(), args=lambda a: {"account_id": a.id},
        body=_form({"reject-note": "户名与开户许可证不符"}), probe=_reread(PayoutAccount, "status")),
    ("POST", "payouts.payout_account_send_micro"): Case(
        OPERATORS_ONLY_PAGE, setup=lambda w: w.pending_account(), args=lambda a: {"account_id": a.id},
        body=_form({"micro-amount": "0.42"}), probe=_reread(PayoutAccount, "micro_amount")),
    ("POST", "payouts.refund_account"): Case(
        ("login", "done", 404, 403, 404, 403), setup=lambda w: w.refund(), args=lambda r: {"deal_id": r.deal_id},
        body=lambda w, r, user: {"data": _bank_account(user)}, probe=_reread(RefundInstruction, "status")),
    ("POST", "payouts.refund_paid"): Case(
        OPERATORS_ONLY_PAGE, setup=lambda w: w.refund(account=True), args=lambda r: {"deal_id": r.deal_id},
        body=lambda w, r, user: {"data": {"refund-reference": f"BOCR{next(_seq):08d}"}},
        probe=_reread(RefundInstruction, "status")),

    # --- HTML: trading (a refusal is a message on the listing page) -------------------------------------
    ("POST", "trading.buy"): Case(
        ("login", "done", "done", "refused", "refused", "refused"), setup=lambda w: w.listing(),
        args=lambda x: {"listing_id": x.id}, body=_form({"deal_type": "assignment"}),
        probe=_reread(Listing, "status")),
    ("POST", "trading.bid"): Case(
        ("login", "done", "done", "refused", "refused", "refused"), setup=lambda w: w.auction(),
        args=lambda x: {"listing_id": x.id}, body=_form({"amount": "100000.00"}),
        probe=lambda w, x, user: _count(Bid, Bid.auction_id == x.auction.id)),
    ("POST", "trading.offer"): Case(
        ("login", "done", "done", "refused", "refused", "refused"),
        setup=lambda w: w.listing(price_mode="negotiable", price=None), args=lambda x: {"listing_id": x.id},
        body=_form({"amount": "50000", "deal_type": "assignment"}),
        probe=lambda w, x, user: _count(Offer, Offer.listing_id == x.id)),
    ("POST", "trading.accept"): Case(
        ("login", "refused", 404, "done", 404, "refused"), setup=lambda w: w.offer(),
        args=lambda o: {"offer_id": o.id}, probe=_reread(Offer, "status")),
    ("POST", "trading.decline"): Case(
        ("login", "refused", 404, "done", 404, "refused"), setup=lambda w: w.offer(),
        args=lambda o: {"offer_id": o.id}, probe=_reread(Offer, "status")),
    ("POST", "trading.counter"): Case(
        ("login", "refused", 404, "done", 404, "refused"), setup=lambda w: w.offer(),
        args=lambda o: {"offer_id": o.id}, body=_form({"amount": "80000"}), probe=_reread(Offer, "status")),

    # --- HTML: auction deposits ------------------------------------------------------------------------------
    ("POST", "deposits.start"): Case(
        ("login", "done", "done", "refused", "refused", "refused"), setup=_deposit_auction,
        args=lambda x: {"listing_id": x.id}, probe=_deposits_on),
    ("POST", "deposits.pay_card"): Case(
        ("login", 200, 404, 404, 404, 403), note="the bidder pays; operators may look, not pay",
        setup=lambda w: _deposit(w, gateway="fake_stripe"), args=lambda d: {"deposit_id": d.id},
        probe=lambda w, d, user: _count(StripePaymentIntent, StripePaymentIntent.deposit_id == d.id)),
    ("POST", "deposits.confirm"): Case(
        OPERATORS_ONLY_PAGE, setup=_deposit, args=lambda d: {"deposit_id": d.id},
        body=lambda w, d, user: {"data": {"reference": d.payment_reference, "amount": "1000"}}, probe=_deposit_state),
    ("POST", "deposits.record_return"): Case(
        OPERATORS_ONLY_PAGE, setup=lambda w: _deposit(w, status="returning"), args=lambda d: {"deposit_id": d.id},
        body=_form({"reference": "BOC20261204099"}), probe=_deposit_state),
    ("POST", "deposits.record_payout"): Case(
        OPERATORS_ONLY_PAGE, setup=lambda w: _deposit(w, status="forfeited"), args=lambda d: {"deposit_id": d.id},
        body=_form({"reference": "ICBC20261211099"}), probe=_deposit_state),

    # --- HTML: payments and search -------------------------------------------------------------------------
    ("POST", "payments.start_card_payment"): Case(
        ("login", 200, 404, 403, 404, 403), setup=_card_deal, args=lambda d: {"deal_id": d.id},
        probe=_deal_events),
    # --- open licences and royalties (issue 16) ------------------------------------------------------------
    ("GET", "licensing_api.api_catalogue"): Case(API_ALL, note="public catalogue"),
    ("GET", "licensing_api.api_stats"): Case(API_ALL, note="public statistics, small sums withheld"),
    ("POST", "licensing_api.api_declare"): Case(
        (401, 403, 403, 201, 403, 403), note="the holder's side (seller role) only", setup=_open_listing,
        args=lambda x: {"listing_id": x.id}, body=_json(_OPEN_TERMS), probe=_declarations_on),
    ("POST", "licensing_api.api_withdraw"): Case(
        (401, 403, 403, 200, 403, 403), note="the holder's side only", setup=_declaration,
        args=lambda d: {"open_licence_id": d.id}, probe=lambda w, d, user: _reread_status(d)),
    ("POST", "licensing_api.api_take"): Case(
        (401, 201, 201, 403, 403, 403), note="verified organisations with the buyer role; never the holder's side",
        setup=_declaration, args=lambda d: {"open_licence_id": d.id}, probe=_deals_on_declared),
    ("GET", "licensing_api.api_licences"): Case(SIGNED_IN, note="one's own licences"),
    ("GET", "licensing_api.api_licence"): Case(
        DEAL_PARTIES, setup=_licence, args=lambda x: {"licence_id": x.id}),
    ("PUT", "licensing_api.api_royalty_terms"): Case(
        (401, 403, 404, 200, 404, 403), note="the licensor, before signing", setup=_licence_deal,
        args=lambda d: {"deal_id": d.id}, body=_json({"royalty_bps": 300, "period": "year"}), probe=_royalty_bps),
    ("POST", "licensing_api.api_report"): Case(
        (401, 200, 404, 403, 404, 403), note="the licensee only", setup=_period(),
        args=lambda p: p.licence_args, body=_json({"net_sales": 1_000_000_00}), probe=_period_status),
    ("GET", "licensing_api.api_payment"): Case(
        DEAL_PARTIES, setup=_period("awaiting_payment"), args=lambda p: p.licence_args),
    ("POST", "licensing_api.api_release"): Case(
        (401, 403, 404, 200, 404, 403), note="the licensor only", setup=_period("held"),
        args=lambda p: p.licence_args, probe=_period_status),
    ("POST", "licensing_api.api_confirm"): Case(
        OPERATORS_ONLY_API, setup=_period("awaiting_payment"), args=lambda p: {"period_id": p.id},
        body=lambda w, p, user: {"json": {"reference": p.payment_reference, "amount": p.amount}},
        probe=_period_status),
    ("POST", "licensing_api.api_payout"): Case(
        OPERATORS_ONLY_API, setup=_period("released"), args=lambda p: {"period_id": p.id},
        body=lambda w, p, user: {"json": {"reference": f"BOC{next(_refs):010d}"}}, probe=_period_status),
    ("POST", "licensing.declare"): Case(
        ("login", 404, 404, "done", 404, 404), setup=_open_listing, args=lambda x: {"listing_id": x.id},
        body=_form({"royalty_kind": "percent", "royalty_percent": "5", "yearly_minimum": "1000",
                    "period": "quarter", "term_years": "3"}), probe=_declarations_on),
    ("POST", "licensing.withdraw"): Case(
        ("login", "refused", "refused", "done", "refused", "refused"), setup=_declaration,
        args=lambda d: {"open_licence_id": d.id}, probe=lambda w, d, user: _reread_status(d)),
    ("POST", "licensing.take"): Case(
        ("login", "done", "done", "refused", "refused", "refused"), setup=_declaration,
        args=lambda d: {"open_licence_id": d.id}, probe=_deals_on_declared),
    ("POST", "licensing.report"): Case(
        ("login", "done", 404, 403, 404, 403), setup=_period(), args=lambda p: p.licence_args,
        body=_form({"net_sales": "1000000"}), probe=_period_status),
    ("POST", "licensing.release"): Case(
        ("login", "refused", 404, "done", 404, "refused"), setup=_period("held"), args=lambda p: p.licence_args,
        probe=_period_status),
    ("POST", "licensing.royalty_terms"): Case(
        ("login", "refused", 404, "done", 404, "refused"), setup=_licence_deal, args=lambda d: {"deal_id": d.id},
        body=_form({"royalty_percent": "3", "period": "year"}), probe=_royalty_bps),
    ("POST", "licensing.operator_confirm"): Case(
        OPERATORS_ONLY_PAGE, setup=_period("awaiting_payment"), args=lambda p: {"period_id": p.id},
        body=lambda w, p, user: {"data": {"reference": p.payment_reference, "amount": f"{p.amount / 100:.2f}"}},
        probe=_period_status),
    ("POST", "licensing.operator_payout"): Case(
        OPERATORS_ONLY_PAGE, setup=_period("released"), args=lambda p: {"period_id": p.id},
        body=lambda w, p, user: {"data": {"reference": f"BOC{next(_refs):010d}"}}, probe=_period_status),
    ("POST", "search.save_search"): Case(
        ("login", "done", "done", "done", "done", "done"), body=_form({"q": "锂电池", "kind": "patent"}),
        probe=lambda w, obj, user: _count(SavedSearch)),
    ("POST", "search.delete_saved_search"): Case(
        ("login", "done", "refused", "refused", "refused", "refused"), setup=lambda w: w.saved_search().id,
        args=lambda s: {"saved_id": s}, probe=lambda w, s, user: _count(SavedSearch, SavedSearch.id == s)),
    # --- the demand side (issue 22): wanted ads, matches, answers ----------------------------------------
    ("GET", "demand_api.browse"): Case(API_ALL),
    ("POST", "demand_api.create"): Case(
        (401, 201, 201, 403, 403, 403), note="buyers post", body=_json(_ad_body), probe=_demand_count("WantedAd")),
    ("GET", "demand_api.show"): Case(
        (404, 200, 404, 404, 404, 200), note="under review: only its buyer and operators see it",
        setup=lambda w: _ad(w, "pending_review"), args=lambda a: {"wanted_id": a.id}),
    ("POST", "demand_api.close"): Case(
        (401, 200, 403, 403, 403, 403), setup=_ad, args=lambda a: {"wanted_id": a.id},
        probe=_demand_reread("WantedAd", "status")),
    ("POST", "demand_api.review"): Case(
        OPERATORS_ONLY_API, setup=lambda w: _ad(w, "pending_review"), args=lambda a: {"wanted_id": a.id},
        body=_json({"decision": "approve"}), probe=_demand_reread("WantedAd", "status")),
    ("GET", "demand_api.ad_matches"): Case((401, 200, 403, 403, 403, 200), setup=_ad,
                                           args=lambda a: {"wanted_id": a.id}),
    ("GET", "demand_api.seller_matches"): Case((401, 403, 403, 200, 200, 403)),
    ("POST", "demand_api.answer"): Case(
        (401, 403, 403, 201, 404, 403), note="the seller answers with its own listing; another's is not found",
        setup=_ad, args=lambda a: {"wanted_id": a.id},
        body=lambda w, a, user: {"json": {"listing_id": a.listing.id, "message": "我方专利符合需求"}}, probe=_answers_on),
    ("GET", "demand_api.ad_answers"): Case(SIGNED_IN, note="each sees the threads it may read",
                                           setup=lambda w: _answer(w).wanted, args=lambda a: {"wanted_id": a.id}),
    ("GET", "demand_api.thread"): Case((401, 200, 404, 200, 404, 200), setup=_answer,
                                       args=lambda r: {"answer_id": r.id}),
    ("POST", "demand_api.message"): Case(
        (401, 201, 404, 201, 404, 403), note="operators read, only the two parties write", setup=_answer,
        args=lambda r: {"answer_id": r.id}, body=_json({"message": "请提供检测报告"}), probe=_messages_in),
    ("POST", "demand.new"): Case(
        ("login", "done", "done", 403, 403, 403),
        body=_form(lambda w, obj, user: {**_ad_body(), "keywords": "锂电池", "deal_types": "assignment",
                                         "negotiable": "1"}),
        probe=_demand_count("WantedAd")),
    ("POST", "demand.close"): Case(
        ("login", "done", "refused", "refused", "refused", "refused"), setup=_ad, args=lambda a: {"wanted_id": a.id},
        probe=_demand_reread("WantedAd", "status")),
    ("POST", "demand.review"): Case(
        OPERATORS_ONLY_PAGE, setup=lambda w: _ad(w, "pending_review"), args=lambda a: {"wanted_id": a.id},
        body=_form({"decision": "approve"}), probe=_demand_reread("WantedAd", "status")),
    ("POST", "demand.answer"): Case(
        ("login", "refused", "refused", "done", "refused", "refused"), setup=_ad, args=lambda a: {"wanted_id": a.id},
        body=lambda w, a, user: {"data": {"listing_id": str(a.listing.id), "message": "我方专利符合需求"}},
        probe=_answers_on),
    ("POST", "demand.message"): Case(
        ("login", "done", 404, "done", 404, "refused"), setup=_answer, args=lambda r: {"answer_id": r.id},
        body=_form({"message": "请提供检测报告"}), probe=_messages_in),

    # --- messages (issue 17): the two parties write; operators read a thread a dispute names, never write -----
    ("GET", "messaging_api.threads"): Case(SIGNED_IN, note="each lists its own threads"),
    ("GET", "messaging_api.thread"): Case((401, 200, 404, 200, 404, 404), setup=_listing_thread,
                                          args=lambda t: {"thread_id": t.id}),
    ("POST", "messaging_api.reply"): Case(
        (401, 201, 404, 201, 404, 404), setup=_listing_thread, args=lambda t: {"thread_id": t.id},
        body=_json({"message": "已缴至 2027 年"}), probe=_thread_messages),
    ("POST", "messaging_api.disclose"): Case(
        (401, 200, 404, 200, 404, 404), note="a party names the listing thread in the deal's dispute",
        setup=lambda w: _listing_thread(w, disputed=True), args=lambda t: {"thread_id": t.id}, probe=_disclosed),
    ("POST", "messaging_api.write_listing"): Case(
        (401, 201, 201, 403, 403, 403), note="buyers ask; not the seller side, not sellers-only accounts, not operators",
        setup=lambda w: w.listing(), args=lambda x: {"listing_id": x.id}, body=_json({"message": "可以开发票吗"}),
        probe=_threads_on_listing),
    ("POST", "messaging_api.write_deal"): Case(
        (401, 201, 404, 201, 404, 403), setup=lambda w: w.deal(), args=lambda d: {"deal_id": d.id},
        body=_json({"message": "合同已签"}), probe=_deal_thread_messages),
    ("POST", "messaging.reply"): Case(
        ("login", "done", 404, "done", 404, 404), setup=_listing_thread, args=lambda t: {"thread_id": t.id},
        body=_form({"message": "已缴至 2027 年"}), probe=_thread_messages),
    ("POST", "messaging.disclose"): Case(
        ("login", "done", 404, "done", 404, 404), setup=lambda w: _listing_thread(w, disputed=True),
        args=lambda t: {"thread_id": t.id}, probe=_disclosed),
    ("POST", "messaging.write_listing"): Case(
        ("login", "done", "done", "refused", "refused", "refused"), setup=lambda w: w.listing(),
        args=lambda x: {"listing_id": x.id}, body=_form({"message": "可以开发票吗"}), probe=_threads_on_listing),
    ("POST", "messaging.write_deal"): Case(
        ("login", "done", 404, "done", 404, "refused"), setup=lambda w: w.deal(), args=lambda d: {"deal_id": d.id},
        body=_form({"message": "合同已签"}), probe=_deal_thread_messages),

    # --- the data room (issue 22) -----------------------------------------------------------------------
    ("GET", "demand_api.room"): Case(SIGNED_IN, note="the NDA for everyone signed in; files only to the side and "
                                     "granted buyers", setup=_room, args=lambda x: {"listing_id": x.id}),
    ("PUT", "demand_api.nda"): Case(
        (401, 403, 403, 200, 404, 403), setup=_room, args=lambda x: {"listing_id": x.id},
        body=_json({"nda_text": NDA}), probe=_nda_of),
    ("POST", "demand_api.upload"): Case(
        (401, 403, 403, 201, 404, 403), setup=_room, args=lambda x: {"listing_id": x.id},
        body=lambda w, x, user: _files("document", _pdf(), "report.pdf", category="test_report")(w, x, user),
        probe=_room_files),
    ("DELETE", "demand_api.remove"): Case(
        (401, 403, 403, 200, 404, 403), setup=_room, args=lambda x: {"file_id": x.file.id}, probe=_file_removed),
    ("GET", "demand_api.download"): Case(
        (401, 200, 403, 200, 403, 403), note="the granted buyer and the seller's side; refusals are logged",
        setup=lambda w: _room_access(w, granted=True), args=lambda a: {"file_id": a.file.id}),
    ("POST", "demand_api.request_access"): Case(
        (401, 201, 201, 403, 403, 403), note="buyers sign the NDA with their password", setup=_room,
        args=lambda x: {"listing_id": x.id}, body=_json({"password": PASSWORD}), probe=_accesses_on),
    ("GET", "demand_api.accesses"): Case((401, 404, 404, 200, 404, 200), setup=_room,
                                         args=lambda x: {"listing_id": x.id}),
    ("POST", "demand_api.grant"): Case(
        (401, 404, 404, 200, 404, 403), note="an operator only when the seller allows it (not here)",
        setup=_room_access, args=lambda a: {"access_id": a.id}, probe=_demand_reread("DataRoomAccess", "status")),
    ("POST", "demand_api.revoke"): Case(
        (401, 404, 404, 200, 404, 200), setup=lambda w: _room_access(w, granted=True),
        args=lambda a: {"access_id": a.id}, probe=_demand_reread("DataRoomAccess", "status")),
    ("GET", "demand_api.room_log"): Case((401, 404, 404, 200, 404, 200), setup=_room,
                                         args=lambda x: {"listing_id": x.id}),
    ("POST", "demand.nda"): Case(
        ("login", 404, 404, "done", 404, 404), setup=_room, args=lambda x: {"listing_id": x.id},
        body=_form({"nda_text": NDA}), probe=_nda_of),
    ("POST", "demand.upload"): Case(
        ("login", 404, 404, "done", 404, 404), setup=_room, args=lambda x: {"listing_id": x.id},
        body=lambda w, x, user: _files("document", _pdf(), "report.pdf", category="test_report")(w, x, user),
        probe=_room_files),
    ("POST", "demand.remove"): Case(
        ("login", 404, 404, "done", 404, 404), setup=_room, args=lambda x: {"file_id": x.file.id},
        probe=_file_removed),
    ("POST", "demand.request_access"): Case(
        ("login", "done", "done", "refused", "refused", "refused"), setup=_room, args=lambda x: {"listing_id": x.id},
        body=_form({"password": PASSWORD}), probe=_accesses_on),
    ("POST", "demand.access_action"): Case(
        ("login", 404, 404, "done", 404, "refused"), note="grant (revoke takes the same checks)", setup=_room_access,
        args=lambda a: {"access_id": a.id, "action": "grant"}, probe=_demand_reread("DataRoomAccess", "status")),

    # --- the finance desk (issue 23) ---------------------------------------------------------------------------
    ("GET", "finance_api.list_valuations"): Case(SIGNED_IN),
    ("GET", "finance_api.get_valuation"): Case((401, 404, 404, 200, 404, 200), setup=_valuation,
                                               args=lambda v: {"valuation_id": v.id}),
    ("GET", "finance_api.valuation_pdf"): Case((401, 404, 404, 200, 404, 200), setup=_valuation,
                                               args=lambda v: {"valuation_id": v.id}),
    ("GET", "finance_api.valuation_queue"): Case(OPERATORS_ONLY_API),
    ("POST", "finance_api.create_valuation"): Case(
        (401, 422, 422, 201, 422, 403), note="only the right's holder values it; operators hold no rights",
        setup=lambda w: _right_of(w), body=lambda w, right, user: {"json": _fin_body(w, right)}, probe=_valuations),
    ("POST", "finance_api.attach_valuation"): Case(
        HOLDER_API, setup=_valuation, args=lambda v: {"valuation_id": v.id},
        body=lambda w, v, user: {"json": {"listing_id": v.listing_for_test.id}},
        probe=lambda w, v, user: _reread_finance("Valuation", v.id, "listing_id")),
    ("POST", "finance_api.request_review"): Case(
        HOLDER_API, setup=_valuation, args=lambda v: {"valuation_id": v.id},
        probe=lambda w, v, user: _reread_finance("Valuation", v.id, "status")),
    ("POST", "finance_api.sign_off"): Case(
        (401, 404, 404, 403, 404, 200), note="an operator (or a registered valuer) of another side, fee paid",
        setup=lambda w: _valuation(w, review=True, paid=True), args=lambda v: {"valuation_id": v.id},
        body=_json({"note": "输入合理"}), probe=lambda w, v, user: _reread_finance("Valuation", v.id, "status")),
    ("GET", "finance_api.banks"): Case(SIGNED_IN),
    ("GET", "finance_api.my_loans"): Case(SIGNED_IN),
    ("GET", "finance_api.bank_queue"): Case(BANKS_ONLY_API),
    ("GET", "finance_api.project_database"): Case(BANKS_ONLY_API),
    ("GET", "finance_api.get_loan"): Case((401, 404, 404, 200, 404, 200), setup=_loan,
                                          args=lambda a: {"application_id": a.id}),
    ("GET", "finance_api.stats"): Case(API_ALL),
    ("POST", "finance_api.apply"): Case(
        (401, 403, 403, 201, 422, 403), note="an SME applies with rights it holds",
        setup=lambda w: _loan(w, "open").bank,
        body=lambda w, bank, user: {"json": {**{k: v for k, v in _fin_body(w).items() if k == "rights"},
                                             "amount": 10_000_00, "term_months": 12, "purpose": "补充流动资金",
                                             "banks": [bank.organization_id]}},
        probe=_loans),
    ("POST", "finance_api.ask"): Case(BANKS_ONLY_API, setup=_loan, args=lambda a: {"application_id": a.id},
                                      body=_json({"body": "请说明"}), probe=_loan_state),
    ("POST", "finance_api.make_offer"): Case(
        BANKS_ONLY_API, setup=_loan, args=lambda a: {"application_id": a.id},
        body=_json({"amount": 100, "rate_bps": 400, "term_months": 12}), probe=_loan_state),
    ("POST", "finance_api.decline"): Case(BANKS_ONLY_API, setup=_loan, args=lambda a: {"application_id": a.id},
                                          body=_json({"reason": "不符合条件"}), probe=_loan_state),
    ("POST", "finance_api.answer"): Case(
        HOLDER_API, setup=lambda w: _loan(w, "asked"), args=lambda a: {"application_id": a.id},
        body=lambda w, a, user: {"json": {"bank_organization_id": a.bank.organization_id, "body": "已补充"}},
        probe=_loan_state),
    ("POST", "finance_api.withdraw"): Case(HOLDER_API, setup=_loan, args=lambda a: {"application_id": a.id},
                                           probe=_loan_state),
    ("POST", "finance_api.upload_statements"): Case(
        HOLDER_API, setup=_loan, args=lambda a: {"application_id": a.id}, body=_files("document", PDF, "report.pdf"),
        probe=lambda w, a, user: _reread_finance("LoanApplication", a.id, "statements")),
    ("GET", "finance_api.get_statements"): Case(
        (401, 404, 404, 200, 404, 200), setup=_loan_with_statements, args=lambda a: {"application_id": a.id}),
    ("POST", "finance_api.accept_offer"): Case(
        HOLDER_API, setup=_offer_of, args=lambda o: {"offer_id": o.id},
        probe=lambda w, o, user: _reread_finance("LoanOffer", o.id, "status")),
    ("POST", "finance_api.record_registration"): Case(
        HOLDER_API, note="the SME or the lending bank", setup=lambda w: _loan(w, "accepted"),
        args=lambda a: {"application_id": a.id},
        body=_json({"number": "Y2026440000123", "date": local(utcnow()).date().isoformat()}), probe=_loan_state),
    ("POST", "finance_api.verify_registration"): Case(
        OPERATORS_ONLY_API, setup=lambda w: _loan(w, "registration_submitted"),
        args=lambda a: {"application_id": a.id}, probe=_loan_state),
    ("POST", "finance_api.mark_repaid"): Case(
        (401, 404, 404, 403, 404, 403), note="the lending bank only", setup=lambda w: _loan(w, "pledged"),
        args=lambda a: {"application_id": a.id}, probe=_loan_state),
    ("POST", "finance_api.record_release"): Case(
        HOLDER_API, setup=lambda w: _loan(w, "release_pending"), args=lambda a: {"application_id": a.id},
        body=_json({"number": "ZX2026440000045", "date": local(utcnow()).date().isoformat()}), probe=_loan_state),
    ("POST", "finance_api.verify_release"): Case(
        OPERATORS_ONLY_API, setup=lambda w: _loan_released_submitted(w), args=lambda a: {"application_id": a.id},
        probe=_loan_state),
    ("POST", "finance_api.create_batch"): Case(
        BANKS_ONLY_API, note="voucher issuers only", probe=_batches,
        body=_json({"programme": "创新券", "face_value": 100, "valid_from": "2026-01-01", "valid_until": "2099-01-01",
                    "services": ["valuation_review"], "regions": ["shenzhen"]})),
    ("GET", "finance_api.list_batches"): Case(BANKS_ONLY_API, note="voucher issuers only"),
    ("GET", "finance_api.voucher_report"): Case(BANKS_ONLY_API, note="voucher issuers only"),
    ("GET", "finance_api.voucher_report_csv"): Case(BANKS_ONLY_API, note="voucher issuers only"),
    ("GET", "finance_api.my_vouchers"): Case((401, 403, 403, 200, 200, 403), note="SMEs (organisations) only"),
    ("GET", "finance_api.my_charges"): Case((401, 403, 403, 200, 200, 403), note="SMEs (organisations) only"),
    ("POST", "finance_api.pay_with_voucher"): Case(
        (401, 403, 403, 200, 404, 403), setup=_charge_and_batch, args=lambda c: {"charge_id": c.id},
        body=lambda w, c, user: {"json": {"batch_id": c.batch.id, "amount": 300_00}}, probe=_charge_paid),
    ("POST", "finance_api.pay_deal_fee_with_voucher"): Case(
        (401, 403, 403, 200, 404, 403), note="the deal's seller (its organisation's voucher)", setup=_deal_and_batch,
        args=lambda d: {"deal_id": d.id}, body=lambda w, d, user: {"json": {"batch_id": d.batch.id, "amount": 100}},
        probe=_fee_held),
    ("POST", "finance_api.charge_transfer"): Case(
        OPERATORS_ONLY_API, setup=_charge_and_batch, args=lambda c: {"charge_id": c.id},
        body=_json({"reference": "BOC20261205", "amount": 2000_00}), probe=_charge_paid),
    ("POST", "finance_api.settle"): Case(
        OPERATORS_ONLY_API, setup=lambda w: _charge_and_batch(w, redeemed=True), probe=_settled,
        body=lambda w, c, user: {"json": {"issuer_organization_id": c.issuer.organization_id,
                                          "reference": f"GDZF{next(_seq):08d}"}}),
    ("POST", "finance_api.grant_role"): Case(
        OPERATORS_ONLY_API, setup=lambda w: _committed(factories.make_user("buyer")),
        body=lambda w, u, user: {"json": {"user_id": u.id, "role": "valuer", "grant": True}},
        probe=lambda w, u, user: _reread_finance("User", u.id, "roles_csv")),
    # HTML
    ("POST", "finance.valuation_new"): Case(
        ("login", 422, 422, "done", 422, 403), setup=lambda w: _right_of(w),
        body=lambda w, r, user: {"data": {"rights": f"{r.kind}:{r.number}", "revenues": "50000\n50000",
                                          "royalty_rate": "8", "discount_rate": "10", "life_years": "2"}},
        probe=_valuations),
    ("POST", "finance.valuation_review"): Case(
        ("login", 404, 404, "done", 404, "refused"), setup=_valuation, args=lambda v: {"valuation_id": v.id},
        probe=lambda w, v, user: _reread_finance("Valuation", v.id, "status")),
    ("POST", "finance.valuation_attach"): Case(
        ("login", 404, 404, "done", 404, "refused"), setup=_valuation, args=lambda v: {"valuation_id": v.id},
        body=lambda w, v, user: {"data": {"listing_id": str(v.listing_for_test.id)}},
        probe=lambda w, v, user: _reread_finance("Valuation", v.id, "listing_id")),
    ("POST", "finance.valuation_sign_off"): Case(
        ("login", 404, 404, "refused", 404, "done"), setup=lambda w: _valuation(w, review=True, paid=True),
        args=lambda v: {"valuation_id": v.id}, body=_form({"note": "输入合理"}),
        probe=lambda w, v, user: _reread_finance("Valuation", v.id, "status")),
    ("POST", "finance.loan_new"): Case(
        ("login", 403, 403, "done", 422, 403), setup=lambda w: _loan(w, "open").bank,
        body=lambda w, bank, user: {"data": {"rights": "patent:" + _right_of(w).number, "amount": "100000",
                                             "term_months": "12", "purpose": "补充流动资金",
                                             "banks": str(bank.organization_id)}},
        probe=_loans),
    ("POST", "finance.loan_action"): Case(
        ("login", 404, 404, "done", 404, "refused"), note="withdraw (tests/finance cover every action)",
        setup=_loan, args=lambda a: {"application_id": a.id, "action": "withdraw"}, probe=_loan_state),
    ("POST", "finance.offer_accept"): Case(
        ("login", 404, 404, "done", 404, "refused"), setup=_offer_of, args=lambda o: {"offer_id": o.id},
        probe=lambda w, o, user: _reread_finance("LoanOffer", o.id, "status")),
    ("POST", "finance.charge_voucher"): Case(
        ("login", "refused", "refused", "done", 404, "refused"), setup=_charge_and_batch,
        args=lambda c: {"charge_id": c.id}, body=lambda w, c, user: {"data": {"batch_id": str(c.batch.id), "amount": "300"}},
        probe=_charge_paid),
    ("POST", "finance.deal_fee_voucher"): Case(
        ("login", "refused", "refused", "done", 404, "refused"), setup=_deal_and_batch,
        args=lambda d: {"deal_id": d.id}, body=lambda w, d, user: {"data": {"batch_id": str(d.batch.id), "amount": "1"}},
        probe=_fee_held),
    ("POST", "finance.operator_charge_transfer"): Case(
        OPERATORS_ONLY_PAGE, setup=_charge_and_batch, args=lambda c: {"charge_id": c.id},
        body=lambda w, c, user: {"data": {"reference": f"BOC{next(_seq):08d}", "amount": "2000"}}, probe=_charge_paid),
    ("POST", "finance.operator_settlement"): Case(
        OPERATORS_ONLY_PAGE, setup=lambda w: _charge_and_batch(w, redeemed=True), probe=_settled,
        body=lambda w, c, user: {"data": {"issuer_organization_id": str(c.issuer.organization_id),
                                          "reference": f"GDZF{next(_seq):08d}"}}),
    ("POST", "finance.operator_role"): Case(
        OPERATORS_ONLY_PAGE, setup=lambda w: _committed(factories.make_user("buyer")),
        body=lambda w, u, user: {"data": {"email": u.email, "role": "valuer", "grant": "1"}},
        probe=lambda w, u, user: _reread_finance("User", u.id, "roles_csv")),
    ("POST", "finance.issuer_batch"): Case(
        ("login", "refused", "refused", "done", "refused", "refused"),
        note="voucher issuers only: here the seller's (verified) organisation also runs a voucher programme",
        setup=_seller_also_issues,
        body=_form({"programme": "创新券", "face_value": "100", "valid_from": "2026-01-01", "valid_until": "2099-01-01",
                    "services": "valuation_review", "regions": "shenzhen"}), probe=_batches),
}

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def routes_to_classify(app):
    """Every (method, endpoint) of the API, and of the HTML pages that change state."""
    found = set()
    for rule in app.url_map.iter_rules():
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if rule.rule.startswith("/api/") or method in STATE_CHANGING:
                found.add((method, rule.endpoint))
    return found


def test_every_route_is_classified(app):
    unclassified = sorted(routes_to_classify(app) - set(MATRIX))
    assert not unclassified, (
        "routes missing from tests/security/test_permission_matrix.py MATRIX (classify who may call them): "
        + ", ".join(f"{m} {e}" for m, e in unclassified))


def test_matrix_names_only_routes_that_exist(app):
    stale = sorted(set(MATRIX) - routes_to_classify(app))
    assert not stale, f"MATRIX lists routes the app no longer has: {stale}"


def _path(app, method, endpoint, values):
    adapter = app.url_map.bind("localhost")
    return adapter.build(endpoint, values, method=method)


def _check(outcome, response, changed, where):
    status = response.status_code
    location = response.headers.get("Location", "")
    if outcome == "login":
        assert status == 302 and "/login" in location, f"{where}: expected a sign-in redirect, got {status} {location}"
        assert not changed, f"{where}: anonymous changed something"
    elif outcome == "done":
        assert status in (302, 303) and "/login" not in location, f"{where}: expected done, got {status} {location}"
        assert changed is not False, f"{where}: redirected as done but nothing changed"
    elif outcome == "refused":
        assert status in (302, 303) and "/login" not in location, f"{where}: expected refused, got {status}"
        assert not changed, f"{where}: refused, yet it changed"
    elif outcome == "harmless":
        assert status in (302, 303) and "/login" not in location, f"{where}: expected a redirect, got {status}"
        assert not changed, f"{where}: changed someone else's data"
    elif outcome == "page":
        assert status == 200, f"{where}: expected the page again, got {status}"
        assert not changed, f"{where}: changed"
    else:
        body = response.get_data()[:300].decode("utf-8", "replace")  # a PDF is bytes
        assert status == outcome, f"{where}: expected {outcome}, got {status}: {body}"
        if 200 <= status < 300:
            assert changed is not False, f"{where}: {status} but nothing changed"
        else:
            assert not changed, f"{where}: refused with {status}, yet it changed"


@pytest.fixture
def app_config():
    """The matrix is about who may do what. Its builders commit hundreds of times a case (each deal walked
    through its states, for each of six visitors); the search index is not drained after each of those
    commits (``SEARCH_SYNC_ON_COMMIT``): the outbox rows wait, the one route here that reads the index
    (``GET /api/v1/search``, open to everyone) is checked for who may call it, not for what it finds, and
    search has its own tests. About a quarter of a case's time went on those drains."""
    return {"SEARCH_SYNC_ON_COMMIT": False}


@pytest.mark.parametrize("method,endpoint", sorted(MATRIX), ids=lambda v: str(v))
def test_permission_matrix(app, method, endpoint):
    case = MATRIX[(method, endpoint)]
    if (method, endpoint) not in routes_to_classify(app):
        pytest.skip(f"{method} {endpoint} is not a route of this app")
    api = app.url_map._rules_by_endpoint[endpoint][0].rule.startswith("/api/")
    world = World()
    for role, outcome in zip(ROLES, case.expect, strict=True):
        user = world.user(role)
        obj = case.setup(world)
        path = _path(app, method, endpoint, case.args(obj))
        before = case.probe(world, obj, user) if case.probe else None
        client, headers = client_for(app, user, api)
        kwargs = case.body(world, obj, user)
        kwargs.setdefault("headers", {}).update(headers)
        response = client.open(path, method=method, **kwargs)
        db.session.rollback()
        changed = None
        if case.probe:
            changed = case.probe(world, obj, user) != before
        _check(outcome, response, changed, f"{method} {path} as {role}")
