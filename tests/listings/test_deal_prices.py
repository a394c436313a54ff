"""A price per deal type (issue 17): a listing offered for assignment and licences at different prices
(``Listing.deal_prices``): stored from the API and the form, shown under one label on cards, search rows and the
listing page, and bought at the chosen deal type's price."""
import pytest

from escrow import trading
from escrow.models import Deal
from listings.facts import price_view
from listings.models import Listing
from marketplace.kernel.extensions import db
from tests import factories

from .conftest import patent_payload

BOTH = {"assignment": 260_000_00, "non_exclusive_license": 50_000_00}


def create(client, headers, body):
    return client.post("/api/v1/listings", json=body, headers=headers)


def test_the_api_stores_a_price_per_deal_type_and_lists_each(client, seller, api):
    res = create(client, api(seller), patent_payload(price=260_000_00, deal_prices=BOTH))
    assert res.status_code == 201, res.json
    listing = res.json["listing"]
    assert listing["deal_prices"] == {"non_exclusive_license": 50_000_00}, "the one equal to price says nothing"
    assert [(p["deal_type"], p["price"]) for p in listing["prices"]] == [
        ("assignment", 260_000_00), ("non_exclusive_license", 50_000_00)]
    assert listing["prices"][1]["fees"]["seller_net"] == 50_000_00 - listing["prices"][1]["fees"]["fee"]


@pytest.mark.parametrize("deal_prices,field", [
    ({"exclusive_license": 80_000_00}, "deal_prices.exclusive_license"),  # a deal type the listing does not offer
    ({"non_exclusive_license": 0}, "deal_prices.non_exclusive_license"),
    ({"non_exclusive_license": -5}, "deal_prices.non_exclusive_license"),
    ({"non_exclusive_license": "五万"}, "deal_prices.non_exclusive_license"),
    ({"non_exclusive_license": 10 ** 16}, "deal_prices.non_exclusive_license"),
    ({"lease": 1_00}, "deal_prices"),
    ([50_000_00], "deal_prices"),
])
def test_a_bad_price_per_deal_type_is_422_naming_it_and_stores_nothing(client, seller, api, deal_prices, field):
    res = create(client, api(seller), patent_payload(deal_prices=deal_prices))
    assert res.status_code == 422 and field in res.json["error"]["fields"], res.json
    assert db.session.query(Listing).count() == 0


def test_an_auction_takes_no_price_per_deal_type(client, seller, api):
    from datetime import timedelta

    from marketplace.kernel.timeutil import iso, utcnow

    body = patent_payload(price_mode="auction", price=None, deal_prices={"non_exclusive_license": 5_000_00},
                          auction={"start_price": 100_000_00, "min_increment": 1_000_00,
                                   "ends_at": iso(utcnow() + timedelta(days=3))})
    res = create(client, api(seller), body)
    assert res.status_code == 422 and "deal_prices" in res.json["error"]["fields"]
    assert db.session.query(Listing).count() == 0


@pytest.fixture
def both(app):
    listing = factories.make_listing(price=260_000_00, deal_prices={"non_exclusive_license": 50_000_00})
    db.session.commit()
    return listing


def test_buying_a_licence_opens_the_deal_at_the_licence_price(both):
    buyer = factories.make_user("buyer")
    deal = trading.buy_now(both.id, buyer, "non_exclusive_license")
    assert (deal.price, deal.deal_type) == (50_000_00, "non_exclusive_license")


def test_buying_the_assignment_opens_the_deal_at_the_assignment_price(both):
    buyer = factories.make_user("buyer")
    deal = trading.buy_now(both.id, buyer, "assignment")
    assert deal.price == 260_000_00


def test_buying_a_deal_type_not_offered_is_refused_and_opens_nothing(both):
    from marketplace.kernel.errors import DomainError

    buyer = factories.make_user("buyer")
    with pytest.raises(DomainError):
        trading.buy_now(both.id, buyer, "exclusive_license")
    assert db.session.query(Deal).count() == 0


