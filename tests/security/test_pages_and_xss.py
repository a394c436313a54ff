"""Every page, rendered with hostile text in every free-text field, for the visitors who see it.

A "poisoned" world puts ``pages.PAYLOADS`` into every field a user can type and another
user (or the operator) later sees: names, organisation names, listing titles, descriptions
(Markdown), patent titles and abstracts, trademark texts and goods, rejection reasons, offer
messages, dispute reasons, document notes and file names, cancel reasons, credit record
descriptions and appeal notes, grading rationales, saved-search queries, notifications, and
the search box (reflected). Then every GET route of the app is visited:

* HTML pages: 200, the CSP header, and ``pages.page_problems`` finds no inline script or style,
  no event-handler attribute, no ``javascript:`` URL and no injected element; pages that show
  the hostile text must show it (escaped), so the check is not passed by leaving the field out;
* files (documents, images, CSV): never served as HTML, always with ``nosniff``.

A GET route not in ``PAGES`` fails ``test_every_page_is_visited``.
"""
import io

import pytest
from werkzeug.datastructures import FileStorage

from marketplace.kernel.extensions import db
from tests import factories

from .conftest import PDF, PNG, World, client_for
from .pages import MARK, PAYLOADS, page_problems

LONG, SHORT = PAYLOADS["long"], PAYLOADS["short"]


def _file(data=PDF, name=SHORT + ".pdf"):
    return FileStorage(stream=io.BytesIO(data), filename=name, content_type="application/pdf")


