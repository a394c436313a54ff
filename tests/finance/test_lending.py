"""Pledge financing rules: what an application may pledge, who sees it, who acts at each step; each refusal
changes nothing."""
import pytest

from finance.models import LoanApplication, LoanMessage, LoanOffer
from listings.models import Encumbrance, Right
from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import local, utcnow
from tests import factories
from tests.probes import nothing_changes

from .conftest import api, make_patent


def _apply(client, desk, user=None, **kw):
    body = {"rights": desk.rights(), "amount": 30_000_00, "term_months": 12, "purpose": "购置生产设备",
            "banks": [desk.bank.organization_id]}
    body.update(kw)
    return api(client, user or desk.sme, "POST", "/loans", json=body)


def _count():
    db.session.expire_all()
    return db.session.query(LoanApplication).count()


def _state(aid):
    db.session.expire_all()
    a = db.session.get(LoanApplication, aid)
    return a.status, len(a.offers), len(a.messages), a.pledge_number


def test_rights_the_applicant_does_not_hold_are_refused(client, desk):
    theirs = make_patent(desk.other_sme)
    db.session.commit()
    r = _apply(client, desk, rights=[{"kind": "patent", "number": theirs.number}])
    assert r.status_code == 422 and "rights[0]" in r.get_json()["error"]["fields"]
    assert _count() == 0


def test_rights_already_pledged_are_refused(client, desk):
    desk.patent.encumbrances.append(Encumbrance(kind="pledge", party_name="建设银行", source="operator"))
    db.session.commit()
    r = _apply(client, desk)
    assert r.status_code == 422 and "rights[0]" in r.get_json()["error"]["fields"]
    assert _count() == 0


def test_rights_in_another_running_application_are_refused(client, desk):
    assert _apply(client, desk).status_code == 201
    r = _apply(client, desk, rights=desk.rights(desk.trademark))
    assert r.status_code == 422 and "rights[0]" in r.get_json()["error"]["fields"]
    assert _count() == 1


@pytest.mark.parametrize("change,field", [
    ({"amount": 0}, "amount"), ({"amount": -5}, "amount"), ({"term_months": 0}, "term_months"),
    ({"term_months": 361}, "term_months"), ({"purpose": "短"}, "purpose"), ({"banks": [], "listed": False}, "banks"),
    ({"banks": [999999]}, "banks[0]"), ({"listed": "yes"}, "listed"), ({"valuation_id": 424242}, "valuation_id"),
])
def test_bad_applications_are_refused_naming_the_field(client, desk, change, field):
    r = _apply(client, desk, **change)
    assert r.status_code == 422 and field in r.get_json()["error"]["fields"], r.get_json()
    assert _count() == 0


def test_a_bank_organisation_not_verified_is_no_bank(client, desk):
    desk.other_bank.organization.verified = False
    db.session.commit()
    with nothing_changes():
        r = _apply(client, desk, banks=[desk.other_bank.organization_id])
        queue = api(client, desk.other_bank, "GET", "/loans/queue")
    assert r.status_code == 422 and "banks[0]" in r.get_json()["error"]["fields"], r.get_json()
    assert queue.status_code == 403 and "applications" not in queue.get_json()


def test_who_sees_an_application(client, desk):
    aid = _apply(client, desk).get_json()["application"]["id"]
    allowed = [desk.sme, desk.colleague, desk.bank, desk.operator]
    for user in allowed:
        assert api(client, user, "GET", f"/loans/{aid}").status_code == 200, user.roles
    for user in (desk.other_sme, desk.other_bank, desk.valuer, desk.issuer):
        assert api(client, user, "GET", f"/loans/{aid}").status_code == 404, user.roles
    assert api(client, None, "GET", f"/loans/{aid}").status_code == 401
    # an SME sees only its own applications
    assert api(client, desk.other_sme, "GET", "/loans").get_json()["applications"] == []
    assert [a["id"] for a in api(client, desk.sme, "GET", "/loans").get_json()["applications"]] == [aid]
    # the SME's own staff cannot reach the banks' queue
    assert api(client, desk.sme, "GET", "/loans/queue").status_code == 403


def test_the_project_database_shows_listed_applications_to_every_bank(client, desk):
    aid = _apply(client, desk, banks=[], listed=True).get_json()["application"]["id"]
    for bank in (desk.bank, desk.other_bank):
        listed = api(client, bank, "GET", "/project-database").get_json()["applications"]
        assert [a["id"] for a in listed] == [aid]
    assert api(client, desk.sme, "GET", "/project-database").status_code == 403


