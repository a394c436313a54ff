"""With CSRF on (as in production), deal forms carry a token that works, and a POST without it is refused."""
import re

import pytest

from escrow.models import Deal
from marketplace.kernel.extensions import db
from tests.escrow.conftest import drive


@pytest.fixture
def app_config():
    return {"WTF_CSRF_ENABLED": True}


def _token(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_deal_forms_need_and_accept_the_csrf_token(app, client, as_user, open_deal, parties):
    deal = drive(open_deal().id, "transfer_recorded", parties)
    as_user(parties.buyer)
    html = client.get(f"/deals/{deal.id}").get_data(as_text=True)
    assert client.post(f"/deals/{deal.id}/accept").status_code == 400
    assert db.session.get(Deal, deal.id).state == "transfer_recorded"
    response = client.post(f"/deals/{deal.id}/accept", data={"csrf_token": _token(html)})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Deal, deal.id).state == "released"


def test_queue_form_with_token(app, client, as_user, open_deal, parties):
    deal = open_deal(price=12_300)
    as_user(parties.operator)
    html = client.get("/operator/payments").get_data(as_text=True)
    response = client.post(f"/deals/{deal.id}/confirm-payment",
                           data={"csrf_token": _token(html), "confirm_payment-reference": deal.payment_reference,
                                 "confirm_payment-amount": "123", "next": "payments"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/operator/payments")
    db.session.expire_all()
    assert db.session.get(Deal, deal.id).state == "funded"
