"""Model factories, in one place. Each returns a flushed object; tests commit when they need to."""
import functools
import itertools

from werkzeug.security import generate_password_hash

from marketplace.kernel.extensions import db
from marketplace.kernel.models import ApiToken, Organization, User
from marketplace.kernel.timeutil import utcnow
from marketplace.kernel.uscc import uscc_check_char

# The smallest files the upload checks accept, for every test that uploads one (kept once here).
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def code_packages():
    """The application's Python packages, as babel.cfg lists them for extraction (one list for every test that
    walks the code: translations, labels, settings)."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "babel.cfg").read_text(encoding="utf-8")
    return tuple(re.findall(r"^\[python: (\w+)/\*\*\.py\]", text, re.M))


def free_port():
    """A TCP port free on the loopback now (a server the test starts binds it next)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

_seq = itertools.count(1)
PASSWORD = "correct-horse-battery"


def make_uscc(n=None):
    """A valid Unified Social Credit Code, different for each n."""
    n = next(_seq) if n is None else n
    body = "91440300" + f"{n % 10**9:09d}"
    return body + uscc_check_char(body)


def make_org(name=None, region="shenzhen", verified=True, **kw):
    n = next(_seq)
    org = Organization(name=name or f"测试科技有限公司{n}", uscc=make_uscc(n), region=region, verified=verified, **kw)
    db.session.add(org)
    db.session.flush()
    return org


@functools.cache
def hash_of(password):
    """The password hash every test user gets: PBKDF2 with 1,000 rounds, computed once per password per test
    process. Sign-in forms and contract signatures still check it (``User.check_password``); scrypt, which
    production stores (``User.set_password``, checked in tests/marketplace/test_accounts.py), costs ~65 ms of
    CPU per check by design, and the suite checks passwords thousands of times (each contract signature)."""
    return generate_password_hash(password, method="pbkdf2:sha256:1000")


def make_user(*roles, org=None, email=None, name=None, password=PASSWORD, payout_account=True, **kw):
    """make_user("seller") gets an organisation of its own; pass org= to share one, or org=False for a
    natural person (a seller without an organisation, issue 13). A seller's payee (organisation, or the
    seller) gets a verified payout account unless ``payout_account=False``."""
    roles = roles or ("buyer",)
    n = next(_seq)
    user = User(email=email or f"user{n}@example.com", name=name or f"用户{n}", **kw)
    user.roles = roles
    user.password_hash = hash_of(password)
    if org is False:
        org = None
    elif org is None and ("seller" in roles or "operator" in roles):
        org = make_org()
    if org is not None:
        user.organization = org
    db.session.add(user)
    db.session.flush()
    if "seller" in roles and payout_account:
        make_payout_account(user)
    return user


def make_payout_account(user, verified=True, account_number=None, **kw):
    """The payee's current payout account (in the payee's own name), verified by default; kept if one exists."""
    from escrow import payouts
    from escrow.payout_models import PayoutAccount

    payee = payouts.payee_of_user(user)
    existing = payouts.current_account(payee)
    if existing is not None:
        return existing
    n = next(_seq)
    account = PayoutAccount(**payee.fields(), bank="中国银行", branch="深圳高新区支行",
                            account_number=account_number or f"7{n:011d}", account_name=payee.name,
                            status="verified" if verified else "pending", method="operator" if verified else None,
                            verified_at=utcnow() if verified else None, submitted_by_id=user.id, micro_attempts=0,
                            **kw)
    db.session.add(account)
    db.session.flush()
    return account


def token_for(user):
    """A bearer token for ``user``, committed: the request that presents it reads it in a session of its own."""
    _row, token = ApiToken.issue(user)
    db.session.commit()
    return token


def auth_header(user):
    return {"Authorization": f"Bearer {token_for(user)}"}


def unique_patent_number(n):
    """A valid 2017 invention application number, different for each ``n``."""
    from listings.identifiers import patent_check_char

    digits = f"20171{(600000 + n) % 10_000_000:07d}"
    return f"{digits}.{patent_check_char(digits)}"


def find_right(kind, number):
    from listings.models import Right

    return db.session.scalar(db.select(Right).where(Right.kind == kind, Right.number == number))


