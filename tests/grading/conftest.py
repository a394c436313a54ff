"""Fixtures for the grades tests: listings with concrete facts, and a full set of scores."""
from datetime import date

import pytest

from listings import grading
from marketplace.kernel.extensions import db
from tests import factories


def add_years(day, years):
    return grading._add_years(day, years)


@pytest.fixture
def today():
    return date.today()


@pytest.fixture
def patent_listing(app, seller):
    listing = factories.make_listing(seller)
    db.session.commit()
    return listing


@pytest.fixture
def trademark_listing(app, seller):
    listing = factories.make_listing(seller, kind="trademark", number="22334455")
    db.session.commit()
    return listing


def full_scores(kind, value=8):
    return {key: value for key in grading.indicator_keys(kind)}


RATIONALE = "技术方案成熟，已有量产产品，权利要求布局合理，市场前景良好。"
