"""The rule book's look-ups are grouped: one query per rule for all the rights of a listing."""
from listings.models import Listing
from marketplace.kernel.extensions import db
from tests import factories


def test_the_rule_book_asks_one_query_per_rule_whatever_the_number_of_rights(app):
    """rules.problems groups its look-ups (other live listings, licences and assignments under way):
    a listing of three rights costs the same queries on ``listing_rights`` as a listing of one."""
    from sqlalchemy import event

    from listings import rules

    seller = factories.make_user("seller")
    one = factories.make_listing(seller, deal_types=("assignment",))
    three = factories.make_listing(seller, deal_types=("assignment",))
    for _n in (1, 2):
        three.rights.append(factories.make_listing(seller, status="draft").rights[0])
    db.session.commit()

    def queries(listing, deal_type):
        db.session.expire_all()
        listing = db.session.get(Listing, listing.id)
        for r in listing.rights:  # load the rights themselves first: only the rule book's own queries count
            list(r.holders), list(r.encumbrances), list(r.listing_links)
        seen = []

        def count(_conn, _cursor, statement, *_args):
            if "listing_rights" in statement:
                seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            rules.problems(listing, "deal", deal_type=deal_type)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(seen)

    for deal_type in ("assignment", "non_exclusive_license"):
        assert queries(three, deal_type) == queries(one, deal_type) <= 3
