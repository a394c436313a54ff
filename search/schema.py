"""The index's schema and documents: what a listing looks like to the index (issue 20 split of ``index.py``).

Text is indexed three times: ``title``/``body`` with frequencies only (what matching and BM25 read),
``title_pos``/``body_pos`` with word positions and ``title_pair``/``body_pair`` with one term per two
consecutive words (both read only for phrases). Facet, filter and sort fields are
Whoosh columns (``COLUMN_FIELDS``, one fixed-size value per document) that the executor reads into numpy
arrays. Nothing here touches the index on disk (``search.storage``) or runs queries (``search.executor``).
"""
import re
from datetime import timezone

from whoosh import columns, formats
from whoosh.fields import COLUMN, ID, KEYWORD, TEXT, FieldType, Schema

from listings.models import DEAL_TYPES, KINDS, PATENT_TYPES, PRICE_MODES
from listings.open_licence import is_open
from marketplace.kernel.regions import REGIONS

from .analysis import ChineseEnglishAnalyzer, WordPairAnalyzer, number_variants

GRADES = ("A", "B", "C", "D")
IPC_SECTIONS = tuple("ABCDEFGH")
NICE_CLASSES = tuple(range(1, 46))
REGION_CODES = tuple(REGIONS)

FIELD_BOOSTS = {"title": 3.0, "body": 1.0}
# Facet, filter and sort fields are Whoosh columns (one fixed-size value per document), read in bulk
# into numpy arrays: code = index in its vocabulary (0 = none for grade), mask = one bit per value.
COLUMN_FIELDS = {
    # name: (struct typecode, default)
    "listing_id": ("q", 0),
    "kind": ("b", 0),  # code in KINDS
    "patent_type": ("b", 0),  # mask over PATENT_TYPES
    "grade": ("b", 0),  # 0 ungraded, 1..4 = A..D
    "ipc_section": ("H", 0),  # mask over A..H
    "nice_class": ("Q", 0),  # mask over classes 1..45 (bit 0 = class 1)
    "deal_type": ("b", 0),  # mask over DEAL_TYPES
    "price_mode": ("b", 0),  # code in PRICE_MODES
    "price": ("q", -1),  # fen; -1 = no price (面议)
    "region": ("b", 0),  # code in REGION_CODES
    "published": ("q", 0),  # epoch seconds
    "ends": ("q", 0),  # an auction's close, epoch seconds; 0 = not an auction (an older index: 0 everywhere)
    "open_licence": ("b", 0),  # 1: an open licence (专利开放许可) is declared on the listing (issue 16)
}
# The price of each deal type (issue 17: a listing offered for assignment and licences priced apart,
# ``Listing.deal_prices``): fen; -1 = not offered or no price (面议); -2 = a document written before these
# columns, which reads the listing's ``price`` until it is written again.
PRICE_UNKNOWN = -2
COLUMN_FIELDS.update({f"price_{d}": ("q", PRICE_UNKNOWN) for d in DEAL_TYPES})


def build_schema():
    """Text is indexed twice: ``title``/``body`` with frequencies only (what matching and BM25 read, in
    compact blocks) and ``title_pos``/``body_pos`` with word positions (read only for phrases)."""
    analyzer = ChineseEnglishAnalyzer()
    fields = {
        "lid": ID(unique=True, stored=True),
        "title": TEXT(analyzer=analyzer, phrase=False),
        "body": TEXT(analyzer=analyzer, phrase=False),
        "title_pos": FieldType(formats.Positions(), analyzer, scorable=False),
        "body_pos": FieldType(formats.Positions(), analyzer, scorable=False),
        # Two words that follow each other, as one term (no frequencies): a phrase is a term look-up (issue 18).
        "title_pair": FieldType(formats.Existence(), WordPairAnalyzer(), scorable=False),
        "body_pair": FieldType(formats.Existence(), WordPairAnalyzer(), scorable=False),
        "numbers": KEYWORD(lowercase=True),
        "ipc": KEYWORD(lowercase=True),  # section, class, subclass and group terms: h, h01, h01m, h01m4/36
    }
    for name, (typecode, default) in COLUMN_FIELDS.items():
        fields[name] = COLUMN(columns.NumericColumn(typecode, default=default))
    return Schema(**fields)


def _mask(values, vocabulary):
    out = 0
    for value in values:
        out |= 1 << vocabulary.index(value)
    return out


# --- documents --------------------------------------------------------------