def test_a_bank_sees_only_its_own_offers_and_questions(client, desk):
    aid = _apply(client, desk, banks=[desk.bank.organization_id, desk.other_bank.organization_id]
                 ).get_json()["application"]["id"]
    api(client, desk.bank, "POST", f"/loans/{aid}/offers", json={"amount": 1_000_00, "rate_bps": 400, "term_months": 12})
    api(client, desk.bank, "POST", f"/loans/{aid}/questions", json={"body": "请说明专利的实施情况"})
    seen = api(client, desk.other_bank, "GET", f"/loans/{aid}").get_json()["application"]
    assert seen["offers"] == [] and seen["messages"] == [] and seen["banks"] is None
    mine = api(client, desk.sme, "GET", f"/loans/{aid}").get_json()["application"]
    assert len(mine["offers"]) == 1 and len(mine["messages"]) == 1


def test_only_banks_ask_offer_or_decline_and_nothing_changes_when_refused(client, desk):
    aid = _apply(client, desk).get_json()["application"]["id"]
    before = _state(aid)
    for user in (desk.sme, desk.other_sme, desk.operator, desk.valuer):
        for path, body in (("questions", {"body": "问题问题"}), ("decline", {"reason": "不符合条件"}),
                           ("offers", {"amount": 100, "rate_bps": 400, "term_months": 12})):
            r = api(client, user, "POST", f"/loans/{aid}/{path}", json=body)
            assert r.status_code in (403, 404), (user.roles, path, r.status_code)
    # a bank the application was not sent to does not see it
    r = api(client, desk.other_bank, "POST", f"/loans/{aid}/offers", json={"amount": 100, "rate_bps": 400,
                                                                              "term_months": 12})
    assert r.status_code == 404
    assert _state(aid) == before


def test_an_offer_on_a_withdrawn_application_is_refused(client, desk):
    aid = _apply(client, desk).get_json()["application"]["id"]
    assert api(client, desk.bank, "POST", f"/loans/{aid}/withdraw").status_code in (403, 404)
    assert api(client, desk.sme, "POST", f"/loans/{aid}/withdraw").status_code == 200
    before = _state(aid)
    r = api(client, desk.bank, "POST", f"/loans/{aid}/offers", json={"amount": 100, "rate_bps": 400, "term_months": 12})
    assert r.status_code == 404  # withdrawn: banks no longer see it
    assert _state(aid) == before == ("withdrawn", 0, 0, None)


def test_bad_offers_are_refused_naming_the_field(client, desk):
    aid = _apply(client, desk).get_json()["application"]["id"]
    for body, field in (({"amount": 0, "rate_bps": 400, "term_months": 12}, "amount"),
                        ({"amount": 100, "rate_bps": 3601, "term_months": 12}, "rate_bps"),
                        ({"amount": 100, "rate_bps": 400, "term_months": 0}, "term_months")):
        r = api(client, desk.bank, "POST", f"/loans/{aid}/offers", json=body)
        assert r.status_code == 422 and field in r.get_json()["error"]["fields"]
    assert db.session.query(LoanOffer).count() == 0


def _offered(client, desk):
    aid = _apply(client, desk, banks=[desk.bank.organization_id, desk.other_bank.organization_id]
                 ).get_json()["application"]["id"]
    a = api(client, desk.bank, "POST", f"/loans/{aid}/offers", json={"amount": 2_000_00, "rate_bps": 385,
                                                                      "term_months": 12}).get_json()
    b = api(client, desk.other_bank, "POST", f"/loans/{aid}/offers", json={"amount": 2_500_00, "rate_bps": 420,
                                                                            "term_months": 12}).get_json()
    return aid, a["application"]["offers"][0]["id"], b["application"]["offers"][0]["id"]


def test_only_the_applicant_accepts_one_offer_and_the_others_are_superseded(client, desk):
    aid, first, second = _offered(client, desk)
    for user in (desk.bank, desk.other_sme, desk.operator):
        assert api(client, user, "POST", f"/offers/{first}/accept").status_code in (403, 404)
    assert _state(aid)[0] == "open"
    assert api(client, desk.colleague, "POST", f"/offers/{first}/accept").status_code == 200
    assert db.session.get(LoanOffer, second).status == "superseded"
    assert api(client, desk.sme, "POST", f"/offers/{second}/accept").status_code == 409
    assert db.session.get(LoanApplication, aid).accepted_offer_id == first


def _accepted(client, desk):
    aid, first, _second = _offered(client, desk)
    api(client, desk.sme, "POST", f"/offers/{first}/accept")
    return aid


