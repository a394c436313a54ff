"""Payout accounts (issue 15): a bank payout goes only into the payee's verified account.

Allowed and refused for each rule: the account name must be the payee's name, the number 8–30 digits,
an operator verifies it (or the small-amount check, with bounded attempts), a change is audited, verified
again and holds bank payouts for PAYOUT_ACCOUNT_HOLD_HOURS; a refusal changes nothing and moves no money.
"""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from escrow import deals, ledger, payouts
from escrow.models import Deal, JournalEntry
from escrow.payout_models import PayoutAccount
from marketplace.kernel.errors import Conflict, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditLog
from marketplace.kernel.timeutil import utcnow
from tests import factories
from tests.escrow.conftest import drive
from tests.probes import nothing_changes

GOOD = {"bank": "中国工商银行", "branch": "深圳高新园支行", "account_number": "4000 0231 0900 1234 567"}


def _submit(user, **over):
    values = {**GOOD, "account_name": payouts.payee_of_user(user).name, **over}
    return payouts.submit_account(user, values["bank"], values["branch"], values["account_number"],
                                  values["account_name"])


def _count(model):
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


@pytest.fixture
def bare_seller(app):
    """A seller whose organisation has no payout account yet."""
    user = factories.make_user("seller", payout_account=False)
    db.session.commit()
    return user


def _released_deal(open_deal, parties, seller=None):
    if seller is not None:
        parties.seller = seller
    return drive(open_deal().id, "released", parties)


def test_account_name_must_be_the_organisation_name(app, bare_seller):
    before = _count(PayoutAccount), _count(AuditLog)
    with pytest.raises(ValidationError) as info:
        _submit(bare_seller, account_name="别的公司有限公司")
    assert "account_name" in info.value.fields and bare_seller.organization.name in info.value.message
    db.session.rollback()
    assert (_count(PayoutAccount), _count(AuditLog)) == before
    # full-width and half-width brackets and spaces are the same name to a bank
    bare_seller.organization.name = "深圳星河（南山）科技有限公司"
    account = _submit(bare_seller, account_name="深圳星河(南山)科技有限公司 ")
    assert account.status == "pending" and account.account_number == "4000023109001234567"
    # a number typed with full-width digits (a Chinese input method) is the same number
    again = _submit(bare_seller, account_number="６２２２ ０２１０ ０１００ １２３４", account_name="深圳星河(南山)科技有限公司")
    assert again.account_number == "6222021001001234"


@pytest.mark.parametrize("number", ["1234567", "12345678901234567890123456789012", "6222-abcd-1234",
                                    "٦٢٢٢٠٢١٠٠١٠٠١٢٣٤", "", "1" * 70])
def test_malformed_account_number_is_refused(app, bare_seller, number):
    with pytest.raises(ValidationError) as info:
        _submit(bare_seller, account_number=number)
    assert "account_number" in info.value.fields
    db.session.rollback()
    assert payouts.current_account(payouts.payee_of_user(bare_seller)) is None


@pytest.mark.parametrize("field,value", [("bank", "x"), ("branch", "支" * 101), ("bank", None)])
def test_bank_fields_are_bounded(app, bare_seller, field, value):
    with pytest.raises(ValidationError):
        _submit(bare_seller, **{field: value})


def test_only_sellers_record_accounts(app, buyer):
    with pytest.raises(PermissionDenied):
        payouts.submit_account(buyer, **GOOD, account_name=buyer.name)


