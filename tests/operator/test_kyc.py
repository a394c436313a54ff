"""Organisation verification: the seller uploads the licence, an operator checks it; every step audited."""
import pytest

from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditLog, Notification
from tests import factories
from tests.operator.conftest import PDF, PNG, pdf_upload
from tests.probes import nothing_changes


def _upload(client, data=PDF, name="licence.pdf"):
    return client.post("/account/organization", data={"licence": pdf_upload(name, data)},
                       content_type="multipart/form-data")


@pytest.fixture
def unverified_seller(app):
    org = factories.make_org(verified=False, name="佛山市顺德区美的小家电有限公司")
    user = factories.make_user("seller", org=org)
    db.session.commit()
    return user


def test_seller_uploads_licence(client, as_user, unverified_seller):
    as_user(unverified_seller)
    r = _upload(client)
    assert r.status_code == 302
    org = unverified_seller.organization
    db.session.refresh(org)
    assert org.business_licence and org.business_licence.endswith(".pdf")
    assert org.verified is False
    row = db.session.query(AuditLog).filter_by(action="organization.licence_upload").one()
    assert row.object_id == org.id and row.actor_id == unverified_seller.id
    assert row.before == {"business_licence": False, "verified": False}


def test_upload_refuses_a_file_that_is_not_pdf_png_or_jpeg(client, as_user, unverified_seller):
    as_user(unverified_seller)
    r = _upload(client, data=b"MZ\x90\x00 not a document", name="licence.pdf")
    assert r.status_code == 422
    assert "只接受" in r.get_data(as_text=True)
    db.session.refresh(unverified_seller.organization)
    assert unverified_seller.organization.business_licence is None
    assert db.session.query(AuditLog).count() == 0


def test_new_licence_clears_the_badge(client, as_user, seller):
    assert seller.organization.verified
    as_user(seller)
    assert _upload(client, data=PNG, name="licence.png").status_code == 302
    db.session.refresh(seller.organization)
    assert seller.organization.verified is False


def test_operator_verifies_and_unverifies_with_audit_rows(client, as_user, unverified_seller, operator):
    as_user(unverified_seller)
    _upload(client)
    org = unverified_seller.organization
    as_user(operator)
    page = client.get(f"/operator/organizations/{org.id}").get_data(as_text=True)
    assert org.uscc in page and "校验位正确" in page
    assert client.get("/operator/kyc").get_data(as_text=True).count(org.name) == 1

    r = client.post(f"/operator/organizations/{org.id}/verification", data={"decision": "verify", "note": ""})
    assert r.status_code == 302
    db.session.refresh(org)
    assert org.verified is True and org.verified_at is not None
    row = db.session.query(AuditLog).filter_by(action="organization.verify").one()
    assert row.actor_id == operator.id and row.object_type == "organization" and row.object_id == org.id
    assert row.before["verified"] is False and row.after["verified"] is True
    assert db.session.query(Notification).filter_by(user_id=unverified_seller.id, kind="kyc").count() == 1
    assert org.name not in client.get("/operator/kyc").get_data(as_text=True)

    # clearing the badge needs a reason
    r = client.post(f"/operator/organizations/{org.id}/verification", data={"decision": "unverify", "note": ""})
    assert r.status_code == 422 and "取消核验须写明原因" in r.get_data(as_text=True)
    db.session.refresh(org)
    assert org.verified is True
    r = client.post(f"/operator/organizations/{org.id}/verification",
                    data={"decision": "unverify", "note": "营业执照已被吊销"})
    assert r.status_code == 302
    db.session.refresh(org)
    assert org.verified is False
    row = db.session.query(AuditLog).filter_by(action="organization.unverify").one()
    assert row.before["verified"] is True and row.after == {"verified": False, "verified_at": None,
                                                              "note": "营业执照已被吊销"}
    audit_page = client.get("/operator/audit").get_data(as_text=True)
    assert "organization.verify" in audit_page and "organization.unverify" in audit_page
    assert operator.name in audit_page


def test_verification_needs_a_licence(client, as_user, unverified_seller, operator):
    as_user(operator)
    org = unverified_seller.organization
    r = client.post(f"/operator/organizations/{org.id}/verification", data={"decision": "verify"})
    assert r.status_code == 422 and "尚未上传营业执照" in r.get_data(as_text=True)
    db.session.refresh(org)
    assert org.verified is False
    assert db.session.query(AuditLog).count() == 0


def test_unknown_organisation_is_404(client, as_user, operator):
    as_user(operator)
    assert client.get("/operator/organizations/99999").status_code == 404
    with nothing_changes():  # no organisation verified, no audit entry
        r = client.post("/operator/organizations/99999/verification", data={"decision": "verify"})
    assert r.status_code == 404


def test_licence_served_only_to_members_and_operators(client, as_user, unverified_seller, operator, other_seller,
                                                      buyer):
    colleague = factories.make_user("seller", org=unverified_seller.organization)
    db.session.commit()
    as_user(unverified_seller)
    _upload(client)
    org_id = unverified_seller.organization_id

    r = client.get("/account/organization/licence")
    assert r.status_code == 200 and r.data == PDF and r.mimetype == "application/pdf"
    as_user(colleague)
    assert client.get("/account/organization/licence").data == PDF
    as_user(operator)
    r = client.get(f"/operator/organizations/{org_id}/licence")
    assert r.status_code == 200 and r.data == PDF
    # another organisation's seller only ever reaches their own (missing) licence
    as_user(other_seller)
    assert client.get("/account/organization/licence").status_code == 404
    assert client.get(f"/operator/organizations/{org_id}/licence").status_code == 403
    as_user(buyer)  # no organisation at all
    assert client.get("/account/organization/licence").status_code == 404


def test_licence_needs_sign_in(client, unverified_seller):
    r = client.get("/account/organization/licence")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_blacklisted_organisation_cannot_seek_the_badge(client, as_user, unverified_seller, operator):
    org = unverified_seller.organization
    org.credit_level = "blacklisted"
    org.business_licence = "c" * 32 + ".pdf"
    db.session.commit()
    as_user(unverified_seller)
    page = client.get("/account/organization").get_data(as_text=True)
    assert "黑名单" in page and "申请单位核验" in page and 'name="licence"' not in page
    r = _upload(client)
    assert r.status_code == 403
    assert "账户信用等级为“黑名单”，不能申请单位核验" in r.get_data(as_text=True)
    db.session.refresh(org)
    assert org.business_licence == "c" * 32 + ".pdf"

    as_user(operator)
    r = client.post(f"/operator/organizations/{org.id}/verification", data={"decision": "verify"})
    assert r.status_code == 422 and "黑名单" in r.get_data(as_text=True)
    db.session.refresh(org)
    assert org.verified is False


def test_user_without_organisation_sees_why(client, as_user, buyer):
    as_user(buyer)
    r = client.get("/account/organization")
    assert r.status_code == 200 and "没有关联单位" in r.get_data(as_text=True)
    r = _upload(client)
    assert r.status_code == 403
