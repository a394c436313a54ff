"""Deals through the JSON API as integrators use it: an assignment deal and a licence deal each from
purchase to a paid payout, with the ledger showing where every fen went; a dispute ending in a split;
payment confirmation refusals with reasons; documents served only to the parties."""
import io

import pytest

from escrow import references
from escrow.models import Deal, JournalEntry
from marketplace.kernel.extensions import db
from marketplace.kernel.models import Notification
from tests import factories
from tests.escrow.conftest import PDF, PNG
from tests.probes import nothing_changes


@pytest.fixture
def tokens(app, parties):
    headers = {role: factories.auth_header(getattr(parties, role)) for role in ("buyer", "seller", "operator")}
    stranger = factories.make_user("buyer", "seller")
    headers["stranger"] = factories.auth_header(stranger)
    db.session.commit()
    return headers


def _post(client, url, headers, **kw):
    return client.post(f"/api/v1/deals{url}", headers=headers, **kw)


def _upload(client, deal_id, path, headers, data=PDF, name="doc.pdf", details=None):
    return client.post(f"/api/v1/deals/{deal_id}/{path}", headers=headers,
                       data={"document": (io.BytesIO(data), name), "note": "CNIPA 回执", **(details or {})},
                       content_type="multipart/form-data")


@pytest.mark.parametrize("deal_type,kind", [("assignment", "patent"), ("non_exclusive_license", "patent"),
                                            ("assignment", "trademark")])
def test_deal_from_purchase_to_paid_payout(app, client, open_deal, parties, tokens, deal_type, kind):
    price = 88_888_88
    deal = open_deal(deal_type=deal_type, price=price, kind=kind, signed=False)
    deal_id, ref = deal.id, deal.payment_reference
    assert references.is_valid(ref) and references.deal_id_of(ref) == deal_id
    # A non-exclusive licence can be sold again: its listing stays on sale while the deal runs.
    assert deal.listing.status == ("published" if deal_type == "non_exclusive_license" else "reserved")

    got = client.get(f"/api/v1/deals/{deal_id}", headers=tokens["buyer"]).get_json()["deal"]
    assert got["state"] == "awaiting_payment" and got["price"] == price and got["fee"] == (price * 300 + 5000) // 10000
    assert got["next_step"]["actor"] == "buyer" and got["events"][0]["action"] == "open"
    if deal_type != "assignment":
        assert got["license"]["territory"] and got["license"]["start"] and got["license"]["end"]
    else:
        assert got["license"] is None

    # Payment is due only once both parties have signed the contract (escrow.contracts).
    unsigned = _post(client, f"/{deal_id}/pay", tokens["buyer"])
    assert unsigned.status_code == 409 and unsigned.get_json()["error"]["code"] == "contract_unsigned"
    for role in ("seller", "buyer"):
        signed = _post(client, f"/{deal_id}/contract/sign", tokens[role], json={"password": factories.PASSWORD})
        assert signed.status_code == 200, signed.get_json()
    assert client.get(f"/api/v1/deals/{deal_id}/contract", headers=tokens["buyer"]).get_json()["contract"][
        "fully_signed"]

    pay = _post(client, f"/{deal_id}/pay", tokens["buyer"]).get_json()
    assert pay["gateway"] == "offline" and pay["reference"] == ref and pay["amount"] == price
    assert pay["bank"]["account_number"]

    confirm = _post(client, f"/{deal_id}/confirm-payment", tokens["operator"], json={"reference": ref, "amount": price})
    assert confirm.status_code == 200 and confirm.get_json()["result"] == "funded"
    again = _post(client, f"/{deal_id}/confirm-payment", tokens["operator"], json={"reference": ref, "amount": price})
    assert again.status_code == 200 and again.get_json()["result"] == "ignored"
    assert db.session.query(JournalEntry).filter_by(deal_id=deal_id).count() == 1

    assert _upload(client, deal_id, "transfer-filed", tokens["seller"]).status_code == 200
    if kind == "trademark":  # filed jointly: the buyer confirms before the seller's notice counts
        assert _post(client, f"/{deal_id}/confirm-filing", tokens["buyer"]).status_code == 200
    recorded = _upload(client, deal_id, "transfer-recorded", tokens["seller"], PNG, "notice.png",
                       details=factories.recordal_details(deal))
    assert recorded.status_code == 200
    body = recorded.get_json()["deal"]
    assert body["state"] == "recordal_submitted" and not body["inspection_ends_at"]
    verified = _post(client, f"/{deal_id}/recordal/verify", tokens["operator"])
    assert verified.status_code == 200
    body = verified.get_json()["deal"]
    assert body["state"] == "transfer_recorded" and body["inspection_ends_at"]
    assert [d["kind"] for d in body["documents"]] == ["filing_receipt", "approval_notice"]

    accepted = _post(client, f"/{deal_id}/accept", tokens["buyer"]).get_json()["deal"]
    assert accepted["state"] == "released" and accepted["payout"]["status"] == "pending"
    assert accepted["payout"]["amount"] == price - accepted["fee"]

    paid = _post(client, f"/{deal_id}/payout-paid", tokens["operator"], json={"reference": "BOC-2026-11-0001"})
    assert paid.status_code == 200
    final = paid.get_json()["deal"]
    assert final["state"] == "completed" and final["payout"]["reference"] == "BOC-2026-11-0001"

    ledger = client.get(f"/api/v1/deals/{deal_id}/ledger", headers=tokens["seller"]).get_json()
    fee = final["fee"]
    assert ledger["balances"]["escrow"] == 0 and ledger["balances"]["seller_payable"] == 0
    assert ledger["balances"]["platform_fee"] == fee and ledger["balances"]["paid_out"] == price - fee
    assert ledger["balances"]["refunded"] == 0 and ledger["balances"]["received"] == price
    assert [e["kind"] for e in ledger["entries"]] == ["fund", "release", "payout"]

    db.session.expire_all()  # the deal and its listing as the requests left them
    deal = db.session.get(Deal, deal_id)
    # An assignment sells the listing; a non-exclusive licence leaves it on sale for the next licensee.
    assert deal.listing.status == ("published" if deal_type == "non_exclusive_license" else "sold")
    actions = [e.action for e in deal.events]
    assert actions == ["open", "sign_contract", "sign_contract", "pay", "confirm_payment", "file_transfer"] + (
        ["confirm_filing"] if kind == "trademark" else []) + [
        "record_transfer", "verify_recordal", "accept", "payout_paid"]
    kinds = {n.title for n in db.session.query(Notification).filter_by(user_id=parties.seller.id)}
    assert any("款项已支付" in t for t in kinds)