class Poisoned:
    """The world with hostile text everywhere (built through the services where they exist)."""

    def __init__(self):
        from escrow import contracts, deals, trading
        from listings import grading, service
        from marketplace.kernel import credit, kyc
        from search import service as search_service

        w = self.w = World()
        w.seller.name = SHORT
        w.buyer.name = SHORT
        w.seller.organization.name = LONG[:200]
        db.session.commit()
        kyc.upload_licence(w.seller, _file())

        self.listing = w.listing(title=LONG[:200])
        self.listing.description = LONG
        self.listing.rights[0].abstract = LONG
        self.trademark = w.listing(kind="trademark", price_mode="negotiable", price=None, deal_types=("assignment",),
                                   title=LONG[:200])
        self.trademark.rights[0].title = LONG[:300]
        self.trademark.rights[0].goods = [LONG]
        self.rejected = w.listing(status="pending_review", title=LONG[:200], kind="trademark",
                                  price_mode="negotiable", price=None, deal_types=("assignment",), number="99887766")
        db.session.commit()
        service.review_listing(w.operator, self.rejected.id, "reject", LONG)
        service.attach_image(w.seller, self.rejected.id, _file(PNG, SHORT + ".png"))
        self.pending = w.listing(status="pending_review", title=LONG[:200])
        self.auction = w.auction()
        self.auction.title = LONG[:200]
        db.session.commit()
        trading.place_bid(self.auction.id, w.buyer, self.auction.auction.start_price)
        self.offer = trading.make_offer(self.trademark.id, w.buyer, 50_000_00, "assignment", LONG)
        scores = {item["key"]: 7 for item in grading.propose(self.listing)}
        grading.assess(self.listing.id, w.operator, scores, LONG)
        db.session.commit()

        self.deal = w.deal("funded")
        self.deal.listing.title = LONG[:200]
        # The contract is frozen when the deal opens: render it again from the hostile title, as a deal
        # opened on a hostile listing would have it (escrow.contracts).
        self.deal.contract.html = contracts.render_document(self.deal)
        db.session.commit()
        deals.file_transfer(self.deal.id, w.seller, _file(), note=LONG)
        deals.open_dispute(self.deal.id, w.buyer, LONG)
        self.cancelled = w.deal()
        deals.cancel_deal(self.cancelled.id, w.buyer, reason=LONG)
        self.card_deal = w.deal()
        self.card_deal.gateway = "fake_stripe"
        db.session.commit()
        self.deposit = _deposit(w)  # an auction deposit (保证金), awaiting a bank transfer

        self.record = credit.record_violation(w.operator, w.seller, "non_performance", "warned", LONG,
                                              evidence=_file())
        db.session.commit()
        credit.file_appeal(w.seller, self.record.id, LONG)
        search_service.save_search(w.buyer, SHORT, {})
        w.notification(link="/notifications")
        db.session.commit()
        self.document = self.deal.documents[0]

        # money going out (issue 15): a changed payout account waiting for an operator, a bank refund waiting
        from escrow import payouts, refunds

        payouts.submit_account(w.seller, "中国银行", SHORT, "6222 0210 0100 9876", w.seller.organization.name)
        self.refund_deal = w.deal("disputed")
        deals.resolve_dispute(self.refund_deal.id, w.operator, "refund", note=LONG)
        refunds.enter_account(self.refund_deal.id, w.buyer, "中国银行", SHORT, "6222021001004321", w.buyer.name)
        db.session.commit()

        from listings import register

        w.other_seller.organization.name = LONG[:200]
        db.session.commit()
        self.claim = register.file_claim(w.other_seller, self.listing.rights[0], _file(), LONG)
        db.session.commit()
        self._demand()
        self._messages()

    def _messages(self):
        """Messages (issue 17): the buyer's thread about the hostile listing and a thread on the disputed deal."""
        from messaging import service as messages

        w = self.w
        first = messages.write_about_listing(self.listing.id, w.buyer, LONG + " 私信暗号77")
        messages.reply(first.thread_id, w.seller, LONG)
        self.listing_thread = first.thread
        self.deal_thread = messages.write_about_deal(self.deal.id, w.buyer, LONG + " 交易暗号88").thread
        db.session.commit()

    def _demand(self):
        """The demand side (issue 22): a published and a pending wanted ad, an answer thread, a data room with a
        file, a hostile NDA, a granted buyer and a download in the log."""
        from datetime import timedelta

        from demand.watermark import quiet_import


        PdfWriter = quiet_import("pypdf").PdfWriter

        from demand import answers, dataroom, wanted
        from marketplace.kernel.timeutil import local, utcnow
        from tests.factories import PASSWORD

        w = self.w
        body = {"kind": "patent", "title": SHORT, "description": LONG, "keywords": [MARK, "锂电池"], "ipc": "H01M",
                "deal_types": ["assignment"], "negotiable": True, "region": "shenzhen",
                "expires_at": (local(utcnow()).date() + timedelta(days=30)).isoformat()}
        self.ad = wanted.post(w.buyer, body)
        wanted.review(self.ad.id, w.operator, "approve")
        self.pending_ad = wanted.post(w.buyer, body)
        db.session.commit()
        self.thread = answers.answer(self.ad.id, w.seller, self.listing.id, LONG + " 对话暗号42")
        dataroom.edit_nda(self.listing.id, w.seller, LONG)
        writer, out = PdfWriter(), io.BytesIO()
        writer.add_blank_page(width=200, height=200)
        writer.write(out)
        self.room_file = dataroom.upload(self.listing.id, w.seller, _file(out.getvalue(), SHORT + ".pdf"), "claims")
        db.session.commit()
        access = dataroom.request_access(self.listing.id, w.buyer, PASSWORD, "127.0.0.1")
        dataroom.grant(access.id, w.seller)
        db.session.commit()
        dataroom.download(self.room_file.id, w.buyer, "127.0.0.1")
        db.session.commit()

        # the finance desk (issue 23): a valuation, a loan application with a bank's question and offer, vouchers
        from finance import lending, valuation, vouchers

        w.bank = factories.make_user("bank", org=factories.make_org(name=LONG[:200]))
        w.issuer = factories.make_user("voucher_issuer", org=factories.make_org(name=SHORT))
        db.session.commit()
        right = self.listing.rights[0]
        self.valuation = valuation.create(w.seller, {
            "rights": [{"kind": right.kind, "number": right.number}], "revenues": [50_000_00] * 3,
            "royalty_rate": "8", "discount_rate": "10", "life_years": 3, "note": LONG})
        valuation.request_review(w.seller, self.valuation.id)
        self.loan = lending.apply(w.seller, {"rights": [{"kind": right.kind, "number": right.number}],
                                             "amount": 10_000_00, "term_months": 12, "purpose": LONG,
                                             "valuation_id": self.valuation.id, "banks": [w.bank.organization_id],
                                             "listed": True})
        lending.attach_statements(w.seller, self.loan.id, _file())
        lending.ask(w.bank, self.loan.id, LONG)
        lending.make_offer(w.bank, self.loan.id, {"amount": 9_000_00, "rate_bps": 385, "term_months": 12,
                                                  "conditions": LONG})
        batch = vouchers.create_batch(w.issuer, {"programme": LONG[:200], "face_value": 500_00,
                                                 "valid_from": "2026-01-01", "valid_until": "2099-12-31",
                                                 "services": ["valuation_review"],
                                                 "organization_ids": [w.other_seller.organization_id]})
        from finance.models import ServiceCharge

        charge = ServiceCharge(organization_id=w.other_seller.organization_id, service="valuation_review",
                               amount=2000_00)
        db.session.add(charge)
        db.session.flush()
        vouchers.redeem(w.other_seller, batch.id, charge.id, 100_00)  # a verified SME (the seller's is not)
        db.session.commit()

        # an open licence on the hostile listing, taken by an organisation (issue 16)
        from listings import open_licence

        self.open_licence = open_licence.declare(self.listing.id, w.seller, {"royalty_kind": "fixed",
                                                                             "annual_fee": 1_000_00, "term_years": 2})
        licensee = factories.make_user("buyer", org=factories.make_org(name=LONG[:200]))
        db.session.commit()
        _deal, self.licence = open_licence.take(self.open_licence.id, licensee)
        db.session.commit()