def holder_for(user):
    """The register holder row for ``user``'s organisation (or the user as a natural person)."""
    from listings.models import RightHolder

    if user.organization_id is not None:
        return RightHolder(holder_type="organization", organization_id=user.organization_id,
                           name=user.organization.name)
    return RightHolder(holder_type="person", user_id=user.id, name=user.name or user.email)


def make_listing(seller=None, *, status="published", price_mode="fixed", price=1_000_000_00,
                 deal_types=("assignment", "non_exclusive_license"), kind="patent", title=None, auction=None,
                 number=None, **kw):
    """A listing with one valid granted invention patent (or a trademark), in ``status``.

    ``auction`` is a dict of Auction fields for price_mode="auction".
    """
    from datetime import date, timedelta

    from listings.models import Auction, Listing, Right
    from marketplace.kernel.timeutil import utcnow

    seller = seller or make_user("seller")
    n = next(_seq)
    listing = Listing(kind=kind, title=title or f"一种锂电池正极材料及其制备方法{n}", description="**测试**挂牌",
                      status=status, seller_id=seller.id, organization_id=seller.organization_id,
                      deal_types=list(deal_types), price_mode=price_mode,
                      price=None if price_mode == "auction" else price,
                      region=seller.organization.region if seller.organization else "other", **kw)
    if status in ("published", "reserved", "sold"):
        listing.published_at = utcnow()
    # Each listing offers its own register entry (held by the seller's organisation) unless a
    # number is given: then the register's entry for it is reused if there is one.
    if kind == "patent":
        number = number or unique_patent_number(n)
        right = find_right("patent", number) or Right(
            kind="patent", number=number, title=listing.title, patent_type="invention", ipc_codes=["H01M 4/36"],
            filing_date=date(2017, 7, 21), grant_date=date(2020, 3, 10), claims_count=10, legal_status="granted")
    else:
        number = number or str(12_000_000 + n)
        right = find_right("trademark", number) or Right(
            kind="trademark", number=number, title="星河", nice_classes=[9], similar_groups=["0901"],
            goods=["计算机程序"], registration_date=date(2018, 5, 7), tm_status="registered")
    if not right.holders:
        right.holders.append(holder_for(seller))
    listing.rights.append(right)
    if price_mode == "auction":
        values = {"start_price": 100_000_00, "min_increment": 10_000_00,
                  "ends_at": utcnow() + timedelta(days=3)}
        values.update(auction or {})
        listing.auction = Auction(**values)
    db.session.add(listing)
    db.session.flush()
    return listing


# --- issue 15: the contract both parties sign before paying, the recordal an operator checks -----------

def sign_contract(deal, now=None, password=PASSWORD, ip="127.0.0.1"):
    """Both parties sign the deal's contract through ``escrow.contracts.sign`` (password checked), for
    tests that open and pay deals but are not about signing. Returns the deal; flushes, never commits."""
    from escrow import contracts

    signed = contracts.signed_roles(deal)
    for role, user in (("seller", deal.seller), ("buyer", deal.buyer)):
        if role not in signed:
            contracts.sign(deal.id, user, password, ip, now=now)
    return deal


def recordal_details(deal, now=None):
    """Valid recordal details for the deal's kind, dated the day of ``now`` (Beijing time)."""
    from marketplace.kernel.timeutil import local, utcnow

    day = local(now or utcnow()).date().isoformat()
    if deal.listing.kind == "patent":
        return {"notice_number": "2026120400012345", "notice_date": day}
    return {"gazette_issue": "1890", "gazette_page": "123", "notice_date": day}


def record_and_verify(deal, seller, operator, document, now=None, note=None):
    """The seller submits the approval notice with valid details (a trademark assignment's buyer first
    confirms the joint filing) and an operator verifies them: the transfer is recorded."""
    from escrow import deals, recordal

    if recordal.needs_joint_filing(deal) and not recordal.filing_confirmed(deal):
        recordal.confirm_filing(deal.id, deal.buyer, now=now)
    deals.record_transfer(deal.id, seller, document, note=note, now=now, details=recordal_details(deal, now))
    return recordal.verify(deal.id, operator, now=now)