def test_the_price_line_shows_each_deal_type_under_one_label(app, both):
    with app.test_request_context():
        pv = price_view(both)
    assert pv["label"] == "一口价"
    assert [(d["label"], d["amount"]) for d in pv["per_type"]] == [("转让", "¥26万"), ("普通许可", "¥50,000")]


def test_one_price_for_every_deal_type_shows_one_amount(app):
    listing = factories.make_listing(price=260_000_00)
    with app.test_request_context():
        pv = price_view(listing)
    assert pv["per_type"] == [] and pv["amount"] == "¥26万"


def test_a_negotiable_listing_with_a_licence_guide_price_reads_参考价_and_面议(app):
    listing = factories.make_listing(price_mode="negotiable", price=None,
                                     deal_prices={"non_exclusive_license": 50_000_00})
    with app.test_request_context():
        pv = price_view(listing)
    assert pv["label"] == "参考价"
    assert [(d["label"], d["amount"]) for d in pv["per_type"]] == [("转让", "面议"), ("普通许可", "¥50,000")]


def test_the_listing_page_card_and_buy_form_show_both_prices(client, both, as_user):
    page = client.get(f"/listings/{both.id}").get_data(as_text=True)
    assert 'data-deal-type="assignment">转让 <strong class="price">¥26万</strong>' in page
    assert 'data-deal-type="non_exclusive_license">普通许可 <strong class="price">¥50,000</strong>' in page
    assert "各交易方式同价" not in page
    as_user(factories.make_user("buyer"))
    db.session.commit()
    page = client.get(f"/listings/{both.id}").get_data(as_text=True)
    assert "转让 · ¥26万" in page and "普通许可 · ¥50,000" in page  # the deal type radios
    assert "¥50,000.00" in page and "¥260,000.00" in page  # each deal type's fee quote
    home = client.get("/").get_data(as_text=True)
    assert 'data-deal-type="non_exclusive_license">普通许可 <strong class="price">¥50,000</strong>' in home


def test_a_search_row_shows_both_prices(client, both):
    from search import outbox

    outbox.reindex()
    res = client.get("/api/v1/search", query_string={"q": both.title[:6]})
    hits = [h for h in res.get_json()["results"] if h["id"] == both.id]
    assert hits and hits[0]["prices"] == [{"deal_type": "assignment", "price": 260_000_00},
                                         {"deal_type": "non_exclusive_license", "price": 50_000_00}]
    page = client.get("/search", query_string={"q": both.title[:6]}).get_data(as_text=True)
    assert 'data-deal-type="non_exclusive_license">普通许可 <strong class="price">¥50,000</strong>' in page


def test_the_form_saves_a_price_per_deal_type_and_shows_it_again(client, seller, as_user):
    from .test_pages import _wizard_form

    as_user(seller)
    form = _wizard_form(deal_types=["assignment", "non_exclusive_license"], price="26万",
                        **{"deal_prices-non_exclusive_license": "5万"})
    res = client.post("/listings/new?kind=patent", data=form)
    assert res.status_code == 302, res.get_data(as_text=True)
    listing = db.session.query(Listing).one()
    assert listing.price == 260_000_00 and listing.deal_prices == {"non_exclusive_license": 50_000_00}
    page = client.get(f"/listings/{listing.id}/edit").get_data(as_text=True)
    assert 'name="deal_prices-non_exclusive_license" value="50000"' in page


def test_the_form_refuses_a_price_for_a_deal_type_not_chosen_and_stores_nothing(client, seller, as_user):
    from .test_pages import _wizard_form

    as_user(seller)
    res = client.post("/listings/new?kind=patent", data=_wizard_form(**{"deal_prices-exclusive_license": "8万"}))
    assert res.status_code == 422
    html = res.get_data(as_text=True)
    assert 'id="f-deal_prices-exclusive_license-error"' in html and "未选择这种交易方式" in html
    assert db.session.query(Listing).count() == 0


def test_a_relisted_listing_keeps_its_prices_per_deal_type(both):
    from listings.lifecycle import RELIST_COLUMNS

    assert "deal_prices" in RELIST_COLUMNS