def _deposit(w):
    from datetime import timedelta

    from escrow import deposits
    from marketplace.kernel.timeutil import utcnow

    listing = w.listing(price_mode="auction", title=LONG[:200],
                        auction={"ends_at": utcnow() + timedelta(days=2), "deposit_amount": 1_000_00})
    deposit = deposits.open_deposit(listing.id, w.buyer)
    db.session.commit()
    return deposit


def _args(**values):
    return lambda p: {k: v(p) if callable(v) else v for k, v in values.items()}


def _reset_token(user):
    from marketplace.kernel.password_reset import make_token

    return make_token(user)


HTML, FILE, REDIRECT, JSON = "html", "file", "redirect", "json"
NONE = _args()

# endpoint -> [(visitor, url values, kind, must the hostile text show?, query string)]
PAGES = {
    "storefront.home": [("anon", NONE, HTML, True, None), ("buyer", NONE, HTML, True, None)],
    "storefront.account_credit": [("seller", NONE, HTML, True, None)],
    "storefront.account_credit_evidence": [("seller", _args(record_id=lambda p: p.record.id), FILE, False, None)],
    "storefront.account_organization": [("seller", NONE, HTML, True, None), ("buyer", NONE, HTML, False, None)],
    "storefront.account_licence": [("seller", NONE, FILE, False, None)],
    "storefront.notifications": [("buyer", NONE, HTML, True, None), ("seller", NONE, HTML, True, None),
                                 ("operator", NONE, HTML, True, None)],
    "storefront.set_language": [("anon", _args(code="en"), REDIRECT, False, {"next": "//evil.example/"})],
    "storefront.stats": [("anon", NONE, HTML, False, None)],
    "storefront.stats_csv": [("anon", NONE, FILE, False, None)],
    "auth.login": [("anon", NONE, HTML, False, {"next": LONG})],
    "auth.register": [("anon", NONE, HTML, False, None)],
    "auth.change_password": [("buyer", NONE, HTML, False, None)],
    "auth.forgot_password": [("anon", NONE, HTML, False, None)],
    "pages.help_centre": [("anon", NONE, HTML, False, None), ("buyer", NONE, HTML, False, None)],
    "pages.trading_rules": [("anon", NONE, HTML, False, None)],
    "pages.contact": [("anon", NONE, HTML, False, None)],
    "pages.terms": [("anon", NONE, HTML, False, None)],
    "pages.privacy_policy": [("anon", NONE, HTML, False, None), ("seller", NONE, HTML, False, None)],
    "auth.reset_password": [("anon", _args(token=lambda p: _reset_token(p.w.buyer)), HTML, False, None)],
    "auth.privacy": [("buyer", NONE, HTML, False, None), ("seller", NONE, HTML, False, None)],
    "auth.privacy_export": [("buyer", NONE, FILE, False, None), ("seller", NONE, FILE, False, None)],
    "trading.buyer_dashboard": [("buyer", NONE, HTML, True, None)],
    "trading.seller_offers": [("seller", NONE, HTML, True, None)],
    "trading.auction_live": [(role, _args(listing_id=lambda p: p.auction.id), JSON, False, None)
                             for role in ("anon", "buyer", "seller")],
    "escrow.my_deals": [("buyer", NONE, HTML, True, None), ("seller", NONE, HTML, True, None)],
    "escrow.buyer_dashboard": [("buyer", NONE, HTML, True, None)],
    "escrow.deal_detail": [(role, _args(deal_id=lambda p: p.deal.id), HTML, True, None)
                           for role in ("buyer", "seller", "operator")]
    + [("buyer", _args(deal_id=lambda p: p.cancelled.id), HTML, True, None)],
    "escrow_paper.contract": [(role, _args(deal_id=lambda p: p.deal.id), HTML, True, None)
                              for role in ("buyer", "seller", "operator")],
    "escrow_paper.contract_pdf": [("buyer", _args(deal_id=lambda p: p.deal.id), FILE, False, None)],
    "escrow_paper.tax_page": [(role, _args(deal_id=lambda p: p.deal.id), HTML, False, None)
                              for role in ("buyer", "seller", "operator")],
    "escrow_paper.tech_contract_csv": [("seller", _args(deal_id=lambda p: p.deal.id), FILE, False, None)],
    "escrow_paper.recordal_queue": [("operator", NONE, HTML, False, None)],
    "escrow.deal_document": [("buyer", _args(deal_id=lambda p: p.deal.id, document_id=lambda p: p.document.id),
                              FILE, False, None)],
    "escrow.payment_queue": [("operator", NONE, HTML, False, None)],
    "payouts.payout_account": [("seller", NONE, HTML, True, None)],
    "payouts.payout_accounts_queue": [("operator", NONE, HTML, True, None)],
    "payouts.refund_account": [("buyer", _args(deal_id=lambda p: p.refund_deal.id), HTML, True, None)],
    "payouts.refund_queue": [("operator", NONE, HTML, True, None)],
    "escrow.payout_queue": [("operator", NONE, HTML, False, None)],
    "escrow.dispute_queue": [("operator", NONE, HTML, True, None)],
    "payments.pay_page": [("buyer", _args(deal_id=lambda p: p.card_deal.id), HTML, False, None)],
    "deposits.page": [(role, _args(deposit_id=lambda p: p.deposit.id), HTML, True, None)
                      for role in ("buyer", "operator")],
    "deposits.queue": [("operator", NONE, HTML, True, None)],
    "payments.pay_card_return": [("buyer", _args(deal_id=lambda p: p.card_deal.id), HTML, False,
                                  {"payment_intent": SHORT})],
    "grading.rubric": [("anon", NONE, HTML, False, None)],
    "grading.queue": [("operator", NONE, HTML, True, None)],
    "grading.assess_form": [("operator", _args(listing_id=lambda p: p.listing.id), HTML, True, None)],
    "grading.calibration": [("operator", NONE, HTML, False, None)],
    "healthz": [("anon", NONE, JSON, False, None)],
    "readyz": [("anon", NONE, JSON, False, None)],
    "metrics": [("anon", NONE, FILE, False, None)],  # the test client's 127.0.0.1 is in METRICS_ALLOW_FROM
    "listings.detail": [(role, _args(listing_id=lambda p: p.listing.id), HTML, True, None)
                        for role in ("anon", "buyer", "seller", "operator")]
    + [("anon", _args(listing_id=lambda p: p.trademark.id), HTML, True, None),
       ("buyer", _args(listing_id=lambda p: p.auction.id), HTML, True, None),
       ("seller", _args(listing_id=lambda p: p.rejected.id), HTML, True, None)],
    "rights.detail": [(role, _args(kind="patent", number=lambda p: p.listing.rights[0].number), HTML, True, None)
                      for role in ("anon", "seller", "other_seller", "operator")]
    + [("other_seller", _args(kind="trademark", number=lambda p: p.trademark.rights[0].number), HTML, True, None)],
    "register_ops.claims_queue": [("operator", NONE, HTML, True, None)],
    "register_ops.claim_evidence": [("operator", _args(claim_id=lambda p: p.claim.id), FILE, False, None)],
    "register_ops.lookup": [("operator", NONE, REDIRECT, False, {"number": SHORT}),
                            ("operator", _args(kind="patent", number=lambda p: p.listing.rights[0].number), REDIRECT,
                             False, None)],
    "listings.detail_slug": [("anon", _args(listing_id=lambda p: p.listing.id, slug=SHORT), HTML, True, None)],
    "listings.edit": [("seller", _args(listing_id=lambda p: p.rejected.id), HTML, True, None)],
    "listings.image": [("seller", _args(listing_id=lambda p: p.rejected.id), FILE, False, None)],
    "listings.pledge_consent": [],  # covered by tests/listings; no consent uploaded here (404 checked below)
    "listings.listing_document": [],  # 委托书 / co-owner consent: tests/escrow/test_register_review_fixes.py
    "listings.import_csv": [("seller", NONE, HTML, False, None)],
    "finance.hub": [("seller", NONE, HTML, False, None), ("operator", NONE, HTML, False, None),
                    ("bank", NONE, HTML, False, None)],
    "finance.valuation_new": [("seller", NONE, HTML, False, None)],
    "finance.valuation_detail": [("seller", _args(valuation_id=lambda p: p.valuation.id), HTML, True, None),
                                 ("operator", _args(valuation_id=lambda p: p.valuation.id), HTML, True, None)],
    "finance.valuation_pdf": [("seller", _args(valuation_id=lambda p: p.valuation.id), FILE, False, None)],
    "finance.loan_new": [("seller", NONE, HTML, False, None)],
    "finance.loan_detail": [("seller", _args(application_id=lambda p: p.loan.id), HTML, True, None),
                            ("bank", _args(application_id=lambda p: p.loan.id), HTML, True, None)],
    "finance.loan_statements": [("seller", _args(application_id=lambda p: p.loan.id), FILE, False, None),
                                ("bank", _args(application_id=lambda p: p.loan.id), FILE, False, None)],
    "finance.bank_queue": [("bank", NONE, HTML, True, None)],
    "finance.my_vouchers": [("other_seller", NONE, HTML, True, None)],
    "finance.issuer": [("issuer", NONE, HTML, True, None)],
    "finance.operator_desk": [("operator", NONE, HTML, True, None)],
    "finance.issuer_csv": [("issuer", NONE, FILE, False, None)],
    "listings.import_template": [("seller", NONE, FILE, False, None)],
    "listings.new": [("seller", NONE, HTML, False, None), ("seller", NONE, HTML, False, {"kind": "trademark"})],
    "listings.my_listings": [("seller", NONE, HTML, True, None)],
    "listings.review_queue": [("operator", NONE, HTML, True, None)],
    "operator.console": [("operator", NONE, HTML, False, None)],
    "operator.accounts": [("operator", NONE, HTML, True, {"q": SHORT}),
                          ("operator", NONE, HTML, True, {"q": "example.com"})],
    "operator.audit_log": [("operator", NONE, HTML, False, None)],
    "operator.credit_records": [("operator", NONE, HTML, True, None)],
    "operator.credit_record": [("operator", _args(record_id=lambda p: p.record.id), HTML, True, None)],
    "operator.credit_evidence": [("operator", _args(record_id=lambda p: p.record.id), FILE, False, None)],
    "operator.kyc_queue": [("operator", NONE, HTML, True, None)],
    "operator.organization": [("operator", _args(org_id=lambda p: p.w.seller.organization_id), HTML, True, None)],
    "operator.organization_licence": [("operator", _args(org_id=lambda p: p.w.seller.organization_id), FILE,
                                       False, None)],
    "operator.market_stats": [("operator", NONE, HTML, False, None)],
    "operator.market_stats_csv": [("operator", NONE, FILE, False, None)],
    "operator.user_detail": [("operator", _args(user_id=lambda p: p.w.seller.id), HTML, True, None)],
    "search.search_page": [("anon", NONE, HTML, True, {"q": SHORT}), ("anon", NONE, HTML, False, {"q": LONG}),
                           ("buyer", NONE, HTML, False, {"q": "锂电池", "kind": SHORT, "sort": SHORT})],
    "search.saved_searches": [("buyer", NONE, HTML, True, None)],
    "static": [("anon", _args(filename="css/app.css"), FILE, False, None)],
    # the demand side (issue 22)
    "demand.browse": [("anon", NONE, HTML, True, None), ("buyer", NONE, HTML, False, {"q": LONG[:100]}),
                      ("anon", NONE, HTML, False, {"kind": SHORT})],
    "demand.new": [("buyer", NONE, HTML, False, None)],
    "demand.detail": [(role, _args(wanted_id=lambda p: p.ad.id), HTML, True, None)
                      for role in ("anon", "buyer", "seller", "operator")],
    "demand.thread": [(role, _args(answer_id=lambda p: p.thread.id), HTML, True, None)
                      for role in ("buyer", "seller", "operator")],
    "demand.mine": [("buyer", NONE, HTML, True, None), ("seller", NONE, HTML, False, None)],
    "demand.review_queue": [("operator", NONE, HTML, True, None)],
    "demand.room": [(role, _args(listing_id=lambda p: p.listing.id), HTML, True, None)
                    for role in ("seller", "buyer", "other_buyer", "operator")],
    "demand.download": [("buyer", _args(file_id=lambda p: p.room_file.id), FILE, False, None),
                        ("seller", _args(file_id=lambda p: p.room_file.id), FILE, False, None)],
    # messages (issue 17)
    "messaging.inbox": [(role, NONE, HTML, True, None) for role in ("buyer", "seller")]
    + [("operator", NONE, HTML, False, None)],
    "messaging.thread": [(role, _args(thread_id=lambda p: p.listing_thread.id), HTML, True, None)
                         for role in ("buyer", "seller")]
    + [(role, _args(thread_id=lambda p: p.deal_thread.id), HTML, True, None) for role in ("buyer", "seller", "operator")],
    "messaging.listing_messages": [("other_buyer", _args(listing_id=lambda p: p.listing.id), HTML, False, None),
                                   ("buyer", _args(listing_id=lambda p: p.listing.id), REDIRECT, False, None)],
    "messaging.deal_messages": [(role, _args(deal_id=lambda p: p.deal.id), REDIRECT, False, None)
                                for role in ("buyer", "seller", "operator")]
    + [("buyer", _args(deal_id=lambda p: p.cancelled.id), HTML, False, None)],
    "licensing.catalogue": [("anon", NONE, HTML, True, None), ("buyer", NONE, HTML, True, None)],
    "licensing.declare_form": [("seller", _args(listing_id=lambda p: p.listing.id), HTML, True, None)],
    "licensing.my_licences": [("seller", NONE, HTML, True, None)],
    "licensing.licences_csv": [("seller", NONE, FILE, False, {"side": "licensor"}),
                               ("buyer", NONE, FILE, False, {"side": "licensee"})],
    "licensing.licence_page": [(role, _args(licence_id=lambda p: p.licence.id), HTML, True, None)
                               for role in ("seller", "operator")],
}