def test_payout_only_into_a_verified_account(app, open_deal, parties, bare_seller):
    deal = _released_deal(open_deal, parties, bare_seller)
    assert deal.payout_status == "pending"

    def refused(expect_in):
        before = deal.state, db.session.execute(select(func.count(JournalEntry.id))).scalar_one()
        with pytest.raises(Conflict) as info:
            deals.mark_payout_paid(deal.id, "BOC-NOACCOUNT-1", parties.operator)
        assert expect_in in info.value.message
        db.session.rollback()
        fresh = db.session.get(Deal, deal.id)
        assert (fresh.state, db.session.execute(select(func.count(JournalEntry.id))).scalar_one()) == before
        assert ledger.deal_balances(fresh)["paid_out"] == 0

    refused("尚未登记收款账户")
    account = _submit(bare_seller)
    db.session.commit()
    refused("尚未核验")
    payouts.verify_account(account.id, parties.operator)
    db.session.commit()
    deals.mark_payout_paid(deal.id, "BOC-PAID-0001", parties.operator)
    db.session.commit()
    deal = db.session.get(Deal, deal.id)
    assert deal.state == "completed" and deal.payout_account_id == account.id
    assert ledger.deal_balances(deal)["paid_out"] == deal.payout_amount
    assert db.session.execute(select(AuditLog).where(AuditLog.action == "payout_account.verify")).scalar()


def test_a_gateway_confirmed_payout_needs_no_bank_account(app, open_deal, parties, bare_seller):
    """A Stripe Connect transfer goes to the account Stripe verified: no bank account here."""
    deal = _released_deal(open_deal, parties, bare_seller)
    deals.record_gateway_payout(deal.id, "tr_123")
    db.session.commit()
    assert db.session.get(Deal, deal.id).state == "completed"


def test_a_bank_reference_is_used_once(app, open_deal, parties):
    first = drive(open_deal().id, "released", parties)
    second = drive(open_deal().id, "released", parties)
    deals.mark_payout_paid(first.id, "BOC-ONCE-0001", parties.operator)
    db.session.commit()
    with pytest.raises(ValidationError) as info:
        deals.mark_payout_paid(second.id, "BOC-ONCE-0001", parties.operator)
    assert "reference" in info.value.fields
    db.session.rollback()
    assert db.session.get(Deal, second.id).state == "released"


def test_small_amount_check_with_bounded_attempts(app, bare_seller, operator):
    account = _submit(bare_seller)
    with pytest.raises(Conflict):  # nothing sent yet
        payouts.confirm_micro_deposit(bare_seller, 37)
    for bad in (0, 100, -1, "37", True):
        with pytest.raises(ValidationError):
            payouts.send_micro_deposit(account.id, operator, bad)
    payouts.send_micro_deposit(account.id, operator, 37)
    db.session.commit()
    with pytest.raises(ValidationError):
        payouts.confirm_micro_deposit(bare_seller, 120)
    assert payouts.confirm_micro_deposit(bare_seller, 36) == (False, 2)
    db.session.commit()
    assert payouts.confirm_micro_deposit(bare_seller, 38) == (False, 1)
    db.session.commit()
    assert payouts.current_account(payouts.payee_of_user(bare_seller)).status == "pending"
    assert payouts.confirm_micro_deposit(bare_seller, 1) == (False, 0)
    db.session.commit()
    account = db.session.get(PayoutAccount, account.id)
    assert account.status == "rejected" and account.verified_at is None
    with pytest.raises(Conflict):  # no more tries, not even the right amount
        payouts.confirm_micro_deposit(bare_seller, 37)
    db.session.rollback()
    # entered again, and this time the right amount verifies it
    again = _submit(bare_seller, account_number="4000023109001234568")
    payouts.send_micro_deposit(again.id, operator, 5)
    assert payouts.confirm_micro_deposit(bare_seller, 5) == (True, 3)
    db.session.commit()
    assert db.session.get(PayoutAccount, again.id).is_verified