def _today():
    return local(utcnow()).date().isoformat()


def test_the_registration_is_entered_by_a_party_and_verified_by_an_operator_only(client, desk):
    aid = _accepted(client, desk)
    body = {"number": "Y2026440000999", "date": _today()}
    # the bank whose offer was superseded is no party to the pledge
    assert api(client, desk.other_bank, "POST", f"/loans/{aid}/registration", json=body).status_code == 403
    for bad, field in (({"number": "x", "date": _today()}, "number"), ({"number": "Y2026440000999", "date": "2099-01-01"}, "date"),
                       ({"number": "Y2026440000999", "date": "1999-01-01"}, "date"), ({"number": "Y2026440000999"}, "date")):
        r = api(client, desk.sme, "POST", f"/loans/{aid}/registration", json=bad)
        assert r.status_code == 422 and field in r.get_json()["error"]["fields"]
    assert _state(aid)[0] == "accepted"
    assert api(client, desk.operator, "POST", f"/loans/{aid}/registration/verify").status_code == 409
    assert api(client, desk.sme, "POST", f"/loans/{aid}/registration", json=body).status_code == 200
    for user in (desk.sme, desk.bank):
        assert api(client, user, "POST", f"/loans/{aid}/registration/verify").status_code == 403
    assert not db.session.get(Right, desk.patent.id).pledged
    assert api(client, desk.operator, "POST", f"/loans/{aid}/registration/verify").status_code == 200
    assert db.session.get(Right, desk.patent.id).pledged


def test_a_right_assigned_away_meanwhile_is_not_pledged(client, desk):
    aid = _accepted(client, desk)
    api(client, desk.sme, "POST", f"/loans/{aid}/registration", json={"number": "Y2026440000777", "date": _today()})
    from listings import register

    register.correct_holders(desk.operator, db.session.get(Right, desk.trademark.id),
                             [register.party_of(desk.other_sme)], "转让登记已核准")
    db.session.commit()
    r = api(client, desk.operator, "POST", f"/loans/{aid}/registration/verify")
    assert r.status_code == 409
    assert not db.session.get(Right, desk.patent.id).pledged and _state(aid)[0] == "registration_submitted"


def test_only_the_lending_bank_marks_the_loan_repaid(client, desk):
    aid = _accepted(client, desk)
    api(client, desk.sme, "POST", f"/loans/{aid}/registration", json={"number": "Y2026440000555", "date": _today()})
    api(client, desk.operator, "POST", f"/loans/{aid}/registration/verify")
    for user in (desk.sme, desk.other_bank, desk.operator):
        assert api(client, user, "POST", f"/loans/{aid}/repaid").status_code in (403, 404)
    assert _state(aid)[0] == "pledged"
    assert api(client, desk.sme, "POST", f"/loans/{aid}/release", json={"number": "ZX202600001", "date": _today()}
               ).status_code == 409
    assert api(client, desk.bank, "POST", f"/loans/{aid}/repaid").status_code == 200
    assert db.session.get(Right, desk.patent.id).pledged  # until the release is registered and verified


def test_a_bank_must_be_verified_and_hold_the_role(client, desk):
    outsider = factories.make_user("buyer", org=desk.bank.organization)  # a bank's organisation, not the bank role
    db.session.commit()
    assert api(client, outsider, "GET", "/loans/queue").status_code == 403
    assert db.session.query(LoanMessage).count() == 0


def test_statements_are_uploaded_by_the_applicant_and_read_by_those_who_see_the_application(client, desk):
    import io

    aid = _apply(client, desk).get_json()["application"]["id"]
    pdf = factories.PDF

    def upload(user):
        return api(client, user, "POST", f"/loans/{aid}/statements",
                   data={"document": (io.BytesIO(pdf), "statements.pdf")}, content_type="multipart/form-data")

    for user in (desk.bank, desk.other_sme, desk.operator):
        assert upload(user).status_code in (403, 404)
    assert db.session.get(LoanApplication, aid).statements is None
    assert api(client, desk.sme, "GET", f"/loans/{aid}/statements").status_code == 404  # none yet
    r = upload(desk.sme)
    assert r.status_code == 200 and r.get_json()["application"]["statements"] is True
    for user in (desk.sme, desk.bank, desk.operator):
        got = api(client, user, "GET", f"/loans/{aid}/statements")
        assert got.status_code == 200 and got.data.startswith(b"%PDF")
    for user in (desk.other_sme, desk.other_bank):
        assert api(client, user, "GET", f"/loans/{aid}/statements").status_code == 404
