"""Issue 15, the deal's paperwork: the contract both parties sign before paying, the recordal an operator
checks, invoices and tax notes. Each rule: the allowed case, and the refused case changing nothing."""
import hashlib
from datetime import timedelta

import pytest

from escrow import contracts, deals, invoices, recordal
from escrow.models import Deal, DealEvent, JournalEntry
from escrow.paper_models import ContractSignature, InvoiceRequest, RecordalDetails
from marketplace.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import local, utcnow
from tests import factories
from tests.escrow.conftest import PNG, drive, upload


def _snapshot(deal_id):
    db.session.expire_all()
    deal = db.session.get(Deal, deal_id)
    count = lambda model: db.session.query(model).filter_by(deal_id=deal_id).count()  # noqa: E731
    return (deal.state, deal.version, deal.payment_due_at, count(DealEvent), count(ContractSignature),
            count(JournalEntry), count(RecordalDetails), count(InvoiceRequest))


# --- the contract ----------------------------------------------------------------------------

def test_the_contract_states_the_deals_terms_and_its_hash_is_of_its_text(app, open_deal, parties):
    deal = open_deal(deal_type="exclusive_license", price=123_456_78, signed=False)
    contract = deal.contract
    text = contract.text
    assert contract.sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert "专利实施许可合同" in text and "独占实施许可" in text and deal.listing.rights[0].number in text
    assert parties.seller.organization.uscc in text and parties.seller.organization.name in text
    assert "¥123,456.78" in text and "壹拾贰万叁仟肆佰伍拾陆元柒角捌分" in text
    assert deal.payment_reference in text and "中华人民共和国法律" in text
    assert f"{app.config['TRANSFER_DAYS']} 日内" in text
    # the same terms give the same text and hash (rendering is deterministic)
    assert contracts.canonical_text(contracts.render_document(deal)) == text


def test_rmb_upper():
    assert contracts.rmb_upper(100_000_000) == "壹佰万元整"
    assert contracts.rmb_upper(1_000_001) == "壹万元零壹分"
    assert contracts.rmb_upper(10_050_00) == "壹万零伍拾元整"
    assert contracts.rmb_upper(30) == "叁角"


def test_both_sign_then_the_payment_deadline_starts(app, open_deal, parties):
    opened = utcnow() - timedelta(days=2)
    deal = open_deal(signed=False, now=opened)
    with pytest.raises(contracts.ContractUnsigned):
        deals.start_payment(deal.id, parties.buyer)
    db.session.rollback()
    contracts.sign(deal.id, parties.seller, factories.PASSWORD, "203.0.113.7")
    db.session.commit()
    with pytest.raises(Conflict):
        deals.confirm_offline_payment(deal.id, deal.payment_reference, deal.price, parties.operator)
    db.session.rollback()
    now = utcnow()
    contracts.sign(deal.id, parties.buyer, factories.PASSWORD, "198.51.100.2", now=now)
    db.session.commit()
    deal = db.session.get(Deal, deal.id)
    assert deal.payment_due_at == now + timedelta(days=app.config["PAYMENT_DAYS"])
    sig = contracts.signature_of(deal, "seller")
    assert sig.ip_address == "203.0.113.7" and sig.sha256 == deal.contract.sha256 and sig.user_id == parties.seller.id
    assert deals.start_payment(deal.id, parties.buyer)["reference"] == deal.payment_reference


@pytest.mark.parametrize("case", ["twice", "wrong_password", "operator", "stranger", "after_cancel", "no_password"])
def test_signing_refusals_change_nothing(app, open_deal, parties, case):
    deal = open_deal(signed=False)
    stranger = factories.make_user("buyer")
    db.session.commit()
    if case == "twice":
        contracts.sign(deal.id, parties.buyer, factories.PASSWORD)
        db.session.commit()
    if case == "after_cancel":
        deals.cancel_deal(deal.id, parties.buyer)
        db.session.commit()
    before = _snapshot(deal.id)
    actor, password, error = {
        "twice": (parties.buyer, factories.PASSWORD, Conflict),
        "wrong_password": (parties.buyer, "not-the-password", ValidationError),
        "operator": (parties.operator, factories.PASSWORD, PermissionDenied),
        "stranger": (stranger, factories.PASSWORD, NotFound),
        "after_cancel": (parties.seller, factories.PASSWORD, Conflict),
        "no_password": (parties.seller, None, ValidationError),
    }[case]
    with pytest.raises(error):
        contracts.sign(deal.id, actor, password)
    db.session.rollback()
    assert _snapshot(deal.id) == before


