"""Objects for the API fuzz to act on, in a throw-away instance (run by security/api_fuzz.sh).

A fresh demo catalogue has listings but no deals, offers, documents or saved searches, so
every route with such an id in its path would only ever answer 404. This makes one of each,
with the fuzz user as the buyer (and, as an operator, able to act on everything), and prints
``schemathesis.toml`` lines that pin the path parameters to them.

Usage: python -m security.fuzz_fixtures EMAIL PASSWORD  (INSTANCE_PATH set as for the instance)
"""
import io
import os
import sys

from werkzeug.datastructures import FileStorage


def main(email, password):
    from sqlalchemy import select

    from escrow import deals, trading
    from listings.models import Listing
    from marketplace import create_app
    from marketplace.kernel.extensions import db
    from marketplace.kernel.models import User
    from search import service as search_service

    app = create_app({"RATELIMIT_ENABLED": False})
    with app.app_context():
        user = db.session.execute(select(User).where(User.email == email)).scalar_one()
        # An operator may not act as operator on their own deal (issue 14): the demo operator confirms the payment.
        operator = db.session.execute(select(User).where(User.roles_csv.contains("operator"), User.id != user.id)
                                      .order_by(User.id)).scalars().first()
        published = db.session.execute(select(Listing).where(Listing.status == "published")
                                       .order_by(Listing.id)).scalars().all()
        fixed = next(x for x in published if x.price_mode == "fixed" and "assignment" in x.deal_types)
        negotiable = next(x for x in published if x.price_mode == "negotiable")
        auction = next((x for x in published if x.price_mode == "auction"), fixed)
        deal = trading.buy_now(fixed.id, user, "assignment")
        db.session.commit()
        # Payment is due once both parties signed the contract (issue 15): the fuzz user signs with the
        # password api_fuzz.sh gave it, the demo seller with the demo password.
        from escrow import contracts
        from listings.demo import PASSWORD as DEMO_PASSWORD

        contracts.sign(deal.id, db.session.get(User, deal.seller_id), DEMO_PASSWORD, "127.0.0.1")
        contracts.sign(deal.id, user, password, "127.0.0.1")
        db.session.commit()
        deals.confirm_offline_payment(deal.id, deal.payment_reference, deal.price, operator)
        db.session.commit()
        seller = db.session.get(User, deal.seller_id)
        pdf = FileStorage(stream=io.BytesIO(b"%PDF-1.4\n%%EOF\n"), filename="receipt.pdf")
        deals.file_transfer(deal.id, seller, pdf)
        db.session.commit()
        offer = trading.make_offer(negotiable.id, user, max(1, (negotiable.offer_floor or 100_000_00)), "assignment"
                                   if "assignment" in negotiable.deal_types else negotiable.deal_types[0])
        saved = search_service.save_search(user, "电池", {})
        db.session.commit()
        print("[parameters]")
        print(f'"path.deal_id" = {deal.id}')
        print(f'"path.document_id" = {deal.documents[0].id}')
        print(f'"path.offer_id" = {offer.id}')
        print(f'"path.saved_id" = {saved.id}')
        print(f'"path.listing_id" = {auction.id}')


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else os.environ.get("FUZZ_PASSWORD", ""))
