"""A listing as JSON (docs/api.md ``GET /listings/{id}``; its schema is ``listings.schemas.ListingOut``). Search
and escrow import ``listing_json`` from here.

The auction's reserve price is never exposed, only whether it is met. The
operator's rejection reason and the pledge-consent flag are shown to the
listing's own organisation and to operators only.
"""
from marketplace.kernel.timeutil import iso, utcnow

from . import service


def _day(value):
    return value.isoformat() if value else None


def right_json(right, today=None):
    today = today or utcnow().date()
    ends = service.right_expiry(right)
    body = {
        "id": right.id,
        "kind": right.kind,
        "number": right.number,
        "title": right.title,
        "expires_on": _day(ends),
        "remaining_days": max((ends - today).days, 0) if ends else None,
    }
    if right.kind == "patent":
        body.update({
            "application_number": right.number,
            "patent_type": right.patent_type,
            "abstract": right.abstract,
            "ipc_codes": list(right.ipc_codes or []),
            "locarno_class": right.locarno_class,
            "filing_date": _day(right.filing_date),
            "grant_date": _day(right.grant_date),
            "claims_count": right.claims_count,
            "legal_status": right.legal_status,
            "pledged": bool(right.pledged),
            "family_countries": list(right.family_countries or []),
            "exclusive_license_until": _day(right.exclusive_license_until),
        })
    else:
        body.update({
            "registration_number": right.number,
            "mark_text": right.title,
            "nice_classes": list(right.nice_classes or []),
            "similar_groups": list(right.similar_groups or []),
            "goods": list(right.goods or []),
            "registration_date": _day(right.registration_date),
            "status": right.tm_status,
            "exclusive_license_until": _day(right.exclusive_license_until),
        })
    return body


def auction_json(auction):
    """The public face of an auction: never the reserve price itself."""
    return {
        "start_price": auction.start_price,
        "min_increment": auction.min_increment,
        "ends_at": iso(auction.ends_at),
        "current_price": auction.current_price,
        "reserve_met": bool(auction.reserve_met),
        "bid_count": auction.bid_count or 0,
        "closed": auction.closed_at is not None,
        "deposit_amount": auction.deposit_amount,
        "deposit_forfeit": _forfeit_rule(auction),
    }


def _fees(price):
    """The platform fee and the seller's net for ``price`` (one rule: ``escrow.fees.quote``)."""
    from escrow.fees import quote

    return quote(price)


def _forfeit_rule(auction):
    if not auction.deposit_amount:
        return None
    from escrow.deposits import forfeit_split

    to_seller, fee = forfeit_split(auction.deposit_amount)
    return {"to_seller": to_seller, "platform_fee": fee}


def listing_json(listing, viewer=None):
    """The listing as docs/api.md describes it; ``viewer`` (a User or None) unlocks the owner's private fields."""
    org = listing.organization
    today = utcnow().date()
    body = {
        "id": listing.id,
        "kind": listing.kind,
        "title": listing.title,
        "description": listing.description or "",
        "description_html": service.render_markdown(listing.description),
        "status": listing.status,
        "price": listing.price,
        "fees": _fees(listing.price),
        "deal_prices": listing.deal_prices or None,
        "prices": [{"deal_type": d, "price": listing.price_for(d), "fees": _fees(listing.price_for(d))}
                   for d in listing.deal_types or []] if listing.price_mode != "auction" else [],
        "currency": listing.currency,
        "price_mode": listing.price_mode,
        "deal_types": list(listing.deal_types or []),
        "grade": listing.grade,
        "grade_score": listing.grade_score,
        "region": listing.region,
        "rights": [right_json(r, today) for r in listing.rights],
        # A natural person sells without an organisation (issue 13): ``type`` says which, ``name`` the seller side.
        "seller": {"type": "person" if listing.by_person else "organization", "name": listing.seller_name,
                   "organization": org.name if org else "", "verified": listing.seller_verified},
        "expires_on": _day(service.listing_expiry(listing)),
        "image_url": f"/listings/{listing.id}/image" if listing.image else None,
        "url": f"/listings/{listing.id}",
        "license_territory": listing.license_territory,
        "license_field": listing.license_field,
        "license_years": listing.license_years,
        "created_at": iso(listing.created_at),
        "published_at": iso(listing.published_at),
    }
    if listing.auction is not None:
        body["auction"] = auction_json(listing.auction)
    if viewer is not None and (service.is_owner(viewer, listing) or viewer.is_operator):
        body["rejection_reason"] = listing.rejection_reason
        body["pledge_consent_uploaded"] = bool(listing.pledge_consent)
        body["requested_document"] = listing.requested_document
        body["requested_document_uploaded"] = bool(listing.requested_document
                                                   and getattr(listing, listing.requested_document, None))
    return body