def test_dispute_ends_in_a_split(app, client, open_deal, parties, tokens):
    price = 1_000_001
    deal = open_deal(price=price)
    ref = deal.payment_reference
    _post(client, f"/{deal.id}/confirm-payment", tokens["operator"], json={"reference": ref, "amount": price})
    _upload(client, deal.id, "transfer-filed", tokens["seller"])
    assert _post(client, f"/{deal.id}/dispute", tokens["buyer"], json={"reason": "短"}).status_code == 422
    disputed = _post(client, f"/{deal.id}/dispute", tokens["buyer"], json={"reason": "受理回执上的受让人不是我方"})
    assert disputed.get_json()["deal"]["state"] == "disputed"
    assert _post(client, f"/{deal.id}/resolve", tokens["buyer"], json={"outcome": "refund"}).status_code == 403
    for bad in ({"outcome": "split"}, {"outcome": "split", "seller_share": price}, {"outcome": "half"},
                {"outcome": "split", "seller_share": "600000"}):
        response = _post(client, f"/{deal.id}/resolve", tokens["operator"], json=bad)
        assert response.status_code == 422, bad
    share = 600_000
    resolved = _post(client, f"/{deal.id}/resolve", tokens["operator"],
                     json={"outcome": "split", "seller_share": share, "note": "双方和解"})
    assert resolved.status_code == 200
    body = resolved.get_json()["deal"]
    fee = (share * 300 + 5000) // 10000
    assert body["state"] == "released" and body["fee"] == fee and body["refund"]["amount"] == price - share
    assert body["dispute"]["resolution"] == "split"
    _post(client, f"/{deal.id}/payout-paid", tokens["operator"], json={"reference": "BOC-1"})
    # the buyer's part goes back through the refund queue: the buyer's account, then the bank reference
    account = {"bank": "中国银行", "branch": "北京分行", "account_number": "6222021001001234",
               "account_name": parties.buyer.name}
    assert client.put(f"/api/v1/deals/{deal.id}/refund-account", json=account,
                      headers=tokens["buyer"]).status_code == 200
    assert _post(client, f"/{deal.id}/refund-paid", tokens["operator"], json={"reference": "BOCR-1"}).status_code == 200
    balances = client.get(f"/api/v1/deals/{deal.id}/ledger", headers=tokens["operator"]).get_json()["balances"]
    assert balances == {"escrow": 0, "seller_payable": 0, "platform_fee": fee, "refunded": price - share,
                        "refund_in_transit": 0, "paid_out": share - fee, "received": price,
                        "fee_by_voucher": 0}  # no voucher paid any of the fee (issue 23)