def _get_routes(app):
    return {rule.endpoint for rule in app.url_map.iter_rules()
            if "GET" in rule.methods and not rule.rule.startswith("/api/")}


def test_every_page_is_visited(app):
    missing = sorted(_get_routes(app) - set(PAGES))
    assert not missing, ("GET pages missing from tests/security/test_pages_and_xss.py PAGES (say who sees them): "
                         + ", ".join(missing))


@pytest.fixture
def poisoned(app):
    return Poisoned()


def _text_of(html):
    from html import unescape
    from html.parser import HTMLParser

    parts = []

    class Text(HTMLParser):
        def handle_data(self, data):
            parts.append(data)

        def handle_starttag(self, tag, attrs):
            parts.extend(unescape(v or "") for _k, v in attrs)

    Text(convert_charrefs=True).feed(html)
    return "".join(parts)


def test_every_page_renders_hostile_text_inert(app, poisoned):
    from flask import url_for

    failures = []
    for endpoint in sorted(set(PAGES) & _get_routes(app)):
        for role, values, kind, shows, query in PAGES[endpoint]:
            with app.test_request_context():
                path = url_for(endpoint, **values(poisoned), **(query or {}))
            response = client_for(app, poisoned.w.user(role))[0].get(path)
            where = f"GET {path[:120]} as {role}"
            if kind == REDIRECT:
                location = response.headers.get("Location", "")
                if response.status_code != 302 or "evil" in location:
                    failures.append(f"{where}: {response.status_code} → {location}")
                continue
            if response.status_code != 200:
                failures.append(f"{where}: status {response.status_code}")
                continue
            assert response.headers.get("X-Content-Type-Options") == "nosniff", where
            if kind == FILE or kind == JSON:
                if response.mimetype == "text/html":
                    failures.append(f"{where}: a file served as text/html")
                continue
            assert response.mimetype == "text/html", where
            assert "unsafe-inline" not in response.headers["Content-Security-Policy"], where
            html = response.get_data(as_text=True)
            failures += [f"{where}: {problem}" for problem in page_problems(html)]
            if shows and f"<{MARK}" not in _text_of(html):
                failures.append(f"{where}: the hostile text is not shown at all (so this page proves nothing)")
    assert not failures, "\n".join(failures)


