"""A listing as JSON (docs/api.md ``GET /listings/{id}``). Search and escrow import ``listing_json`` from here.

The auction's reserve price is never exposed, only whether it is met. The
operator's rejection reason and the pledge-consent flag are shown to the
listing's own organisation and to operators only.
"""
from marketplace.timeutil import iso, utcnow

from . import service

RIGHT_SCHEMA = {
    "type": "object",
    "required": ["id", "kind", "number", "title", "expires_on"],
    "properties": {
        "id": {"type": "integer"},
        "kind": {"type": "string", "enum": ["patent", "trademark"]},
        "number": {"type": "string"},
        "title": {"type": "string"},
        "expires_on": {"type": "string", "format": "date", "nullable": True},
        "remaining_days": {"type": "integer", "nullable": True},
        # patents
        "application_number": {"type": "string"},
        "patent_type": {"type": "string", "enum": ["invention", "utility_model", "design"], "nullable": True},
        "abstract": {"type": "string", "nullable": True},
        "ipc_codes": {"type": "array", "items": {"type": "string"}},
        "locarno_class": {"type": "string", "nullable": True},
        "filing_date": {"type": "string", "format": "date", "nullable": True},
        "grant_date": {"type": "string", "format": "date", "nullable": True},
        "claims_count": {"type": "integer", "nullable": True},
        "legal_status": {"type": "string", "nullable": True},
        "pledged": {"type": "boolean"},
        "family_countries": {"type": "array", "items": {"type": "string"}},
        "exclusive_license_until": {"type": "string", "format": "date", "nullable": True},
        # trademarks
        "registration_number": {"type": "string"},
        "mark_text": {"type": "string"},
        "nice_classes": {"type": "array", "items": {"type": "integer"}},
        "similar_groups": {"type": "array", "items": {"type": "string"}},
        "goods": {"type": "array", "items": {"type": "string"}},
        "registration_date": {"type": "string", "format": "date", "nullable": True},
        "status": {"type": "string", "nullable": True},
    },
}

AUCTION_SCHEMA = {
    "type": "object",
    "required": ["start_price", "min_increment", "ends_at", "current_price", "reserve_met", "bid_count"],
    "properties": {
        "start_price": {"type": "integer"},
        "min_increment": {"type": "integer"},
        "ends_at": {"type": "string", "format": "date-time"},
        "current_price": {"type": "integer", "nullable": True},
        "reserve_met": {"type": "boolean"},
        "bid_count": {"type": "integer"},
        "closed": {"type": "boolean"},
        "deposit_amount": {"type": "integer", "nullable": True,
                           "description": "保证金 (fen) to pay before bidding; null: none (docs/trading.md)"},
        "deposit_forfeit": {"type": "object", "nullable": True,
                            "description": "the published rule for a winner who does not pay: the seller gets "
                                           "to_seller, the platform keeps platform_fee"},
    },
}

LISTING_SCHEMA = {
    "type": "object",
    "required": ["id", "kind", "title", "description", "status", "price", "currency", "price_mode", "deal_types",
                 "grade", "grade_score", "region", "rights", "seller"],
    "properties": {
        "id": {"type": "integer"},
        "kind": {"type": "string", "enum": ["patent", "trademark"]},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "description_html": {"type": "string"},
        "status": {"type": "string", "enum": list(service.STATUS_LABELS)},
        "price": {"type": "integer", "nullable": True},
        "fees": {"type": "object", "nullable": True, "description": "escrow.fees.quote of the price (null without "
                 "one): the buyer pays price, the seller receives seller_net = price - fee",
                 "properties": {"price": {"type": "integer"}, "fee_bps": {"type": "integer"},
                                "fee": {"type": "integer"}, "seller_net": {"type": "integer"}}},
        "deal_prices": {"type": "object", "nullable": True, "description": "fen per deal type priced apart from "
                        "price (as given); prices lists every deal type's price"},
        "prices": {"type": "array", "description": "each deal type offered with its price (fen; null: 面议) and the "
                   "fee quote of that price; empty for an auction", "items": {
                       "type": "object", "required": ["deal_type", "price", "fees"],
                       "properties": {"deal_type": {"type": "string"}, "price": {"type": "integer", "nullable": True},
                                      "fees": {"type": "object", "nullable": True}}}},
        "currency": {"type": "string"},
        "price_mode": {"type": "string", "enum": ["fixed", "negotiable", "auction"]},
        "deal_types": {"type": "array", "items": {"type": "string", "enum": list(service.DEAL_TYPE_LABELS)}},
        "grade": {"type": "string", "enum": ["A", "B", "C", "D"], "nullable": True},
        "grade_score": {"type": "number", "nullable": True},
        "region": {"type": "string"},
        "rights": {"type": "array", "items": RIGHT_SCHEMA},
        "seller": {"type": "object", "required": ["type", "name", "organization", "verified"], "properties": {
            "type": {"type": "string", "enum": ["organization", "person"]}, "name": {"type": "string"},
            "organization": {"type": "string"}, "verified": {"type": "boolean"}}},
        "auction": AUCTION_SCHEMA,
        "expires_on": {"type": "string", "format": "date", "nullable": True},
        "image_url": {"type": "string", "nullable": True},
        "url": {"type": "string"},
        "license_territory": {"type": "string", "nullable": True},
        "license_field": {"type": "string", "nullable": True},
        "license_years": {"type": "integer", "nullable": True},
        "created_at": {"type": "string", "format": "date-time"},
        "published_at": {"type": "string", "format": "date-time", "nullable": True},
        "rejection_reason": {"type": "string", "nullable": True},
        "pledge_consent_uploaded": {"type": "boolean"},
        "requested_document": {"type": "string", "nullable": True,
                               "description": "the document the rejection asked for (owner and operators)"},
        "requested_document_uploaded": {"type": "boolean"},
    },
}

WARNING_SCHEMA = {
    "type": "object", "required": ["code", "message", "listing_ids"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                   "listing_ids": {"type": "array", "items": {"type": "integer"}}},
}


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