def test_change_of_account_is_audited_verified_again_and_held(app, open_deal, parties):
    app.config["PAYOUT_ACCOUNT_HOLD_HOURS"] = 24
    deal = _released_deal(open_deal, parties)
    old = payouts.current_account(payouts.payee_of(deal))
    assert old.is_verified
    new = _submit(parties.seller, account_number="6217000010001234567")
    db.session.commit()
    assert db.session.get(PayoutAccount, old.id).replaced_at is not None
    audit = db.session.execute(select(AuditLog).where(AuditLog.action == "payout_account.change")).scalar_one()
    assert audit.before["account_number"].endswith(old.account_number[-4:]) and "•" in audit.after["account_number"]
    assert "6217000010001234567" not in str(audit.after)  # masked in the log
    with pytest.raises(Conflict):
        deals.mark_payout_paid(deal.id, "BOC-HELD-0001", parties.operator)
    db.session.rollback()
    payouts.verify_account(new.id, parties.operator)
    db.session.commit()
    with pytest.raises(Conflict) as info:  # verified, but within the hold
        deals.mark_payout_paid(deal.id, "BOC-HELD-0001", parties.operator)
    assert "暂停付款" in info.value.message
    db.session.rollback()
    later = utcnow() + timedelta(hours=25)
    deals.mark_payout_paid(deal.id, "BOC-HELD-0001", parties.operator, now=later)
    db.session.commit()
    assert db.session.get(Deal, deal.id).payout_account_id == new.id


def test_a_person_selling_without_an_organisation_is_the_payee(app):
    person = factories.make_user("buyer", name="张三")
    person.roles = ["buyer", "seller"]
    db.session.flush()
    payee = payouts.payee_of_user(person)
    assert payee.organization is None and payee.name == "张三"
    with pytest.raises(ValidationError):
        _submit(person, account_name="李四")
    account = _submit(person, account_name="张三")
    assert account.user_id == person.id and account.organization_id is None


def test_operators_verify_but_not_their_own_organisation(app, bare_seller, operator):
    account = _submit(bare_seller)
    with pytest.raises(PermissionDenied):
        payouts.verify_account(account.id, bare_seller)
    own_operator = factories.make_user("operator", org=bare_seller.organization)
    with pytest.raises(PermissionDenied):
        payouts.verify_account(account.id, own_operator)
    with pytest.raises(ValidationError):
        payouts.reject_account(account.id, operator, "")
    payouts.reject_account(account.id, operator, "户名与开户许可证不符")
    with pytest.raises(Conflict):  # no longer pending
        payouts.verify_account(account.id, operator)


# --- pages and API ---------------------------------------------------------------------------------

def test_seller_page_enters_and_shows_the_account_masked(app, client, as_user, bare_seller):
    as_user(bare_seller)
    assert client.get("/account/payout-account").status_code == 200
    bad = client.post("/account/payout-account", data={**GOOD, "account_name": "别人"})
    assert bad.status_code == 422 and "户名" in bad.get_data(as_text=True)
    assert payouts.current_account(payouts.payee_of_user(bare_seller)) is None
    good = client.post("/account/payout-account", data={**GOOD, "account_name": bare_seller.organization.name})
    assert good.status_code == 302
    html = client.get("/account/payout-account").get_data(as_text=True)
    assert "•••• 4567" in html and "4000023109001234567" not in html and "待核验" in html


def test_buyers_get_no_payout_account_page(app, client, as_user, buyer):
    as_user(buyer)
    page = client.get("/account/payout-account")
    assert page.status_code == 403 and "<h1>收款账户</h1>" not in page.get_data(as_text=True)
    with nothing_changes():  # a buyer cannot file a payout account either
        assert client.post("/account/payout-account", data={**GOOD, "account_name": buyer.name}).status_code == 403


def test_operator_queue_verifies_and_payout_queue_shows_the_account(app, client, as_user, open_deal, parties,
                                                                    bare_seller):
    deal = _released_deal(open_deal, parties, bare_seller)
    account = _submit(bare_seller)
    db.session.commit()
    as_user(parties.operator)
    queue = client.get("/operator/payouts").get_data(as_text=True)
    assert "尚未核验" in queue and f'action="/deals/{deal.id}/payout-paid"' not in queue
    page = client.get("/operator/payout-accounts").get_data(as_text=True)
    assert account.account_number in page  # operators see the full number
    assert client.post(f"/operator/payout-accounts/{account.id}/verify").status_code == 302
    queue = client.get("/operator/payouts").get_data(as_text=True)
    assert account.account_number in queue and f'action="/deals/{deal.id}/payout-paid"' in queue
    as_user(bare_seller)
    deal_page = client.get(f"/deals/{deal.id}").get_data(as_text=True)
    assert account.masked_number in deal_page and account.account_number not in deal_page