def test_confirm_payment_refuses_wrong_reference_or_amount_with_the_reason(app, client, open_deal, parties, tokens):
    deal = open_deal(price=123_456)
    other = open_deal(price=123_456)
    op = tokens["operator"]
    cases = [
        ({"reference": other.payment_reference, "amount": 123_456}, "reference", "不属于本交易"),
        ({"reference": deal.payment_reference[:-1] + "0", "amount": 123_456}, "reference", "校验位"),
        ({"reference": deal.payment_reference, "amount": 123_455}, "amount", "不符"),
        ({"reference": "", "amount": 123_456}, "reference", "请填写"),
        ({"reference": deal.payment_reference, "amount": "123456"}, "amount", "整数"),
    ]
    for body, field, words in cases:
        response = _post(client, f"/{deal.id}/confirm-payment", op, json=body)
        assert response.status_code == 422, body
        assert words in response.get_json()["error"]["fields"][field]
    assert db.session.get(Deal, deal.id).state == "awaiting_payment"
    assert db.session.query(JournalEntry).count() == 0
    spaced = " ".join([deal.payment_reference[:3].lower(), deal.payment_reference[3:]])
    ok = _post(client, f"/{deal.id}/confirm-payment", op, json={"reference": spaced, "amount": 123_456})
    assert ok.status_code == 200


def test_deals_are_visible_only_to_parties_and_operators(app, client, open_deal, tokens):
    deal = open_deal()
    for role in ("buyer", "seller", "operator"):
        assert client.get(f"/api/v1/deals/{deal.id}", headers=tokens[role]).status_code == 200
        assert client.get(f"/api/v1/deals/{deal.id}/ledger", headers=tokens[role]).status_code == 200
    assert client.get(f"/api/v1/deals/{deal.id}", headers=tokens["stranger"]).status_code == 404
    assert client.get(f"/api/v1/deals/{deal.id}/ledger", headers=tokens["stranger"]).status_code == 404
    assert client.get("/api/v1/deals/999999", headers=tokens["operator"]).status_code == 404
    assert client.get(f"/api/v1/deals/{deal.id}").status_code == 401
    listed = client.get("/api/v1/deals", headers=tokens["buyer"]).get_json()["deals"]
    assert [d["id"] for d in listed] == [deal.id]
    assert client.get("/api/v1/deals", headers=tokens["stranger"]).get_json()["deals"] == []


def test_documents_served_only_to_parties_and_operators(app, client, open_deal, tokens, parties):
    from tests.escrow.conftest import drive

    deal = drive(open_deal().id, "funded", parties)
    body = _upload(client, deal.id, "transfer-filed", tokens["seller"]).get_json()["deal"]
    url = body["documents"][0]["url"]
    for role in ("buyer", "seller", "operator"):
        response = client.get(url, headers=tokens[role])
        assert response.status_code == 200 and response.data == PDF
        assert response.mimetype == "application/pdf"
    assert client.get(url, headers=tokens["stranger"]).status_code == 404
    assert client.get(url).status_code == 401
    other = open_deal()
    doc_id = body["documents"][0]["id"]
    assert client.get(f"/api/v1/deals/{other.id}/documents/{doc_id}", headers=tokens["buyer"]).status_code == 404
    # the HTML route checks the same
    from tests.conftest import login

    login(client, parties.buyer)
    assert client.get(f"/deals/{deal.id}/documents/{doc_id}").data == PDF
    stranger = factories.make_user("buyer")
    db.session.commit()
    login(client, stranger)
    assert client.get(f"/deals/{deal.id}/documents/{doc_id}").status_code == 404