def test_the_inspector_catches_what_it_looks_for():
    bad = ('<script>alert(1)</script><script src="https://evil.example/x.js"></script><style>p{}</style>'
           '<p style="color:red" onclick="x()">x</p><a href=" JavaScript:alert(1)">x</a><ipmart-xss>')
    problems = " | ".join(page_problems(bad))
    for expected in ("inline or foreign <script>", "inline script content", "inline <style>", "inline style attribute",
                     "event-handler attribute onclick", "href=", "injected <ipmart-xss>"):
        assert expected in problems, (expected, problems)
    assert page_problems('<script src="/static/js/app.js"></script><a href="/deals/1">x</a>') == []


def test_markdown_description_keeps_formatting_but_no_active_content(app, poisoned):
    listing = poisoned.w.listing()
    listing.description = "**粗体**\n\n[点我](javascript:alert(4)) <img src=x onerror=alert(1)> [官网](https://cnipa.gov.cn)"
    db.session.commit()
    html = client_for(app, None)[0].get(f"/listings/{listing.id}").get_data(as_text=True)
    assert "<strong>粗体</strong>" in html
    assert 'href="https://cnipa.gov.cn"' in html
    assert page_problems(html) == []


def test_pledge_consent_of_a_listing_without_one_is_404(app, poisoned):
    response = client_for(app, poisoned.w.seller)[0].get(f"/listings/{poisoned.listing.id}/pledge-consent")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert not response.get_data().startswith(b"%PDF")  # no file served


