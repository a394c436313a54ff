"""An operator is not an operator on a deal where they are the buyer or the seller: they cannot confirm
their own payment nor judge their own dispute (403, nothing changes); another operator can."""
import pytest

from escrow import deals
from escrow.models import Deal, DealEvent, JournalEntry
from marketplace.kernel.extensions import db
from tests import factories
from tests.conftest import login
from tests.escrow.conftest import drive


def _snapshot(deal_id):
    deal = db.session.get(Deal, deal_id)
    db.session.refresh(deal)
    return (deal.state, db.session.query(DealEvent).filter_by(deal_id=deal_id).count(),
            db.session.query(JournalEntry).count(), deal.listing.status)


@pytest.fixture
def staff_buyer(app, parties):
    """An operator who also buys, with a deal of their own on ``parties.seller``'s listing."""
    user = factories.make_user("buyer", "operator")
    listing = factories.make_listing(parties.seller, price=500_000_00)
    deal = deals.open_deal(listing, user, 500_000_00, "assignment", "purchase")
    factories.sign_contract(deal)
    db.session.commit()
    return user, deal.id


def test_roles_of_drops_operator_for_a_party(app, parties, staff_buyer, open_deal):
    user, deal_id = staff_buyer
    deal = db.session.get(Deal, deal_id)
    assert deals.roles_of(deal, user) == {"buyer"}
    assert deals.roles_of(deal, parties.operator) == {"operator"}
    other = open_deal()
    assert deals.roles_of(other, user) == {"operator"}, "on other people's deals they are still an operator"
    seller_operator = factories.make_user("seller", "operator")
    mine = deals.open_deal(factories.make_listing(seller_operator), parties.buyer, 1_000_000_00, "assignment",
                           "purchase")
    assert deals.roles_of(mine, seller_operator) == {"seller"}


def test_an_operator_cannot_confirm_payment_of_their_own_purchase(app, client, parties, staff_buyer):
    user, deal_id = staff_buyer
    deal = db.session.get(Deal, deal_id)
    body = {"reference": deal.payment_reference, "amount": deal.price}
    before = _snapshot(deal_id)
    r = client.post(f"/api/v1/deals/{deal_id}/confirm-payment", json=body, headers=factories.auth_header(user))
    db.session.commit()
    assert r.status_code == 403, r.get_json()
    assert _snapshot(deal_id) == before
    r = client.post(f"/api/v1/deals/{deal_id}/confirm-payment", json=body,
                    headers=factories.auth_header(parties.operator))
    assert r.status_code == 200, r.get_json()
    assert _snapshot(deal_id)[0] == "funded"


def test_the_deal_page_refuses_it_too(app, client, parties, staff_buyer):
    user, deal_id = staff_buyer
    deal = db.session.get(Deal, deal_id)
    before = _snapshot(deal_id)
    login(client, user)
    page = client.get(f"/deals/{deal_id}").get_data(as_text=True)
    assert "/confirm-payment" not in page, "no confirm form for the buyer"
    r = client.post(f"/deals/{deal_id}/confirm-payment",
                    data={"confirm_payment-reference": deal.payment_reference,
                          "confirm_payment-amount": f"{deal.price / 100:.2f}"})
    assert r.status_code == 403
    assert _snapshot(deal_id) == before


def test_an_operator_cannot_resolve_the_dispute_of_their_own_deal(app, client, parties, staff_buyer):
    user, deal_id = staff_buyer
    drive(deal_id, "funded", parties)  # confirmed by the other operator
    deals.open_dispute(deal_id, user, "卖方迟迟不提交变更申请")
    db.session.commit()
    before = _snapshot(deal_id)
    r = client.post(f"/api/v1/deals/{deal_id}/resolve", json={"outcome": "refund"},
                    headers=factories.auth_header(user))
    db.session.commit()
    assert r.status_code == 403, r.get_json()
    assert _snapshot(deal_id) == before
    r = client.post(f"/api/v1/deals/{deal_id}/resolve", json={"outcome": "refund"},
                    headers=factories.auth_header(parties.operator))
    assert r.status_code == 200, r.get_json()
    assert _snapshot(deal_id)[0] == "refunded"


def test_an_operator_who_is_the_seller_cannot_resolve_either(app, client, parties):
    seller_operator = factories.make_user("seller", "operator")
    listing = factories.make_listing(seller_operator, price=300_000_00)
    deal_id = deals.open_deal(listing, parties.buyer, 300_000_00, "assignment", "purchase").id
    db.session.commit()
    drive(deal_id, "funded", parties)
    deals.open_dispute(deal_id, parties.buyer, "卖方迟迟不提交变更申请")
    db.session.commit()
    before = _snapshot(deal_id)
    r = client.post(f"/api/v1/deals/{deal_id}/resolve", json={"outcome": "release"},
                    headers=factories.auth_header(seller_operator))
    db.session.commit()
    assert r.status_code == 403, r.get_json()
    assert _snapshot(deal_id) == before
