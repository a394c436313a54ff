"""Issue 14, "every 4xx, never a 500": adversarial numbers, page numbers, JSON constants and CSV cells
over HTTP, on whichever database the suite runs on (SQLite, or PostgreSQL with TEST_DATABASE_URL).

Each case checks the status (a 4xx, or the documented forgiving 200/302 of an HTML page) and that the
refusal changed nothing. The timing bounds of the parsers and renderers are in test_adversarial_inputs.py.
"""
import io

import pytest

from escrow.models import Deal
from listings.models import Bid, Listing, Offer
from marketplace.kernel.extensions import db
from tests import factories
from tests.listings.conftest import patent_payload
from tests.probes import nothing_changes
from tests.security.conftest import client_for

LONG_DIGITS = "9" * 10_000
# Query-string and form spellings that are not a plain ASCII number (or are far too long).
NOT_NUMBERS = ["٣", "３", "１２３", "²", "1_000", "1e3", "NaN", "nan", "Infinity", "-Infinity", "inf", "1e999",
               "0x10", "abc", "9" * 25, LONG_DIGITS, "\u0663\u0664"]
BAD_NUMBERS = NOT_NUMBERS + ["-1", "0", "", " "]
BAD_YUAN = ["Infinity", "-Infinity", "NaN", "inf", "1e999", "1e999999999", "１２３", "٣", LONG_DIGITS, "1.234",
            "9" * 30]
# Raw JSON literals that Python's json would take: NaN, Infinity, 1e999 (= inf) and very long numbers.
BAD_JSON_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "9" * 30, "1" * 4000, "1e308", "1.5e300"]


def _id(value):
    """Short test ids: a 10,000-digit parameter is named by its length."""
    text = str(value)
    return text if len(text) <= 24 else f"{text[:8]}…({len(text)} chars)"


def _count(model):
    db.session.expire_all()
    return db.session.query(model).count()


# --- query strings: page numbers and filters --------------------------------------------------------


@pytest.mark.parametrize("value", NOT_NUMBERS, ids=_id)
def test_search_api_numbers_are_a_422(app, value):
    client = app.test_client()
    for key in ("page", "per_page", "price_min", "price_max", "nice_class"):
        response = client.get("/api/v1/search", query_string={key: value})
        assert response.status_code == 422, (key, value, response.status_code)
        assert key in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("value", BAD_NUMBERS, ids=_id)
def test_search_page_ignores_bad_numbers(app, value):
    client = app.test_client()
    for key in ("page", "per_page", "price_min", "price_max", "nice_class"):
        response = client.get("/search", query_string={key: value, "q": "电池"})
        assert response.status_code == 200, (key, value, response.status_code)


@pytest.mark.parametrize("value", BAD_NUMBERS + [str(10**17), str(2**63)], ids=_id)
def test_notification_pages_never_fail(app, value):
    user = factories.make_user("buyer")
    headers = factories.auth_header(user)
    db.session.commit()
    api = app.test_client().get("/api/v1/notifications", query_string={"page": value}, headers=headers)
    if value.strip():
        assert api.status_code == 422, (value, api.status_code)
    else:  # an empty parameter is "not given" (docs/api.md, as on GET /search since issue 20's query schemas)
        assert api.status_code == 200 and api.get_json()["page"] == 1, (value, api.status_code)
    html, _ = client_for(app, user)
    page = html.get("/notifications", query_string={"page": value})
    assert page.status_code == 200 and "<h1>消息中心</h1>" in page.get_data(as_text=True)


@pytest.mark.parametrize("value", BAD_NUMBERS + [str(10**17), str(2**63)], ids=_id)
def test_operator_lists_never_fail(app, value):
    operator = factories.make_user("operator")
    db.session.commit()
    client, _ = client_for(app, operator)
    for path, key, heading in (("/operator/audit", "page", "<h1>操作日志</h1>"),
                               ("/operator/audit", "actor", "<h1>操作日志</h1>"),
                               ("/operator/credit", "page", "<h1>信用记录</h1>")):
        page = client.get(path, query_string={key: value})
        assert page.status_code == 200 and heading in page.get_data(as_text=True), (path, key)