def _ipc_terms(code):
    """'H01M 4/36' -> ['h', 'h01', 'h01m', 'h01m4/36']."""
    compact = "".join((code or "").split()).upper()
    if not compact or compact[0] not in IPC_SECTIONS:
        return []
    terms = [compact[:1]]
    if len(compact) >= 3:
        terms.append(compact[:3])
    if len(compact) >= 4:
        terms.append(compact[:4])
    if len(compact) > 4:
        terms.append(compact)
    return [t.lower() for t in terms]


def normalise_ipc(value):
    """A filter value for ``ipc``: section 'H', class 'H01', subclass 'H01M' or group 'H01M 4/36'; None if malformed."""
    compact = "".join((value or "").split()).upper()
    if re.fullmatch(r"[A-H](\d\d([A-Z](\d{1,4}/\d{1,6})?)?)?", compact):
        return compact.lower()
    return None


def listing_price(listing):
    """The price shown and sorted by: fixed/negotiable price, or the auction's current (else start) price."""
    if listing.price_mode == "auction" and listing.auction is not None:
        return listing.auction.current_price or listing.auction.start_price
    return listing.price


def deal_type_prices(listing):
    """{``price_<deal type>``: fen, or -1 when the deal type is not offered or has no price (面议)}: an
    auction's every deal type at its current (else start) price, otherwise the type's own price, else ``price``."""
    offered = set(listing.deal_types or [])
    out = {}
    for deal_type in DEAL_TYPES:
        if deal_type not in offered:
            price = None
        elif listing.price_mode == "auction":
            price = listing_price(listing)
        else:
            price = listing.price_for(deal_type)
        out[f"price_{deal_type}"] = int(price) if price is not None else -1
    return out


def _epoch(value):
    if value is None:
        return 0
    return int(value.replace(tzinfo=timezone.utc).timestamp())


def listing_document(listing, open_ids=None):
    """The index document of a (published) listing. ``open_ids``: the ids of the listings under an open licence
    declaration (``open_licence.open_listing_ids()``), read once by a rebuild instead of one query a listing."""
    rights = list(listing.rights)
    body = [listing.description or ""]
    numbers, ipc, sections, nice, ptypes = [], [], set(), set(), set()
    for right in rights:
        if right.title and right.title != listing.title:
            body.append(right.title)
        body.extend(filter(None, [right.abstract]))
        body.extend(right.goods or [])
        numbers.extend(number_variants(right.number, right.kind))
        for code in right.ipc_codes or []:
            terms = _ipc_terms(code)
            ipc.extend(terms)
            if terms:
                sections.add(terms[0].upper())
        for cls in right.nice_classes or []:
            try:
                cls = int(cls)
            except (TypeError, ValueError):
                continue
            if 1 <= cls <= 45:
                nice.add(cls)
        if right.patent_type in PATENT_TYPES:
            ptypes.add(right.patent_type)
        body.extend(right.holder_names)  # 权利人: the holder's name finds the listing
    if listing.organization is not None:
        body.append(listing.organization.name)
    deal_types = [d for d in (listing.deal_types or []) if d in DEAL_TYPES]
    grade = listing.grade if listing.grade in GRADES else None
    price = listing_price(listing)
    region = listing.region if listing.region in REGION_CODES else "other"
    return {
        "lid": str(listing.id),
        "title": listing.title or "",
        "title_pos": listing.title or "",
        "title_pair": listing.title or "",
        "body": "\n".join(body),
        "body_pos": "\n".join(body),
        "body_pair": "\n".join(body),
        "numbers": " ".join(dict.fromkeys(numbers)),
        "ipc": " ".join(dict.fromkeys(ipc)),
        "listing_id": int(listing.id),
        "kind": KINDS.index(listing.kind) if listing.kind in KINDS else 0,
        "patent_type": _mask(ptypes, PATENT_TYPES),
        "grade": GRADES.index(grade) + 1 if grade else 0,
        "ipc_section": _mask(sections, IPC_SECTIONS),
        "nice_class": _mask(nice, NICE_CLASSES),
        "deal_type": _mask(deal_types, DEAL_TYPES),
        "price_mode": PRICE_MODES.index(listing.price_mode) if listing.price_mode in PRICE_MODES else 0,
        "price": int(price) if price is not None else -1,
        "region": REGION_CODES.index(region),
        "published": _epoch(listing.published_at),
        "ends": _epoch(listing.auction.ends_at) if listing.price_mode == "auction" and listing.auction else 0,
        "open_licence": 1 if _open_licence(listing, open_ids) else 0,
        **deal_type_prices(listing),
    }


def _open_licence(listing, open_ids=None):
    if listing.kind != "patent":
        return False
    return listing.id in open_ids if open_ids is not None else is_open(listing)


def is_searchable(listing):
    """Only published listings are searchable (docs/design.md)."""
    return listing is not None and listing.status == "published"