def test_api_masks_the_number_except_for_operators(app, client, bare_seller, operator):
    seller_h = factories.auth_header(bare_seller)
    op_h = factories.auth_header(operator)
    db.session.commit()
    assert client.get("/api/v1/payout-account", headers=seller_h).get_json() == {"account": None}
    bad = client.put("/api/v1/payout-account", headers=seller_h,
                     json={**GOOD, "account_number": "12ab", "account_name": bare_seller.organization.name})
    assert bad.status_code == 422 and "account_number" in bad.get_json()["error"]["fields"]
    made = client.put("/api/v1/payout-account", headers=seller_h,
                      json={**GOOD, "account_name": bare_seller.organization.name})
    assert made.status_code == 201 and made.get_json()["account"]["account_number"] == "•••• 4567"
    listed = client.get("/api/v1/operator/payout-accounts", headers=op_h).get_json()["accounts"]
    assert listed[0]["account_number"] == "4000023109001234567"
    assert client.get("/api/v1/operator/payout-accounts", headers=seller_h).status_code == 403
    sent = client.post(f"/api/v1/operator/payout-accounts/{listed[0]['id']}/micro-deposit", headers=op_h,
                       json={"amount": 42})
    assert sent.status_code == 200
    wrong = client.post("/api/v1/payout-account/micro-deposit", headers=seller_h, json={"amount": 41})
    assert wrong.status_code == 422 and wrong.get_json()["error"]["attempts_left"] == 2
    right = client.post("/api/v1/payout-account/micro-deposit", headers=seller_h, json={"amount": 42})
    assert right.status_code == 200 and right.get_json()["account"]["status"] == "verified"


@pytest.mark.parametrize("over, drop, field", [
    ({}, "branch", "branch"),                                     # a required field missing
    ({"swift": "CMBCCNBS"}, None, "swift"),                       # a key the API does not know
    ({"account_number": 40000231090}, None, "account_number"),    # a number where text is due
    ({"bank": ["招商银行"]}, None, "bank"),
])
def test_api_bank_details_of_the_wrong_shape_are_refused_and_nothing_is_saved(app, client, bare_seller, over, drop,
                                                                               field):
    body = {**GOOD, "account_name": bare_seller.organization.name, **over}
    body.pop(drop, None)
    headers = factories.auth_header(bare_seller)
    with nothing_changes():
        bad = client.put("/api/v1/payout-account", headers=headers, json=body)
    assert bad.status_code == 422 and field in bad.get_json()["error"]["fields"]


def test_api_a_micro_deposit_of_the_wrong_type_uses_no_attempt(app, client, bare_seller, operator):
    payouts.submit_account(bare_seller, **{**GOOD, "account_name": bare_seller.organization.name})
    db.session.commit()
    account = payouts.current_account(payouts.payee_of_user(bare_seller))
    payouts.send_micro_deposit(account.id, operator, 42)
    headers = factories.auth_header(bare_seller)
    for amount in ("forty-two", 41.5, True, None, "１"):
        with nothing_changes():
            bad = client.post("/api/v1/payout-account/micro-deposit", headers=headers, json={"amount": amount})
        assert bad.status_code == 422 and "amount" in bad.get_json()["error"]["fields"], amount
    left = client.get("/api/v1/payout-account", headers=headers).get_json()["account"]["micro_attempts_left"]
    assert left == payouts.MICRO_ATTEMPTS


def test_the_api_document_gives_the_bounds_the_services_keep(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    micro = paths["/api/v1/payout-account/micro-deposit"]["post"]["requestBody"]["content"]["application/json"]
    amount = micro["schema"]["properties"]["amount"]
    assert (amount["minimum"], amount["maximum"]) == (payouts.MICRO_MIN, payouts.MICRO_MAX)
    bank = paths["/api/v1/payout-account"]["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert bank["properties"]["bank"]["maxLength"] == payouts.LIMITS["bank"]
    assert bank["additionalProperties"] is False and set(bank["required"]) == set(GOOD) | {"account_name"}
