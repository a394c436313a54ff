"""Helpers for the operator-area tests: uploads, deals in a given state, a second organisation."""
import io
from datetime import timedelta

import pytest
from werkzeug.datastructures import FileStorage

from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow
from tests import factories
from tests.factories import PDF, PNG  # noqa: F401 (conftest: shared with the tests)


def pdf_upload(name="licence.pdf", data=PDF):
    """A (stream, filename) pair for the test client's multipart form data."""
    return (io.BytesIO(data), name)


def file_storage(name="evidence.pdf", data=PDF):
    return FileStorage(stream=io.BytesIO(data), filename=name, content_type="application/pdf")


def make_deal(listing, buyer, *, state="funded", price=None, deal_type="assignment", created_at=None,
              gateway="offline", funded_after=None, recorded_after=None):
    """A deal row in ``state`` (built directly: these tests read deals, the escrow tests move them).

    ``funded_after``/``recorded_after`` (timedeltas from ``created_at``) add the DealEvents
    the statistics read for the time from funding to recordal.
    """
    from escrow.models import Deal, DealEvent

    created_at = created_at or utcnow()
    price = price or listing.price or 500_000_00
    deal = Deal(listing_id=listing.id, buyer_id=buyer.id, seller_id=listing.seller_id,
                organization_id=listing.organization_id, deal_type=deal_type, source="purchase", price=price,
                fee=price * 3 // 100, fee_bps=300, currency="CNY", state=state, gateway=gateway, created_at=created_at)
    db.session.add(deal)
    db.session.flush()
    db.session.add(DealEvent(deal_id=deal.id, actor_id=buyer.id, action="open", to_state="awaiting_payment",
                             created_at=created_at))
    if funded_after is not None:
        db.session.add(DealEvent(deal_id=deal.id, action="confirm_payment", from_state="awaiting_payment",
                                 to_state="funded", created_at=created_at + funded_after))
    if recorded_after is not None:
        db.session.add(DealEvent(deal_id=deal.id, action="transfer_recorded", from_state="transfer_filed",
                                 to_state="transfer_recorded", created_at=created_at + recorded_after))
    db.session.flush()
    return deal


@pytest.fixture
def other_seller(app):
    user = factories.make_user("seller")
    db.session.commit()
    return user


@pytest.fixture
def days():
    return lambda n: timedelta(days=n)
