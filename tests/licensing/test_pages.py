"""The licensing pages (issue 16): the declaration form with its errors, the one-step take from the listing page,
the licence page with the negotiated-terms form, the dashboards, and the English switch."""
from sqlalchemy import func, select

from escrow import deals, royalties
from escrow.models import Deal
from listings.models import OpenLicence
from marketplace.kernel.extensions import db
from tests import factories
from tests.conftest import login

GOOD = {"royalty_kind": "percent", "royalty_percent": "2.75", "yearly_minimum": "50,000.00", "period": "quarter",
        "term_years": "3"}


def test_declare_form_shows_errors_and_stores_nothing_then_declares(app, client, people):
    listing = factories.make_listing(people.holder, deal_types=("non_exclusive_license",))
    db.session.commit()
    login(client, people.holder)
    page = client.get(f"/listings/{listing.id}").get_data(as_text=True)
    assert f"/listings/{listing.id}/open-licence" in page  # the holder's link
    form = client.get(f"/listings/{listing.id}/open-licence")
    assert form.status_code == 200 and "提成比例（%）" in form.get_data(as_text=True)
    r = client.post(f"/listings/{listing.id}/open-licence", data={**GOOD, "royalty_percent": "120"})
    assert r.status_code == 422 and "0–100%" in r.get_data(as_text=True)
    r = client.post(f"/listings/{listing.id}/open-licence", data={**GOOD, "royalty_percent": "2.755"})
    assert r.status_code == 422 and "两位小数" in r.get_data(as_text=True)
    assert db.session.scalar(select(func.count(OpenLicence.id))) == 0
    r = client.post(f"/listings/{listing.id}/open-licence", data=GOOD)
    assert r.status_code == 302
    decl = db.session.scalar(select(OpenLicence))
    assert decl.royalty_bps == 275 and decl.yearly_minimum == 50_000_00 and decl.period == "quarter"


def test_a_trademark_declaration_is_refused_on_the_form(app, client, people):
    listing = factories.make_listing(people.holder, kind="trademark", deal_types=("non_exclusive_license",))
    db.session.commit()
    login(client, people.holder)
    r = client.post(f"/listings/{listing.id}/open-licence", data=GOOD)
    assert r.status_code == 409 and "商标" in r.get_data(as_text=True)
    assert db.session.scalar(select(func.count(OpenLicence.id))) == 0


def test_take_from_the_listing_page_opens_the_deal(app, client, people, declared):
    decl = declared()
    taker = people.takers[0]
    login(client, taker)
    page = client.get(f"/listings/{decl.listing_id}").get_data(as_text=True)
    assert "接受条件，取得许可" in page and "5%" in page
    r = client.post(f"/open-licences/{decl.id}/take")
    deal = db.session.scalar(select(Deal))
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/deals/{deal.id}")
    licences = client.get("/licences").get_data(as_text=True)
    assert "我取得的许可" in licences and "我许可出去的" not in licences and decl.listing.title in licences


def test_licensor_sets_negotiated_terms_on_the_licence_page(app, client, people):
    listing = factories.make_listing(people.holder, deal_types=("non_exclusive_license",))
    deal = deals.open_deal(listing, people.takers[0], 30_000_00, "non_exclusive_license", "purchase")
    licence = royalties.licence_for(deal)
    db.session.commit()
    login(client, people.holder)
    page = client.get(f"/licences/{licence.id}")
    assert page.status_code == 200 and "约定提成" in page.get_data(as_text=True)
    r = client.post(f"/deals/{deal.id}/royalty-terms", data={"royalty_percent": "abc", "period": "year"})
    assert r.status_code == 302
    db.session.refresh(licence)
    assert licence.royalty_bps is None
    r = client.post(f"/deals/{deal.id}/royalty-terms", data={"royalty_percent": "4", "period": "year",
                                                            "yearly_minimum": "1,000", "sublicensing": "1"})
    assert r.status_code == 302
    db.session.refresh(licence)
    assert (licence.royalty_bps, licence.yearly_minimum, licence.sublicensing) == (400, 1_000_00, True)


def test_pages_in_english(app, client, people, declared):
    decl = declared()
    login(client, people.holder)
    client.get("/?lang=en")
    assert "Open licences" in client.get("/open-licences").get_data(as_text=True)
    listing = factories.make_listing(people.holder, deal_types=("non_exclusive_license",))
    db.session.commit()
    form = client.get(f"/listings/{listing.id}/open-licence").get_data(as_text=True)
    assert "Royalty rate (%)" in form and "Declare an open licence" in form
    assert "Withdraw the open licence" in client.get(f"/listings/{decl.listing_id}").get_data(as_text=True)
