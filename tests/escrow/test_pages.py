"""Deal pages: the deal page per state and role (timeline, next step, the viewer's actions as forms),
my deals, the printable contract summary, the operator queues, and HTML actions with field errors."""
import io

import pytest

from escrow import deals
from escrow.models import DEAL_STATES, Deal
from marketplace.kernel.extensions import db
from tests import factories
from tests.escrow.conftest import PDF, drive
from tests.probes import nothing_changes


@pytest.mark.parametrize("state", DEAL_STATES)
def test_deal_page_renders_for_each_party_in_every_state(app, client, as_user, open_deal, parties, state):
    deal = drive(open_deal(deal_type="non_exclusive_license").id, state, parties)
    for user in (parties.buyer, parties.seller, parties.operator):
        as_user(user)
        page = client.get(f"/deals/{deal.id}")
        assert page.status_code == 200, (state, user.roles)
        html = page.get_data(as_text=True)
        assert "交易进度" in html and deal.listing.title in html
    as_user(parties.buyer)
    html = client.get(f"/deals/{deal.id}").get_data(as_text=True)
    if state == "awaiting_payment":
        assert f'action="/deals/{deal.id}/pay"' in html
    if state == "transfer_recorded":
        assert f'action="/deals/{deal.id}/accept"' in html
    if state == "funded":
        assert f'action="/deals/{deal.id}/transfer-filed"' not in html  # the seller's action, not the buyer's


def test_strangers_and_anonymous_cannot_see_a_deal(app, client, as_user, open_deal):
    deal = open_deal()
    anonymous = client.get(f"/deals/{deal.id}")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    stranger = factories.make_user("buyer")
    db.session.commit()
    as_user(stranger)
    secret = (deal.payment_reference, deal.listing.title)
    for path in (f"/deals/{deal.id}", f"/deals/{deal.id}/contract"):
        page = client.get(path)
        assert page.status_code == 404 and not any(s in page.get_data(as_text=True) for s in secret)
    with nothing_changes():
        assert client.post(f"/deals/{deal.id}/accept").status_code == 404


def test_seller_sees_the_upload_form_and_next_step(app, client, as_user, open_deal, parties):
    deal = drive(open_deal().id, "funded", parties)
    as_user(parties.seller)
    html = client.get(f"/deals/{deal.id}").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html and "轮到您处理" in html


def test_full_deal_through_the_html_pages(app, client, as_user, open_deal, parties):
    deal = open_deal(price=500_000_00, signed=False)
    as_user(parties.buyer)
    refused = client.post(f"/deals/{deal.id}/pay")
    assert refused.status_code == 409 and "签署" in refused.get_data(as_text=True)
    for party in (parties.buyer, parties.seller):  # both review the contract and sign with their password
        as_user(party)
        page = client.get(f"/deals/{deal.id}/contract").get_data(as_text=True)
        assert "转让合同" in page and 'name="password"' in page
        signed = client.post(f"/deals/{deal.id}/contract/sign", data={"password": factories.PASSWORD})
        assert signed.status_code == 302, signed.get_data(as_text=True)
    pdf = client.get(f"/deals/{deal.id}/contract.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF") and pdf.mimetype == "application/pdf"
    as_user(parties.buyer)
    page = client.post(f"/deals/{deal.id}/pay")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and deal.payment_reference in html and "存管专户" in html

    as_user(parties.operator)
    queue = client.get("/operator/payments").get_data(as_text=True)
    assert deal.payment_reference in queue
    wrong = client.post(f"/deals/{deal.id}/confirm-payment",
                        data={"confirm_payment-reference": deal.payment_reference,
                              "confirm_payment-amount": "499,999.99"})
    assert wrong.status_code == 422 and "不符" in wrong.get_data(as_text=True)
    ok = client.post(f"/deals/{deal.id}/confirm-payment",
                     data={"confirm_payment-reference": deal.payment_reference.lower(),
                           "confirm_payment-amount": "500,000", "next": "payments"})
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/operator/payments")

    as_user(parties.seller)
    bad = client.post(f"/deals/{deal.id}/transfer-filed",
                      data={"file_transfer-document": (io.BytesIO(b"GIF89a not allowed"), "x.gif")},
                      content_type="multipart/form-data")
    assert bad.status_code == 422 and "只接受" in bad.get_data(as_text=True)
    details = {f"record_transfer-{key}": value for key, value in factories.recordal_details(deal).items()}
    for path, prefix in (("transfer-filed", "file_transfer"), ("transfer-recorded", "record_transfer")):
        response = client.post(f"/deals/{deal.id}/{path}",
                               data={f"{prefix}-document": (io.BytesIO(PDF), "r.pdf"),
                                     **(details if prefix == "record_transfer" else {})},
                               content_type="multipart/form-data")
        assert response.status_code == 302, response.get_data(as_text=True)

    as_user(parties.operator)  # the recordal is checked before the buyer's inspection starts
    assert str(deal.id) in client.get("/operator/recordals").get_data(as_text=True)
    assert client.post(f"/deals/{deal.id}/recordal/verify", data={"next": "recordals"}).status_code == 302

    as_user(parties.buyer)
    assert client.post(f"/deals/{deal.id}/accept").status_code == 302

    as_user(parties.operator)
    assert str(deal.id) in client.get("/operator/payouts").get_data(as_text=True)
    missing = client.post(f"/deals/{deal.id}/payout-paid", data={"payout_paid-reference": ""})
    assert missing.status_code == 422
    done = client.post(f"/deals/{deal.id}/payout-paid", data={"payout_paid-reference": "BOC-778899"})
    assert done.status_code == 302
    db.session.expire_all()  # the deal and its listing as the requests left them
    deal = db.session.get(Deal, deal.id)
    assert deal.state == "completed" and deal.listing.status == "sold"

    as_user(parties.buyer)
    mine = client.get("/deals").get_data(as_text=True)
    assert f"#{deal.id}" in mine