@pytest.mark.parametrize("path", ["/listings/\u0663", "/listings/\uff13", "/api/v1/listings/\u0663",
                                  f"/api/v1/listings/{LONG_DIGITS}", f"/listings/{LONG_DIGITS}",
                                  f"/deals/{LONG_DIGITS}", "/api/v1/listings/\u00b2"], ids=_id)
def test_ids_in_paths_are_ascii_and_bounded(app, path):
    """Listing 3 exists: ``/listings/٣`` used to show it (werkzeug's ``\\d+`` and int() take Unicode digits)."""
    listings = [factories.make_listing(factories.make_user("seller"), title=f"第{n}号挂牌") for n in range(1, 4)]
    db.session.commit()
    response = app.test_client().get(path)
    assert response.status_code == 404, path
    assert not any(listing.title in response.get_data(as_text=True) for listing in listings)


# --- JSON bodies -------------------------------------------------------------------------------------


@pytest.mark.parametrize("literal", BAD_JSON_NUMBERS, ids=_id)
def test_json_numbers_nan_infinity_and_long_are_refused(app, literal):
    seller = factories.make_user("seller")
    buyer = factories.make_user("buyer")
    negotiable = factories.make_listing(seller, price_mode="negotiable", price=None)
    headers = {**factories.auth_header(buyer), "Content-Type": "application/json"}
    seller_headers = {**factories.auth_header(seller), "Content-Type": "application/json"}
    db.session.commit()
    client = app.test_client()
    offers, listings = _count(Offer), _count(Listing)
    response = client.post(f"/api/v1/listings/{negotiable.id}/offers", headers=headers,
                           data='{"amount": %s, "deal_type": "assignment"}' % literal)
    assert response.status_code == 422, (literal, response.status_code)
    assert "body" in response.get_json()["error"]["fields"] or "amount" in response.get_json()["error"]["fields"]
    body = app.json.dumps(patent_payload()).replace('"price": 50000000', '"price": %s' % literal)
    response = client.post("/api/v1/listings", headers=seller_headers, data=body)
    assert response.status_code == 422, (literal, response.status_code)
    assert (_count(Offer), _count(Listing)) == (offers, listings)


def test_a_nan_in_json_is_named_in_the_error(app):
    buyer = factories.make_user("buyer")
    headers = {**factories.auth_header(buyer), "Content-Type": "application/json"}
    db.session.commit()
    response = app.test_client().post("/api/v1/listings/1/bids", headers=headers, data='{"amount": NaN}')
    assert response.status_code == 422
    assert "NaN" in response.get_json()["error"]["fields"]["body"]


@pytest.mark.parametrize("price", ["１２３", "٣", LONG_DIGITS, "1e5", "NaN", "Infinity", 1.5, "12.0", True], ids=_id)
def test_listing_numbers_in_json_are_a_field_error(app, price):
    seller = factories.make_user("seller")
    headers = factories.auth_header(seller)
    db.session.commit()
    response = app.test_client().post("/api/v1/listings", headers=headers, json=patent_payload(price=price))
    assert response.status_code == 422, (price, response.status_code)
    assert "price" in response.get_json()["error"]["fields"]
    assert _count(Listing) == 0


# --- HTML forms with yuan amounts ----------------------------------------------------------------------


