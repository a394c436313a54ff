"""Issue 20 on the licensing API: the schemas the OpenAPI document is generated from validate each body (JSON, or
the multipart report's text fields); a refusal is a 422 naming the field and changes nothing, the same request
within the schema is taken."""
import io
from datetime import datetime, time, timedelta, timezone

import pytest

from escrow import royalties
from listings.models import OpenLicence
from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import SHANGHAI
from tests import factories
from tests.probes import count, nothing_changes

from .conftest import PERCENT_TERMS, take_and_pay

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _call(client, user, method, path, **kw):
    headers = factories.auth_header(user)
    db.session.commit()
    return client.open(path, method=method, headers=headers, **kw)


def _fields(response):
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "validation_error"
    return response.get_json()["error"]["fields"]


@pytest.mark.parametrize("change,field", [
    ({"royalty_kind": "barter"}, "royalty_kind"),
    ({"royalty_bps": 10_001}, "royalty_bps"),
    ({"royalty_bps": "5%"}, "royalty_bps"),
    ({"term_years": 21}, "term_years"),
    ({"period": "month"}, "period"),
    ({"exclusive": True}, "exclusive"),  # an unknown key: was the service's own check, now the schema's
])
def test_declaring_with_terms_the_schema_refuses_declares_nothing(client, people, change, field):
    listing = factories.make_listing(people.holder, deal_types=("non_exclusive_license",))
    path = f"/api/v1/listings/{listing.id}/open-licence"
    with nothing_changes():
        assert field in _fields(_call(client, people.holder, "POST", path, json={**PERCENT_TERMS, **change}))
    answer = _call(client, people.holder, "POST", path, json=PERCENT_TERMS)
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["open_licence"]["status"] == "open"
    assert count(OpenLicence, OpenLicence.listing_id == listing.id) == 1


def test_withdrawing_with_a_reason_too_long_withdraws_nothing(client, people, declared):
    decl = declared()
    path = f"/api/v1/open-licences/{decl.id}/withdraw"
    with nothing_changes():
        assert "reason" in _fields(_call(client, people.holder, "POST", path, json={"reason": "因" * 301}))
    answer = _call(client, people.holder, "POST", path, json={"reason": "专利将转让"})
    assert answer.status_code == 200 and answer.get_json()["open_licence"]["status"] == "withdrawn"


def _noon_after(day):
    local_noon = datetime.combine(day + timedelta(days=1), time(12, 0), tzinfo=SHANGHAI)
    return local_noon.astimezone(timezone.utc).replace(tzinfo=None)


def test_the_multipart_report_goes_through_the_routes_schema(client, people, declared, monkeypatch):
    decl = declared()
    taker = people.takers[0]
    _deal, licence = take_and_pay(decl, taker, people.operator)
    period = licence.periods[0]
    monkeypatch.setattr(royalties, "utcnow", lambda: _noon_after(period.ends_on))
    path = f"/api/v1/licences/{licence.id}/periods/{period.id}/report"

    def form(**fields):
        return {"attachment": (io.BytesIO(PDF), "sales.pdf"), **fields}

    with nothing_changes():
        for data, field in ((form(net_sales="1.5"), "net_sales"), (form(net_sales="-1"), "net_sales"),
                            (form(), "net_sales"), (form(net_sales="100", note="注" * 501), "note"),
                            (form(net_sales="100", sales="100"), "sales")):
            assert field in _fields(_call(client, taker, "POST", path, data=data, content_type="multipart/form-data"))
        # JSON: the same schema
        assert "net_sales" in _fields(_call(client, taker, "POST", path, json={"net_sales": "lots"}))
    answer = _call(client, taker, "POST", path, data=form(net_sales="100000000", note="一季度"),
                   content_type="multipart/form-data")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["period"]["net_sales"] == 100_000_000 and answer.get_json()["period"]["has_attachment"]


def test_royalty_terms_null_is_not_given_and_unknown_keys_are_refused(client, people):
    from tests.licensing.test_royalties import _negotiated

    deal, licence = _negotiated(people, {"royalty_bps": 275, "period": "quarter"}, sign=False)
    path = f"/api/v1/deals/{deal.id}/royalty-terms"
    with nothing_changes():
        assert "field_of_use" in _fields(_call(client, people.holder, "PUT", path, json={
            "royalty_bps": 300, "period": "year", "field_of_use": "医疗"}))
        assert "instalments[0].amount" in _fields(_call(client, people.holder, "PUT", path, json={
            "instalments": [{"due_on": "2027-06-30", "amount": 0}]}))
    answer = _call(client, people.holder, "PUT", path, json={"royalty_bps": 300, "period": "year",
                                                               "sublicensing": None, "yearly_minimum": None})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["licence"]["royalty_bps"] == 300 and answer.get_json()["licence"]["sublicensing"] is False


def test_operator_confirmation_and_payout_bodies_are_checked_by_their_schemas(client, people, declared):
    decl = declared()
    _deal, licence = take_and_pay(decl, people.takers[0], people.operator)
    period = licence.periods[0]
    with nothing_changes():
        assert "amount" in _fields(_call(client, people.operator, "POST", f"/api/v1/operator/royalties/{period.id}/confirm",
                                         json={"reference": "IPR123", "amount": "1.5"}))
        assert "reference" in _fields(_call(client, people.operator, "POST",
                                            f"/api/v1/operator/royalties/{period.id}/payout", json={"reference": "BO"}))
    # within the schemas, the period's state decides (nothing to confirm or pay out yet): 409, not 422
    assert _call(client, people.operator, "POST", f"/api/v1/operator/royalties/{period.id}/payout",
                 json={"reference": "BOC2026120500001"}).status_code == 409
