"""The demo catalogue: 60+ valid listings, accounts that sign in, idempotent."""
from datetime import timedelta

from listings import demo, identifiers
from listings.models import Listing
from marketplace.kernel.accounts import authenticate
from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow


def test_seed_builds_a_valid_catalogue_once(app, client):
    added = demo.seed()
    assert added >= 60
    listings = db.session.query(Listing).all()
    assert len(listings) == added
    rights = [r for item in listings for r in item.rights]
    assert {r.patent_type for r in rights if r.kind == "patent"} == {"invention", "utility_model", "design"}
    assert len({c for r in rights if r.kind == "trademark" for c in r.nice_classes}) >= 15
    for right in rights:
        if right.kind == "patent":
            canonical, patent_type = identifiers.normalize_application_number(right.number)
            assert canonical == right.number and patent_type == right.patent_type
        else:
            assert identifiers.normalize_registration_number(right.number) == right.number
    published = [item for item in listings if item.status == "published"]
    assert len(published) >= 50
    assert {item.price_mode for item in published} == {"fixed", "negotiable", "auction"}
    live = [item for item in published if item.auction and item.auction.ends_at < utcnow() + timedelta(days=7)]
    assert len(live) >= 2
    assert any(item.grade == "A" for item in published)
    assert any(item.status == "pending_review" for item in listings)
    for email in (demo.SELLER_EMAIL, demo.BUYER_EMAIL, demo.OPERATOR_EMAIL):
        assert authenticate(email, demo.PASSWORD)
    assert demo.seed() == 0 and demo.seed_if_empty() == 0
    assert db.session.query(Listing).count() == added
    # the pages render with the catalogue
    assert client.get("/").status_code == 200
    for item in published[:10]:
        assert client.get(f"/listings/{item.id}").status_code == 200


def test_cli_demo_seed(runner):
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 0 and "listings added" in result.output
    assert db.session.query(Listing).count() >= 60


def test_seed_joins_an_organisation_someone_registered_first(app):
    from marketplace.kernel.accounts import register_user
    from marketplace.kernel.uscc import uscc_check_char

    body = demo.ORGANISATIONS[0][4]  # the demo seller's organisation, taken by a real registration first
    first = register_user("boss@example.com", "a-long-password-1", "陈总", ["seller"],
                          {"name": "深圳市星河智能科技有限公司", "uscc": body + uscc_check_char(body),
                           "region": "shenzhen"})
    db.session.commit()
    assert demo.seed() >= 60
    seller = authenticate(demo.SELLER_EMAIL, demo.PASSWORD)
    assert seller.organization_id == first.organization_id
    assert seller.has_role("seller") and seller.has_role("buyer")