@pytest.mark.parametrize("amount", BAD_YUAN, ids=_id)
def test_offer_and_bid_forms_refuse_odd_amounts(app, amount):
    from datetime import timedelta

    from marketplace.kernel.timeutil import utcnow

    seller, buyer = factories.make_user("seller"), factories.make_user("buyer")
    negotiable = factories.make_listing(seller, price_mode="negotiable", price=None)
    auction = factories.make_listing(seller, price_mode="auction", auction={"ends_at": utcnow() + timedelta(days=2)})
    db.session.commit()
    client, _ = client_for(app, buyer)
    offer = client.post(f"/listings/{negotiable.id}/offer", data={"amount": amount, "deal_type": "assignment"})
    bid = client.post(f"/listings/{auction.id}/bid", data={"amount": amount})
    assert offer.status_code in (302, 303, 422) and bid.status_code in (302, 303, 422), (offer.status_code,
                                                                                          bid.status_code)
    assert _count(Offer) == 0 and _count(Bid) == 0


@pytest.mark.parametrize("amount", BAD_YUAN, ids=_id)
def test_deal_forms_refuse_odd_amounts(app, world, amount):
    deal = world.deal("awaiting_payment")
    disputed = world.deal("disputed")
    client, _ = client_for(app, world.operator)
    confirm = client.post(f"/deals/{deal.id}/confirm-payment",
                          data={"confirm_payment-reference": deal.payment_reference,
                                "confirm_payment-amount": amount})
    resolve = client.post(f"/deals/{disputed.id}/resolve",
                          data={"resolve-outcome": "split", "resolve-seller_share": amount, "resolve-note": "x"})
    assert confirm.status_code < 500 and resolve.status_code < 500, (confirm.status_code, resolve.status_code)
    db.session.expire_all()
    assert db.session.get(Deal, deal.id).state == "awaiting_payment"
    assert db.session.get(Deal, disputed.id).state == "disputed"


@pytest.mark.parametrize("value", ["abc", "²", "٣", LONG_DIGITS, "-5", "NaN"], ids=_id)
def test_listing_wizard_row_count_and_bundle_ids_never_fail(app, value):
    seller = factories.make_user("seller")
    listing = factories.make_listing(seller, status="draft")
    db.session.commit()
    client, _ = client_for(app, seller)
    with nothing_changes():  # an incomplete form saves nothing; a bundle of no real listing bundles nothing
        for action in ("add_right", "preview", "save"):
            response = client.post("/listings/new?kind=patent", data={"action": action, "right_count": value})
            assert response.status_code < 500, (action, value, response.status_code)
        response = client.post(f"/listings/{listing.id}/bundle", data={"bundle": [value]})
        assert response.status_code in (302, 303), response.status_code


# --- CSV import --------------------------------------------------------------------------------------


def _csv_upload(client, text):
    return client.post("/listings/import", data={"file": (io.BytesIO(text.encode("utf-8")), "rights.csv")},
                       content_type="multipart/form-data")


@pytest.mark.parametrize("price", ["Infinity", "NaN", "1e999999999", LONG_DIGITS, "１２３"], ids=_id)
def test_csv_import_odd_amounts_are_row_errors(app, price):
    seller = factories.make_user("seller")
    db.session.commit()
    client, _ = client_for(app, seller)
    response = _csv_upload(client, f"kind,deal_types,price_mode,price_yuan\npatent,assignment,fixed,{price}\n")
    assert response.status_code in (200, 422), response.status_code
    assert "price_yuan" in response.get_data(as_text=True)
    assert _count(Listing) == 0


# --- Markdown: the preview and the listing page ---------------------------------------------------------


def test_preview_refuses_a_description_over_the_limit_and_renders_one_at_it(app):
    from listings.vocab import MAX_DESCRIPTION

    seller = factories.make_user("seller")
    db.session.commit()
    client, _ = client_for(app, seller)
    over = client.post("/listings/new?kind=patent", data={"action": "preview", "description": "[" * (MAX_DESCRIPTION + 1)})
    assert over.status_code == 422
    assert str(MAX_DESCRIPTION) in over.get_data(as_text=True)
    at = client.post("/listings/new?kind=patent", data={"action": "preview", "description": "**ok** " * 100})
    assert at.status_code == 200 and "<strong>ok</strong>" in at.get_data(as_text=True)
    assert _count(Listing) == 0