def test_api_never_answers_html(app, poisoned):
    """JSON carries the hostile text as data; the API never renders it as a page."""
    client = app.test_client()
    headers = factories.auth_header(poisoned.w.buyer)
    db.session.commit()
    for path in (f"/api/v1/listings/{poisoned.listing.id}", f"/api/v1/deals/{poisoned.deal.id}",
                 "/api/v1/notifications", f"/api/v1/search?q={SHORT}", "/api/v1/nope", "/api/v1/deals/999999"):
        response = client.get(path, headers=headers)
        assert response.mimetype == "application/json", (path, response.mimetype)
        assert response.headers["X-Content-Type-Options"] == "nosniff"


# Pages that show one party's things: who may read them. Everyone else gets a sign-in redirect (anonymous),
# 403 or 404, and never a byte of what the page would show.
PRIVATE = {  # endpoint: (url values, who may read, something only the page itself would show)
    "finance.valuation_detail": (_args(valuation_id=lambda p: p.valuation.id), {"seller", "operator"},
                                 lambda p: "onmouseover=alert(2)"),
    "finance.loan_detail": (_args(application_id=lambda p: p.loan.id), {"seller", "operator"},
                            lambda p: "onmouseover=alert(2)"),
    "escrow.deal_detail": (_args(deal_id=lambda p: p.deal.id), {"buyer", "seller", "operator"},
                           lambda p: p.deal.payment_reference),
    "escrow_paper.contract": (_args(deal_id=lambda p: p.deal.id), {"buyer", "seller", "operator"},
                              lambda p: "onmouseover=alert(2)"),
    "escrow_paper.contract_pdf": (_args(deal_id=lambda p: p.deal.id), {"buyer", "seller", "operator"},
                                  lambda p: "%PDF"),
    "escrow_paper.tax_page": (_args(deal_id=lambda p: p.deal.id), {"buyer", "seller", "operator"},
                              lambda p: p.deal.contract.sha256),
    "escrow_paper.tech_contract_csv": (_args(deal_id=lambda p: p.deal.id), {"buyer", "seller", "operator"},
                                       lambda p: p.deal.contract.sha256),
    "escrow.deal_document": (_args(deal_id=lambda p: p.deal.id, document_id=lambda p: p.document.id),
                             {"buyer", "seller", "operator"}, lambda p: "%PDF"),
    "payments.pay_page": (_args(deal_id=lambda p: p.card_deal.id), {"buyer"},
                          lambda p: f'href="/deals/{p.card_deal.id}">#{p.card_deal.id} '),
    "listings.detail": (_args(listing_id=lambda p: p.rejected.id), {"seller", "operator"}, lambda p: "99887766"),
    "deposits.page": (_args(deposit_id=lambda p: p.deposit.id), {"buyer", "operator"},
                      lambda p: p.deposit.payment_reference),
    "deposits.queue": (NONE, {"operator"}, lambda p: p.deposit.payment_reference),
    "listings.edit": (_args(listing_id=lambda p: p.rejected.id), {"seller"}, lambda p: "99887766"),
    "listings.image": (_args(listing_id=lambda p: p.rejected.id), {"seller", "operator"}, lambda p: "PNG"),
    "storefront.account_credit_evidence": (_args(record_id=lambda p: p.record.id), {"seller", "operator"},
                                           lambda p: "%PDF"),
    "operator.credit_record": (_args(record_id=lambda p: p.record.id), {"operator"},
                               lambda p: "onmouseover=alert(2)"),
    "operator.credit_evidence": (_args(record_id=lambda p: p.record.id), {"operator"}, lambda p: "%PDF"),
    "operator.organization": (_args(org_id=lambda p: p.w.seller.organization_id), {"operator"},
                              lambda p: p.w.seller.organization.uscc),
    "operator.organization_licence": (_args(org_id=lambda p: p.w.seller.organization_id), {"operator"},
                                      lambda p: "%PDF"),
    "operator.user_detail": (_args(user_id=lambda p: p.w.seller.id), {"operator"}, lambda p: p.w.seller.email),
    "operator.credit_records": (NONE, {"operator"}, lambda p: f'href="/operator/credit/{p.record.id}"'),
    "operator.accounts": (_args(q="example.com"), {"operator"}, lambda p: p.w.seller.email),
    "escrow.dispute_queue": (NONE, {"operator"}, lambda p: "onmouseover=alert(2)"),
    "grading.assess_form": (_args(listing_id=lambda p: p.listing.id), {"operator"}, lambda p: "score-"),
    "register_ops.claims_queue": (NONE, {"operator"}, lambda p: f"/operator/rights/claims/{p.claim.id}/evidence"),
    "register_ops.claim_evidence": (_args(claim_id=lambda p: p.claim.id), {"operator"}, lambda p: "%PDF"),
    "demand.thread": (_args(answer_id=lambda p: p.thread.id), {"buyer", "seller", "operator"}, lambda p: "对话暗号42"),
    "messaging.thread": (_args(thread_id=lambda p: p.listing_thread.id), {"buyer", "seller"}, lambda p: "私信暗号77"),
    "messaging.deal_messages": (_args(deal_id=lambda p: p.cancelled.id), {"buyer", "seller"},
                                lambda p: f'action="/deals/{p.cancelled.id}/messages"'),
    "demand.download": (_args(file_id=lambda p: p.room_file.id), {"buyer", "seller"}, lambda p: "%PDF"),
    "demand.detail": (_args(wanted_id=lambda p: p.pending_ad.id), {"buyer", "operator"},
                      lambda p: "待审核"),
    "demand.review_queue": (NONE, {"operator"}, lambda p: f"/operator/wanted/{p.pending_ad.id}/review"),
}


def test_private_pages_show_nothing_to_anyone_else(app, poisoned):
    from flask import url_for

    from .conftest import ROLES

    failures = []
    for endpoint, (values, allowed, secret) in sorted(PRIVATE.items()):
        for role in ROLES:
            with app.test_request_context():
                path = url_for(endpoint, **values(poisoned))
            response = client_for(app, poisoned.w.user(role))[0].get(path)
            body = response.get_data().decode("utf-8", "replace")
            if role in allowed:
                if response.status_code != 200 or secret(poisoned) not in body:
                    failures.append(f"GET {path} as {role}: {response.status_code}, expected the page")
                continue
            refused = (response.status_code in (403, 404)
                       or (role == "anon" and response.status_code == 302 and "/login" in response.headers["Location"]))
            if not refused:
                failures.append(f"GET {path} as {role}: {response.status_code}, expected a refusal")
            if secret(poisoned) in body:
                failures.append(f"GET {path} as {role}: the refusal shows the protected content")
    assert not failures, "\n".join(failures)
