"""Fixtures for search tests: a richer listing factory and helpers to query the API."""
from datetime import timedelta

import pytest

from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow
from tests import factories


def make_search_listing(seller=None, *, title, kind="patent", description="", grade=None, price=1_000_000_00,
                        price_mode="fixed", deal_types=("assignment",), ipc_codes=("H01M 4/36",), nice_classes=(9,),
                        patent_type="invention", number=None, region=None, status="published", age_days=0,
                        goods=None, abstract=None):
    """A listing with one right whose classification, grade, price and region are given."""
    seller = seller or factories.make_user("seller")
    auction = None
    if price_mode == "auction":
        auction = {"start_price": price or 100_000_00}
    listing = factories.make_listing(seller, status=status, price_mode=price_mode,
                                     price=price if price_mode != "auction" else None, deal_types=deal_types,
                                     kind=kind, title=title, number=number, auction=auction, grade=grade)
    listing.description = description
    if region is not None:
        listing.region = region
    right = listing.rights[0]
    if kind == "patent":
        right.ipc_codes = list(ipc_codes)
        right.patent_type = patent_type
        right.abstract = abstract
    else:
        right.title = title
        right.nice_classes = list(nice_classes)
        right.goods = list(goods or [])
    if listing.published_at is not None:
        listing.published_at = utcnow() - timedelta(days=age_days)
    db.session.flush()
    return listing


@pytest.fixture
def listing_factory(app):
    return make_search_listing


@pytest.fixture
def search_api(client):
    """search_api(**params) -> the JSON body (asserting 200)."""

    def run(**params):
        response = client.get("/api/v1/search", query_string=params)
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    return run


def ids(body):
    return [r["id"] for r in body["results"]]