@pytest.mark.parametrize("description", ["* " * 5000 + "a", "".join("  " * i + "- x\n" for i in range(600)),
                                         ">" * 19_000 + " x", "[" * 20_000], ids=["stars", "nested-lists", "quotes",
                                                                                   "brackets"])
def test_pathological_descriptions_render(app, description):
    """'* * * … a' and lists nested 500 deep raised RecursionError in Python-Markdown: a 500 on every page
    showing the description (and in the API's description_html)."""
    seller = factories.make_user("seller")
    listing = factories.make_listing(seller, status="published")
    listing.description = description
    db.session.commit()
    client = app.test_client()
    page = client.get(f"/listings/{listing.id}")
    assert page.status_code == 200 and listing.title in page.get_data(as_text=True)
    api = client.get(f"/api/v1/listings/{listing.id}")
    assert api.status_code == 200 and api.get_json()["listing"]["description_html"]


@pytest.mark.parametrize("length", [20_001, 131_073, 2_000_000], ids=str)
def test_csv_import_overlong_fields_are_never_a_500(app, length):
    seller = factories.make_user("seller")
    db.session.commit()
    client, _ = client_for(app, seller)
    response = _csv_upload(client, f"kind,deal_types,price_mode,description\npatent,assignment,fixed,{'x' * length}\n")
    assert response.status_code in (200, 422), response.status_code
    assert "description" in response.get_data(as_text=True)
    assert _count(Listing) == 0


def test_csv_import_over_the_byte_limit_is_a_422(app):
    from listings import importer

    seller = factories.make_user("seller")
    db.session.commit()
    client, _ = client_for(app, seller)
    line = "patent,assignment,fixed," + "x" * 1000 + "\n"
    text = "kind,deal_types,price_mode,description\n" + line * (importer.MAX_CSV_BYTES // len(line) + 1)
    assert _csv_upload(client, text).status_code == 422
    assert _count(Listing) == 0


def test_deeply_nested_json_is_a_422(app):
    """json.loads raised RecursionError on 10,000 nested arrays: not a ValueError, so get_json let it through (500)."""
    buyer = factories.make_user("buyer")
    headers = {**factories.auth_header(buyer), "Content-Type": "application/json"}
    db.session.commit()
    body = '{"amount": ' + "[" * 10_000 + "]" * 10_000 + "}"
    response = app.test_client().post("/api/v1/listings/1/bids", headers=headers, data=body)
    assert response.status_code == 422
    assert "body" in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("field,value", [("nice_classes", ["²"]), ("nice_classes", ["٣"]), ("nice_classes", ["9" * 5000]),
                                         ("registration_number", "²²²²²²²²"), ("registration_number", "１２３４５６７８")],
                         ids=_id)
def test_trademark_identifiers_take_ascii_digits_only(app, field, value):
    """normalize_nice_class: "²".isdigit() is true and int("²") raised ValueError (a 500); "٣" was class 3."""
    from tests.listings.conftest import trademark_payload

    seller = factories.make_user("seller")
    headers = factories.auth_header(seller)
    db.session.commit()
    response = app.test_client().post("/api/v1/listings", headers=headers,
                                      json=trademark_payload(trademark={field: value}))
    assert response.status_code == 422, response.status_code
    assert any(field in key for key in response.get_json()["error"]["fields"])
    assert _count(Listing) == 0


@pytest.mark.parametrize("number", ["²" * 12 + ".1", "²" * 12, "٣" * 8 + ".1"], ids=_id)
def test_patent_application_numbers_take_ascii_digits_only(app, number):
    seller = factories.make_user("seller")
    headers = factories.auth_header(seller)
    db.session.commit()
    response = app.test_client().post("/api/v1/listings", headers=headers,
                                      json=patent_payload(patent={"application_number": number}))
    assert response.status_code == 422, response.status_code
    assert _count(Listing) == 0
