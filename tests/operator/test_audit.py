"""The audit log: the kernel's record() and the page that lists every operator action."""
from datetime import date, datetime

from marketplace.kernel import audit
from marketplace.kernel.extensions import db
from marketplace.kernel.models import AuditLog
from tests import factories


def test_record_keeps_who_what_when_before_after(app, operator):
    row = audit.record(operator, "listing.approve", "listing", 42, {"status": "pending_review"},
                       {"status": "published", "at": datetime(2026, 5, 1, 2, 0), "day": date(2026, 5, 1),
                        "tags": {"b", "a"}})
    db.session.commit()
    stored = db.session.get(AuditLog, row.id)
    assert stored.actor_id == operator.id and stored.action == "listing.approve"
    assert stored.object_type == "listing" and stored.object_id == 42 and stored.created_at is not None
    assert stored.before == {"status": "pending_review"}
    assert stored.after == {"status": "published", "at": "2026-05-01T02:00:00+00:00", "day": "2026-05-01",
                            "tags": ["a", "b"]}


def test_record_by_the_system(app):
    row = audit.record(None, "deal.cancel_by_deadline", "deal", 7)
    assert row.actor_id is None and row.before is None


def test_audit_page_lists_and_filters(client, as_user, operator):
    other = factories.make_user("operator", name="第二运营")
    audit.record(operator, "organization.verify", "organization", 1, {"verified": False}, {"verified": True})
    audit.record(other, "credit.record", "user", 5, {"credit_level": "good"}, {"credit_level": "warned"})
    db.session.commit()
    as_user(operator)
    html = client.get("/operator/audit").get_data(as_text=True)
    # in words (issue 17): the action, the object type, the field and its values as labels; the code stays a tooltip
    assert "单位核验通过" in html and "记录信用信息" in html and "business_licence" not in html
    assert '<td title="organization.verify">' in html and '<td title="credit.record">' in html
    assert operator.name in html and "第二运营" in html
    assert "<del>良好</del>" in html and "<ins>警示</ins>" in html and "<del>good</del>" not in html
    assert "<del>未核验</del> → <ins>已核验</ins>" in html and "False" not in html
    assert "单位 #1" in html and "用户 #5" in html
    html = client.get("/operator/audit?action=credit.record").get_data(as_text=True)
    assert '<td title="organization.verify">' not in html and '<td title="credit.record">' in html
    html = client.get(f"/operator/audit?actor={operator.id}").get_data(as_text=True)
    assert '<td title="credit.record">' not in html
    html = client.get("/operator/audit?object_type=user").get_data(as_text=True)
    assert '<td title="credit.record">' in html and '<td title="organization.verify">' not in html


def test_audit_values_are_escaped(client, as_user, operator):
    audit.record(operator, "listing.reject", "listing", 3, None, {"reason": "<script>alert(1)</script>"})
    db.session.commit()
    as_user(operator)
    html = client.get("/operator/audit").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_operator_acts_on_deals_are_in_the_audit_log_and_parties_acts_are_not(app, operator):
    from escrow import deals, trading

    seller = factories.make_user("seller")
    buyer = factories.make_user("buyer")
    listing = factories.make_listing(seller, price=100_000_00)
    db.session.commit()
    deal = trading.buy_now(listing.id, buyer, "assignment")
    factories.sign_contract(deal)
    deals.start_payment(deal.id, buyer)
    db.session.commit()
    assert db.session.query(AuditLog).filter(AuditLog.action.like("deal.%")).count() == 0  # the buyer's own acts
    deals.confirm_offline_payment(deal.id, deal.payment_reference, deal.price, operator)
    db.session.commit()
    row = db.session.query(AuditLog).filter_by(action="deal.confirm_payment").one()
    assert row.actor_id == operator.id and row.object_type == "deal" and row.object_id == deal.id
    assert row.before == {"state": "awaiting_payment"} and row.after["state"] == "funded"


def test_every_action_and_object_the_code_records_has_a_label(app):
    """Each ``audit.record(…, "area.act", "object", …)`` in the code reads as words in the log (issue 17): the page
    walk found 求购 reviews shown as ``wanted.approve`` on ``wanted_ad``."""
    import re
    from pathlib import Path

    from escrow.machine import ACTION_LABELS as DEAL_ACTS
    from listings.lifecycle import ACTION_LABELS as LISTING_ACTS
    from marketplace.web.audit_labels import ACTIONS, OBJECTS

    root = Path(__file__).resolve().parents[2]
    call = re.compile(r'audit\.record\([^,]+,\s*(f?)"([a-z_.{}]+)"[^,]*,\s*(?:kind|"([a-z_]+)")')
    found = []
    for path in root.glob("*/*.py"):
        if path.parts[-2] in ("tests", "bench"):
            continue
        for fstring, action, obj in call.findall(path.read_text(encoding="utf-8")):
            area, _sep, act = action.partition(".")
            if fstring or "{" in action:  # f"deal.{action}", f"listing.{decision}": the state machines' labels
                assert area in ("deal", "listing", "right", "wanted"), action
            elif action not in ACTIONS and not (area == "deal" and act in DEAL_ACTS) \
                    and not (area == "listing" and act in LISTING_ACTS):
                found.append(f"{path.name}: action {action}")
            if obj and obj not in OBJECTS:
                found.append(f"{path.name}: object {obj}")
    assert not found, found
    assert {"wanted.approve", "wanted.reject"} <= set(ACTIONS)


def test_a_wanted_review_and_a_role_change_read_as_words(client, as_user, operator):
    audit.record(operator, "wanted.approve", "wanted_ad", 9, {"status": "pending_review"},
                 {"status": "published", "reason": ""})
    audit.record(operator, "user.finance_role", "user", 5, {"roles": ["seller"]}, {"roles": ["seller", "bank"]})
    db.session.commit()
    as_user(operator)
    html = client.get("/operator/audit").get_data(as_text=True)
    assert "求购审核通过" in html and "求购 #9" in html and "<td>wanted.approve" not in html
    assert 'title="reason"' not in html  # the approval's blank reason says nothing
    assert "变更融资角色" in html and "<ins>卖方、银行</ins>" in html and "bank" not in html.split("<main")[1]


def test_operator_pages_name_roles_and_statuses_in_words(client, as_user, operator):
    """The page walk found ``seller, buyer`` on 查找账户, the user and organisation pages and ``published`` on the
    grading form (issue 17: operator screens in words)."""
    seller = factories.make_user("seller", name="卖家甲")
    listing = factories.make_listing(seller)
    db.session.commit()
    as_user(operator)
    for path in ("/operator/accounts?q=卖家甲", f"/operator/users/{seller.id}",
                 f"/operator/organizations/{seller.organization_id}"):
        html = client.get(path).get_data(as_text=True)
        assert "卖方" in html and "seller, buyer" not in html and ">seller<" not in html, path
    html = client.get(f"/operator/grading/{listing.id}").get_data(as_text=True)
    assert ">已发布</span>" in html and ">published</span>" not in html
    audit.record(operator, "wanted.approve", "wanted_ad", 3, {"status": "pending_review"}, {"status": "published"})
    db.session.commit()
    html = client.get("/operator/").get_data(as_text=True)  # the console's latest acts
    assert ">求购审核通过</span> · 求购 #3" in html and "<code>wanted.approve</code>" not in html
    html = client.get("/operator/accounts?q=卖家甲&lang=en").get_data(as_text=True)
    assert "<td>Seller</td>" in html
