"""Credit records: operators record, levels bite (ensure_can), the party sees and appeals, operators decide."""
import pytest

from marketplace.kernel.credit import ensure_can, record_violation
from marketplace.kernel.credit_models import CreditRecord
from marketplace.kernel.errors import PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditLog, Notification
from tests import factories
from tests.operator.conftest import PDF, file_storage, pdf_upload
from tests.probes import nothing_changes

ACTIONS = ("list", "bid", "offer", "buy")
ALLOWED = {
    "good": set(ACTIONS),
    "warned": set(ACTIONS),
    "restricted": {"offer"},  # issue 14: restricted no longer buys (a purchase commits to pay, like a bid)
    "blacklisted": set(),
}


@pytest.mark.parametrize("level", list(ALLOWED))
@pytest.mark.parametrize("action", ACTIONS)
def test_ensure_can_follows_the_level(app, level, action):
    user = factories.make_user("seller", "buyer", credit_level=level)
    if action in ALLOWED[level]:
        ensure_can(user, action)
    else:
        with pytest.raises(PermissionDenied) as info:
            ensure_can(user, action)
        assert info.value.status == 403
        assert info.value.extra["credit_level"] == level
        assert "账户信用等级为" in info.value.message and "申诉" in info.value.message


def test_organisation_level_applies_to_every_member(app):
    org = factories.make_org()
    a = factories.make_user("seller", org=org)
    b = factories.make_user("buyer", org=org)
    op = factories.make_user("operator")
    record_violation(op, org, "counterfeiting", "blacklisted", "销售假冒注册商标的商品，证据见附件")
    for member in (a, b):
        assert member.effective_credit_level == "blacklisted"
        with pytest.raises(PermissionDenied, match="黑名单"):
            ensure_can(member, "buy")


def test_operator_records_a_violation_with_evidence(client, as_user, operator, seller):
    colleague = factories.make_user("seller", org=seller.organization)
    db.session.commit()
    org = seller.organization
    as_user(operator)
    r = client.post("/operator/credit", data={
        "subject_type": "organization", "subject_id": str(org.id), "violation": "infringement",
        "level": "restricted", "description": "挂牌的专利权属存在争议，法院已受理侵权诉讼。",
        "deal_id": "", "evidence": pdf_upload("判决书.pdf"),
    }, content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)
    rec = db.session.query(CreditRecord).one()
    db.session.refresh(org)
    assert org.credit_level == "restricted"
    assert rec.organization_id == org.id and rec.previous_level == "good" and rec.level == "restricted"
    assert rec.evidence and rec.evidence_name == "判决书.pdf"
    row = db.session.query(AuditLog).filter_by(action="credit.record").one()
    assert row.actor_id == operator.id and row.object_type == "organization" and row.object_id == org.id
    assert row.before == {"credit_level": "good"} and row.after["credit_level"] == "restricted"
    told = {n.user_id for n in db.session.query(Notification).filter_by(kind="credit")}
    assert told == {seller.id, colleague.id}
    # evidence: operators and members of the organisation, nobody else
    assert client.get(f"/operator/credit/{rec.id}/evidence").data == PDF
    as_user(colleague)
    assert client.get(f"/account/credit/{rec.id}/evidence").data == PDF


def test_record_against_a_user(client, as_user, operator, buyer):
    as_user(operator)
    r = client.post("/operator/credit", data={
        "subject_type": "user", "subject_id": str(buyer.id), "violation": "non_performance", "level": "warned",
        "description": "拍得后逾期未付款", "deal_id": "12"})
    assert r.status_code == 302
    db.session.refresh(buyer)
    assert buyer.credit_level == "warned"
    rec = db.session.query(CreditRecord).one()
    assert rec.user_id == buyer.id and rec.deal_id == 12 and rec.organization_id is None
    page = client.get(f"/operator/users/{buyer.id}").get_data(as_text=True)
    assert f"#{rec.id}" in page and "不履行交易" in page


@pytest.mark.parametrize("data,field", [
    ({"violation": "fraud", "level": "blacklisted", "description": ""}, "必填"),
    ({"violation": "fraud", "level": "good", "description": "x"}, "违规记录应设为警示、受限或黑名单"),
    ({"violation": "restored", "level": "warned", "description": "x"}, "信用修复只能恢复为"),
    ({"violation": "bribery", "level": "warned", "description": "x"}, "violation-error"),
])
def test_bad_records_are_refused_and_change_nothing(client, as_user, operator, buyer, data, field):
    as_user(operator)
    body = {"subject_type": "user", "subject_id": str(buyer.id), **data}
    r = client.post("/operator/credit", data=body)
    assert r.status_code == 422
    assert field in r.get_data(as_text=True)
    db.session.refresh(buyer)
    assert buyer.credit_level == "good"
    assert db.session.query(CreditRecord).count() == 0
    assert db.session.query(AuditLog).count() == 0