def test_refused_html_action_shows_the_reason_and_changes_nothing(app, client, as_user, open_deal, parties):
    deal = open_deal()
    as_user(parties.buyer)
    response = client.post(f"/deals/{deal.id}/accept")
    assert response.status_code == 409
    assert "不能执行" in response.get_data(as_text=True)
    as_user(parties.seller)
    assert client.post(f"/deals/{deal.id}/cancel").status_code == 403
    assert db.session.get(Deal, deal.id).state == "awaiting_payment"


def test_dispute_and_split_through_the_pages(app, client, as_user, open_deal, parties):
    deal = drive(open_deal(price=1_000_000).id, "transfer_filed", parties)
    as_user(parties.buyer)
    short = client.post(f"/deals/{deal.id}/dispute", data={"dispute-reason": "不"})
    assert short.status_code == 422
    assert client.post(f"/deals/{deal.id}/dispute", data={"dispute-reason": "登记的受让人名称有误"}).status_code == 302
    as_user(parties.operator)
    assert "登记的受让人名称有误" in client.get("/operator/disputes").get_data(as_text=True)
    no_share = client.post(f"/deals/{deal.id}/resolve", data={"resolve-outcome": "split"})
    assert no_share.status_code == 422
    too_much = client.post(f"/deals/{deal.id}/resolve", data={"resolve-outcome": "split",
                                                              "resolve-seller_share": "10000"})
    assert too_much.status_code == 422 and "小于成交价" in too_much.get_data(as_text=True)
    ok = client.post(f"/deals/{deal.id}/resolve", data={"resolve-outcome": "split", "resolve-seller_share": "6000",
                                                        "resolve-note": "双方同意按六四分配"})
    assert ok.status_code == 302
    deal = db.session.get(Deal, deal.id)
    db.session.refresh(deal)
    assert deal.state == "released" and deal.refund_amount == 400_000


def test_contract_summary_for_a_licence(app, client, as_user, open_deal, parties):
    deal = open_deal(deal_type="non_exclusive_license", license_territory="广东省", license_field="新能源汽车电池",
                     license_years=5)
    as_user(parties.seller)
    html = client.get(f"/deals/{deal.id}/contract").get_data(as_text=True)
    assert "专利实施许可合同" in html and "广东省" in html and "新能源汽车电池" in html
    assert deal.contract.sha256 in html and "普通实施许可" in html
    assert str(deal.license_end) in html and deal.listing.rights[0].number in html


def test_operator_queues_are_for_operators_only(app, client, as_user, parties):
    queues = {"/operator/payments": "<h1>确认收款", "/operator/payouts": "<h1>待付款给卖方",
              "/operator/disputes": "<h1>交易争议"}
    as_user(parties.buyer)
    for url, heading in queues.items():
        refused = client.get(url)
        assert refused.status_code == 403 and heading not in refused.get_data(as_text=True)
    as_user(parties.operator)
    for url, heading in queues.items():
        page = client.get(url)
        assert page.status_code == 200 and heading in page.get_data(as_text=True)


def test_english_deal_page(app, client, as_user, open_deal, parties):
    deal = drive(open_deal().id, "funded", parties)
    as_user(parties.seller)
    html = client.get(f"/deals/{deal.id}?lang=en").get_data(as_text=True)
    assert "Timeline" in html and "Upload" in html


def test_url_for_builds_the_deal_url(app):
    from flask import url_for

    with app.test_request_context():
        assert url_for("escrow.deal_detail", deal_id=7) == "/deals/7"
        assert url_for("escrow.buyer_dashboard") == "/deals"


def test_deals_helper_lists_both_sides(app, open_deal, parties):
    deal = open_deal()
    assert [d.id for d in deals.deals_of(parties.buyer)] == [deal.id]
    assert [d.id for d in deals.deals_of(parties.seller)] == [deal.id]