@pytest.mark.parametrize("data,name,words", [
    (b"GIF89a" + b"\x00" * 20, "a.gif", "只接受"),
    (b"<html><script>alert(1)</script>", "receipt.pdf", "只接受"),
    (b"", "empty.pdf", "为空"),
])
def test_documents_of_the_wrong_type_are_refused(app, client, open_deal, parties, tokens, data, name, words):
    from tests.escrow.conftest import drive

    deal = drive(open_deal().id, "funded", parties)
    response = _upload(client, deal.id, "transfer-filed", tokens["seller"], data, name)
    assert response.status_code == 422
    assert words in response.get_json()["error"]["fields"]["document"]
    db.session.refresh(deal)
    assert deal.state == "funded" and deal.documents == []


def test_document_too_large_is_refused(app, client, open_deal, parties, tokens):
    from tests.escrow.conftest import drive

    deal = drive(open_deal().id, "funded", parties)
    big = b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024)
    response = _upload(client, deal.id, "transfer-filed", tokens["seller"], big, "big.pdf")
    assert response.status_code == 422
    assert "10 MB" in response.get_json()["error"]["fields"]["document"]
    missing = client.post(f"/api/v1/deals/{deal.id}/transfer-filed", headers=tokens["seller"], data={},
                          content_type="multipart/form-data")
    assert missing.status_code == 422
    db.session.refresh(deal)
    assert deal.state == "funded"


def test_seller_cannot_upload_for_someone_elses_deal(app, client, open_deal, parties, tokens):
    from tests.escrow.conftest import drive

    deal = drive(open_deal().id, "funded", parties)
    with nothing_changes():  # no document stored, no event, the deal still funded
        refused = _upload(client, deal.id, "transfer-filed", tokens["buyer"])
        hidden = _upload(client, deal.id, "transfer-filed", tokens["stranger"])
    assert refused.status_code == 403 and refused.get_json()["error"]["code"]
    assert hidden.status_code == 404 and str(deal.price) not in hidden.get_data(as_text=True)


def test_openapi_documents_every_deal_route(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = {p: ops for p, ops in spec["paths"].items() if p.startswith("/api/v1/deals")}
    assert "/api/v1/deals/{deal_id}/transfer-filed" in paths
    upload = paths["/api/v1/deals/{deal_id}/transfer-filed"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload
    for path, ops in paths.items():
        for method, op in ops.items():
            assert not op.get("x-undocumented"), (path, method)


@pytest.mark.parametrize("path,body", [
    ("cancel", {"reason": 5}), ("cancel", []), ("cancel", "text"),
    ("confirm-payment", {"reference": 7, "amount": True}), ("confirm-payment", {"reference": ["x"], "amount": 1.5}),
    ("dispute", {"reason": {"x": 1}}), ("resolve", {"outcome": ["split"]}), ("resolve", {"outcome": None}),
    ("resolve", {"outcome": "split", "seller_share": 1.5, "note": 3}), ("payout-paid", {"reference": 12}),
    ("payout-paid", {}), ("accept", {"x": 1}), ("pay", {"x": 1}),
])
def test_malformed_bodies_get_a_clear_error_not_a_crash(app, client, open_deal, parties, tokens, path, body):
    from tests.escrow.conftest import drive

    deal = drive(open_deal().id, "disputed", parties)
    before = (deal.state, deal.version)
    for role in ("operator", "buyer"):
        response = client.post(f"/api/v1/deals/{deal.id}/{path}", headers=tokens[role], json=body)
        assert 400 <= response.status_code < 500, (role, response.status_code, response.get_data(as_text=True))
        assert response.get_json()["error"]["code"]
    db.session.refresh(deal)
    assert (deal.state, deal.version) == before