def test_evidence_must_be_a_document(client, as_user, operator, buyer):
    as_user(operator)
    r = client.post("/operator/credit", data={
        "subject_type": "user", "subject_id": str(buyer.id), "violation": "fraud", "level": "blacklisted",
        "description": "伪造付款凭证", "evidence": pdf_upload("x.pdf", b"<html>not a pdf</html>")},
        content_type="multipart/form-data")
    assert r.status_code == 422 and "只接受" in r.get_data(as_text=True)
    assert db.session.query(CreditRecord).count() == 0


def test_operators_cannot_be_recorded_and_non_operators_cannot_record(app, operator, seller, buyer):
    with pytest.raises(ValidationError):
        record_violation(operator, factories.make_user("operator"), "fraud", "warned", "x")
    with pytest.raises(PermissionDenied):
        record_violation(seller, buyer, "fraud", "warned", "x")


def test_unknown_subject_is_404(client, as_user, operator):
    as_user(operator)
    with nothing_changes():  # no credit record, no audit entry, no notice
        r = client.post("/operator/credit", data={"subject_type": "user", "subject_id": "99999", "violation": "fraud",
                                                  "level": "warned", "description": "x"})
    assert r.status_code == 404


def _record(subject, level="blacklisted", violation="fraud", evidence=None):
    op = factories.make_user("operator")
    rec = record_violation(op, subject, violation, level, "伪造转账回单骗取权利转让", evidence=evidence)
    db.session.commit()
    return rec


def test_party_sees_records_and_appeals(client, as_user, seller, operator):
    rec = _record(seller.organization)
    as_user(seller)
    page = client.get("/account/credit").get_data(as_text=True)
    assert "伪造转账回单骗取权利转让" in page and "黑名单" in page and "提交申诉" in page
    r = client.post(f"/account/credit/{rec.id}/appeal", data={f"r{rec.id}-note": ""})
    assert r.status_code == 422
    r = client.post(f"/account/credit/{rec.id}/appeal", data={f"r{rec.id}-note": "回单真实，附银行流水，请复核。"})
    assert r.status_code == 302
    db.session.refresh(rec)
    assert rec.appeal_status == "open" and rec.appeal_by_id == seller.id and "银行流水" in rec.appeal_note
    assert db.session.query(Notification).filter_by(user_id=operator.id, kind="credit").count() == 1
    # one appeal per record
    r = client.post(f"/account/credit/{rec.id}/appeal", data={f"r{rec.id}-note": "再次申诉"})
    assert r.status_code == 303
    db.session.refresh(rec)
    assert rec.appeal_note == "回单真实，附银行流水，请复核。"

    as_user(operator)
    assert f"#{rec.id}" in client.get("/operator/credit?appeal=open").get_data(as_text=True)
    r = client.post(f"/operator/credit/{rec.id}/appeal", data={"decision": "revoked", "reply": ""})
    assert r.status_code == 422
    r = client.post(f"/operator/credit/{rec.id}/appeal", data={"decision": "revoked", "reply": "经核实回单真实，撤销记录"})
    assert r.status_code == 302
    db.session.refresh(rec)
    db.session.refresh(seller.organization)
    assert rec.appeal_status == "revoked" and seller.organization.credit_level == "good"
    row = db.session.query(AuditLog).filter_by(action="credit.appeal_decide").one()
    assert row.before == {"appeal_status": "open", "credit_level": "blacklisted"}
    assert row.after == {"appeal_status": "revoked", "credit_level": "good"}
    assert db.session.query(Notification).filter_by(user_id=seller.id, kind="credit").count() == 2


def test_revoking_falls_back_to_the_previous_record(app, buyer):
    first = _record(buyer, level="warned")
    second = _record(buyer, level="blacklisted")
    assert buyer.credit_level == "blacklisted"
    from marketplace.kernel.credit import decide_appeal, file_appeal

    file_appeal(buyer, second.id, "误判")
    decide_appeal(factories.make_user("operator"), second.id, "revoked", "撤销")
    assert buyer.credit_level == "warned"
    file_appeal(buyer, first.id, "也请撤销")
    decide_appeal(factories.make_user("operator"), first.id, "upheld", "维持")
    assert buyer.credit_level == "warned"


def test_others_cannot_see_or_appeal_a_record(client, as_user, seller, other_seller, buyer):
    rec = _record(seller.organization, evidence=file_storage())
    for user in (other_seller, buyer):
        as_user(user)
        assert "伪造转账回单" not in client.get("/account/credit").get_data(as_text=True)
        assert client.post(f"/account/credit/{rec.id}/appeal", data={f"r{rec.id}-note": "x"}).status_code == 404
        assert client.get(f"/account/credit/{rec.id}/evidence").status_code == 404
    db.session.refresh(rec)
    assert rec.appeal_status is None


def test_restored_record_lifts_the_penalty(app, buyer):
    _record(buyer, level="restricted", violation="non_performance")
    _record(buyer, level="good", violation="restored")
    assert buyer.credit_level == "good"
    ensure_can(buyer, "bid")