def test_the_pdf_carries_the_hash_and_both_signatures(app, client, as_user, open_deal, parties):
    deal = open_deal()
    as_user(parties.buyer)
    response = client.get(f"/deals/{deal.id}/contract.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert "attachment" in response.headers["Content-Disposition"]
    page = client.get(f"/deals/{deal.id}/contract").get_data(as_text=True)
    assert deal.contract.sha256 in page and "双方已签署" in page and 'name="password"' not in page


def test_the_deal_page_offers_payment_only_once_both_signed(app, client, as_user, open_deal, parties):
    """Before both signatures the page asks for them and shows no 付款 button beside that (issue 17's page walk)."""
    deal = open_deal(signed=False)
    as_user(parties.buyer)
    page = client.get(f"/deals/{deal.id}").get_data(as_text=True)
    assert "审阅并签署合同" in page and f"/deals/{deal.id}/pay" not in page
    contracts.sign(deal.id, parties.seller, factories.PASSWORD, "203.0.113.7")
    contracts.sign(deal.id, parties.buyer, factories.PASSWORD, "198.51.100.2")
    db.session.commit()
    assert f"/deals/{deal.id}/pay" in client.get(f"/deals/{deal.id}").get_data(as_text=True)


def test_a_wrong_password_on_the_page_shows_the_error(app, client, as_user, open_deal, parties):
    deal = open_deal(signed=False)
    as_user(parties.buyer)
    before = _snapshot(deal.id)
    response = client.post(f"/deals/{deal.id}/contract/sign", data={"password": "wrong"})
    assert response.status_code == 422 and "请输入您的登录密码" in response.get_data(as_text=True)
    assert _snapshot(deal.id) == before


def test_a_gateway_payment_before_both_signed_is_flagged_not_booked(app, open_deal, parties):
    """Found by the escrow state machine: a bank API reporting a payment on an unsigned deal funded it."""
    deal = open_deal(signed=False)
    with pytest.raises(deals.PaymentMismatch):
        deals.record_gateway_payment(deal.id, deal.price, "CNY", "offline", "BANKAPI1")
    db.session.commit()
    deal = db.session.get(Deal, deal.id)
    assert deal.state == "awaiting_payment" and deal.flagged and "合同" in deal.flagged
    assert db.session.query(JournalEntry).filter_by(deal_id=deal.id).count() == 0


def test_a_lapse_the_seller_caused_by_not_signing_is_no_strike_against_the_buyer(app, open_deal, parties):
    from escrow import strikes
    from marketplace.kernel.credit_models import CreditRecord  # noqa: F401  (the strike table exists)

    deal = open_deal(signed=False)
    contracts.sign(deal.id, parties.buyer, factories.PASSWORD)
    db.session.commit()
    counted = []
    original = strikes.count_unpaid
    strikes.count_unpaid = lambda *a, **k: counted.append(a)
    try:
        deals.expire_unpaid(deal.id, now=deal.payment_due_at + timedelta(minutes=1))
        db.session.commit()
    finally:
        strikes.count_unpaid = original
    assert counted == [] and db.session.get(Deal, deal.id).state == "cancelled"
    assert db.session.query(DealEvent).filter_by(deal_id=deal.id, action="expire_payment").one().note == "合同签署期限届满"


# --- recordal ------------------------------------------------------------------------------------

def _today():
    return local(utcnow()).date().isoformat()


@pytest.mark.parametrize("kind,details,field", [
    ("patent", {"notice_number": "12AB", "notice_date": None}, "notice_number"),
    ("patent", {"notice_number": "2026120400012345", "notice_date": "2026-13-01"}, "notice_date"),
    ("patent", {"notice_number": "2026120400012345", "notice_date": "2099-01-01"}, "notice_date"),
    ("patent", {"notice_number": "2026120400012345"}, "notice_date"),
    ("patent", {"notice_number": "9" * 30, "notice_date": None}, "notice_number"),
    ("trademark", {"gazette_issue": "第12345期", "gazette_page": "5"}, "gazette_issue"),
    ("trademark", {"gazette_issue": "1890", "gazette_page": "0"}, "gazette_page"),
    ("trademark", {"gazette_issue": "1890"}, "gazette_page"),
    ("trademark", {"gazette_issue": ["1890"], "gazette_page": "3"}, "gazette_issue"),
])
def test_recordal_details_in_the_wrong_format_are_refused(app, open_deal, parties, kind, details, field):
    deal = drive(open_deal(kind=kind).id, "transfer_filed", parties)
    if kind == "trademark":
        recordal.confirm_filing(deal.id, parties.buyer)
        db.session.commit()
    details = {k: (_today() if v is None else v) for k, v in details.items()}
    before = _snapshot(deal.id)
    with pytest.raises(ValidationError) as exc:
        deals.record_transfer(deal.id, parties.seller, upload(PNG, "n.png"), details=details)
    db.session.rollback()
    assert field in exc.value.fields
    assert _snapshot(deal.id) == before


def test_the_inspection_clock_starts_at_verification_not_at_upload(app, open_deal, parties):
    deal = drive(open_deal().id, "transfer_filed", parties)
    deals.record_transfer(deal.id, parties.seller, upload(PNG, "n.png"),
                          details={"notice_number": "2026 1204 0001 2345", "notice_date": _today()})
    db.session.commit()
    deal = db.session.get(Deal, deal.id)
    assert deal.state == "recordal_submitted" and deal.inspection_ends_at is None and deal.recorded_at is None
    assert recordal.latest(deal).notice_number == "2026120400012345"
    with pytest.raises(PermissionDenied):  # a seller never verifies its own recordal
        recordal.verify(deal.id, parties.seller)
    db.session.rollback()
    later = utcnow() + timedelta(days=3)
    recordal.verify(deal.id, parties.operator, now=later)
    db.session.commit()
    deal = db.session.get(Deal, deal.id)
    assert deal.state == "transfer_recorded" and deal.recorded_at == later
    assert deal.inspection_ends_at == later + timedelta(days=app.config["INSPECTION_DAYS"])
    assert deal.listing.rights[0].holders[0].organization_id == parties.buyer.organization_id or \
        deal.listing.rights[0].holders[0].user_id == parties.buyer.id  # the register followed


def test_a_rejected_recordal_goes_back_to_the_seller_with_the_reason(app, open_deal, parties):
    deal = drive(open_deal().id, "recordal_submitted", parties)
    with pytest.raises(ValidationError):
        recordal.reject(deal.id, parties.operator, "短")
    db.session.rollback()
    recordal.reject(deal.id, parties.operator, "发文序号与通知书不一致")
    db.session.commit()
    deal = db.session.get(Deal, deal.id)
    assert deal.state == "transfer_filed" and recordal.latest(deal).reject_reason == "发文序号与通知书不一致"
    deals.record_transfer(deal.id, parties.seller, upload(PNG, "n2.png"), details=factories.recordal_details(deal))
    db.session.commit()
    assert [r.status for r in recordal.history(deal)] == ["rejected", "submitted"]


def test_a_trademark_assignment_needs_the_buyers_confirmation_of_the_joint_filing(app, open_deal, parties):
    deal = drive(open_deal(kind="trademark").id, "transfer_filed", parties)
    before = _snapshot(deal.id)
    with pytest.raises(Conflict):
        deals.record_transfer(deal.id, parties.seller, upload(PNG, "n.png"), details=factories.recordal_details(deal))
    db.session.rollback()
    assert _snapshot(deal.id) == before
    with pytest.raises(PermissionDenied):
        recordal.confirm_filing(deal.id, parties.seller)
    db.session.rollback()
    recordal.confirm_filing(deal.id, parties.buyer)
    db.session.commit()
    with pytest.raises(Conflict):
        recordal.confirm_filing(deal.id, parties.buyer)
    db.session.rollback()
    deals.record_transfer(deal.id, parties.seller, upload(PNG, "n.png"), details=factories.recordal_details(deal))
    db.session.commit()
    assert db.session.get(Deal, deal.id).state == "recordal_submitted"
    patent = drive(open_deal().id, "transfer_filed", parties)
    with pytest.raises(Conflict):  # a patent assignment is filed by the seller alone
        recordal.confirm_filing(patent.id, parties.buyer)


# --- invoices and tax ------------------------------------------------------------------------------

def test_the_buyer_requests_the_price_invoice_and_the_seller_records_its_number(app, open_deal, parties):
    deal = open_deal()
    with pytest.raises(Conflict):  # nothing paid yet
        invoices.request_invoice(deal.id, parties.buyer, "seller", "买方科技有限公司", factories.make_uscc(), "special")
    db.session.rollback()
    deal = drive(deal.id, "funded", parties)
    before = _snapshot(deal.id)
    # ({"a": 1} and [..] as the invoice type: the API fuzz's finding, a 500 from an unhashable choice)
    for bad in ({"taxpayer_id": "91440300MA5XXXXX"}, {"title": "x"}, {"invoice_type": "vat"},
                {"invoice_type": {"a": 1}}, {"invoice_type": ["special"]}):
        args = {"title": "买方科技有限公司", "taxpayer_id": factories.make_uscc(), "invoice_type": "special"} | bad
        with pytest.raises(ValidationError):
            invoices.request_invoice(deal.id, parties.buyer, "seller", **args)
        db.session.rollback()
    with pytest.raises(PermissionDenied):
        invoices.request_invoice(deal.id, parties.seller, "seller", "卖方", factories.make_uscc(), "normal")
    db.session.rollback()
    with pytest.raises(ValidationError):
        invoices.request_invoice(deal.id, parties.buyer, {"x": 1}, "买方科技有限公司", factories.make_uscc(), "normal")
    db.session.rollback()
    assert _snapshot(deal.id) == before
    uscc = factories.make_uscc()
    row = invoices.request_invoice(deal.id, parties.buyer, "seller", "买方科技有限公司", uscc.lower(), "special",
                                   details=SPECIAL)
    db.session.commit()
    assert row.amount == deal.price and row.taxpayer_id == uscc and row.status == "requested"
    assert (row.address, row.phone, row.bank, row.bank_account) == (
        "北京市海淀区中关村大街 1 号", "010-62345678", "中国工商银行北京中关村支行", "0200001234567890123")
    with pytest.raises(Conflict):
        invoices.request_invoice(deal.id, parties.buyer, "seller", "买方科技有限公司", uscc, "special", details=SPECIAL)
    db.session.rollback()
    with pytest.raises(PermissionDenied):
        invoices.issue_invoice(deal.id, parties.operator, "seller", "12345678")
    db.session.rollback()
    with pytest.raises(ValidationError):
        invoices.issue_invoice(deal.id, parties.seller, "seller", "1234")
    db.session.rollback()
    invoices.issue_invoice(deal.id, parties.seller, "seller", "26442000000012345678")
    db.session.commit()
    assert invoices.invoices_of(deal)[0].status == "issued"


def test_the_fee_invoice_goes_to_the_seller_after_release_and_operators_issue_it(app, open_deal, parties):
    deal = drive(open_deal().id, "released", parties)
    with pytest.raises(PermissionDenied):  # the fee is the seller's to bear
        invoices.request_invoice(deal.id, parties.buyer, "platform", "买方", factories.make_uscc(), "normal")
    db.session.rollback()
    row = invoices.request_invoice(deal.id, parties.seller, "platform", parties.seller.organization.name,
                                   parties.seller.organization.uscc, "special", details=SPECIAL)
    db.session.commit()
    assert row.amount == deal.fee
    invoices.issue_invoice(deal.id, parties.operator, "platform", "12345678")
    db.session.commit()


SPECIAL = {"address": "北京市海淀区中关村大街 1 号", "phone": "010-6234 5678", "bank": "中国工商银行北京中关村支行",
           "bank_account": "0200 0012 3456 7890 123"}


def test_a_special_invoice_needs_the_buyers_address_phone_bank_and_account(app, client, as_user, open_deal, parties):
    """A 专用发票 prints the buyer's 地址、电话、开户行及账号: all four required and checked; on a 普通发票 they are
    optional but checked when given. A refusal stores nothing; the form and the API both carry them."""
    deal = drive(open_deal().id, "funded", parties)
    before = _snapshot(deal.id)
    uscc = factories.make_uscc()
    for bad, fields in (({}, {"address", "phone", "bank", "bank_account"}),
                        (SPECIAL | {"phone": "12345"}, {"phone"}),
                        (SPECIAL | {"bank_account": "62-22"}, {"bank_account"}),
                        (SPECIAL | {"address": "北京"}, {"address"}),
                        (SPECIAL | {"bank": "x" * 61}, {"bank"}),
                        (SPECIAL | {"phone": ["010-62345678"]}, {"phone"})):
        with pytest.raises(ValidationError) as exc:
            invoices.request_invoice(deal.id, parties.buyer, "seller", "买方科技有限公司", uscc, "special", details=bad)
        assert set(exc.value.fields) == fields, (bad, exc.value.fields)
        db.session.rollback()
    with pytest.raises(ValidationError) as exc:  # optional on a 普通发票, but not wrong
        invoices.request_invoice(deal.id, parties.buyer, "seller", "买方科技有限公司", uscc, "normal",
                                 details={"phone": "abc"})
    assert set(exc.value.fields) == {"phone"}
    db.session.rollback()
    assert _snapshot(deal.id) == before
    # the form: a missing account is shown on the page, nothing stored
    as_user(parties.buyer)
    form = {"issuer": "seller", "title": "买方科技有限公司", "taxpayer_id": uscc, "invoice_type": "special",
            **(SPECIAL | {"bank_account": ""})}
    page = client.post(f"/deals/{deal.id}/invoices", data=form)
    assert page.status_code == 422 and "银行账号应为" in page.get_data(as_text=True)
    assert invoices.invoices_of(deal) == []
    # the API: stored and returned
    answer = client.post(f"/api/v1/deals/{deal.id}/invoices", headers=factories.auth_header(parties.buyer),
                         json={"issuer": "seller", "title": "买方科技有限公司", "taxpayer_id": uscc,
                               "invoice_type": "special", **SPECIAL})
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()["invoice"]
    assert body["phone"] == "010-62345678" and body["bank_account"] == "0200001234567890123"
    assert "中国工商银行北京中关村支行" in client.get(f"/deals/{deal.id}/tax").get_data(as_text=True)


def test_tax_notes_per_kind_and_the_technology_contract_registration(app, client, as_user, open_deal, parties):
    trademark = open_deal(kind="trademark")
    notes = dict((str(k), str(v)) for k, v in invoices.tax_notes(trademark))
    assert "6%" in notes["增值税"] and "产权转移书据" in notes["印花税"]
    licence = open_deal(deal_type="non_exclusive_license", price=1_000_000_00)
    notes = dict((str(k), str(v)) for k, v in invoices.tax_notes(licence))
    assert "技术合同登记" in notes["增值税"] and "技术合同" in notes["印花税"] and "¥300。" in notes["印花税"]
    rows = dict((str(k), str(v)) for k, v in invoices.tech_contract_data(licence))
    assert rows["合同文本 SHA-256"] == licence.contract.sha256 and rows["合同金额（元）"] == "1000000.00"
    with pytest.raises(ValidationError):
        invoices.record_tech_registration(licence.id, parties.seller, "x")
    db.session.rollback()
    with pytest.raises(PermissionDenied):
        invoices.record_tech_registration(licence.id, parties.buyer, "2026440300001234")
    db.session.rollback()
    invoices.record_tech_registration(licence.id, parties.seller, "2026440300001234")
    db.session.commit()
    assert "2026440300001234" in dict((str(k), str(v)) for k, v in invoices.tax_notes(licence))["增值税"]
    with pytest.raises(Conflict):
        invoices.tech_contract_data(trademark)
    as_user(parties.seller)
    csv_text = client.get(f"/deals/{licence.id}/tech-contract.csv").get_data(as_text=True)
    assert licence.contract.sha256 in csv_text and "2026440300001234" in csv_text
    assert client.get(f"/deals/{licence.id}/tax").status_code == 200
