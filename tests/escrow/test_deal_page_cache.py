"""The deal page's cached body (issue 19, escrow/deal_page.py): never stale, never another viewer's.

The body is kept under the deal's stamp (the deal row plus one statement over everything else it shows), the
viewer's roles and the language; the actions panel and CSRF tokens are rendered on every request. These tests
turn the page cache on (the shared test configuration has it off)."""
import re

import pytest
from flask import has_request_context
from sqlalchemy import event, update

from escrow import deal_page, payouts
from escrow.models import Deal
from listings.models import Listing
from marketplace.kernel.extensions import db
from marketplace.kernel.models import User
from marketplace.kernel.timeutil import utcnow
from tests import factories
from tests.conftest import login
from tests.escrow.conftest import drive


@pytest.fixture
def app_config():
    return {"PAGE_CACHE": True, "CACHE_TYPE": "SimpleCache"}


class Renders:
    """Counts renders of the body (cache misses) and the SQL statements a request makes."""

    def __init__(self, monkeypatch):
        self.bodies = 0
        self.statements = []
        self.tables_in_body = set()
        self._in_body = False
        real = deal_page.render_body

        def counted(**context):
            self.bodies += 1
            self._in_body = True
            try:
                return real(**context)
            finally:
                self._in_body = False

        monkeypatch.setattr(deal_page, "render_body", counted)

    def note(self, conn, cursor, statement, parameters, context, executemany):
        if not has_request_context():
            return  # the test's own reads (it reads its objects again after each request) are not the page's
        self.statements.append(statement)
        if self._in_body:
            self.tables_in_body.update(t.lower() for pair in re.findall(r'(?:FROM|JOIN)\s+"?(\w+)"?\s', statement + " ")
                                       for t in [pair])

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self.note)
        return self

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self.note)


@pytest.fixture
def renders(app, monkeypatch):
    with Renders(monkeypatch) as counter:
        yield counter


def page(client, as_user, user, deal_id):
    as_user(user)
    response = client.get(f"/deals/{deal_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert str(deal_page.CSRF_MARK) not in html and str(deal_page.ACTIONS_MARK) not in html
    return html


def without_tokens(html):
    """The page with its CSRF tokens' values blanked (each request puts in a token of its own)."""
    return re.sub(r'(name="csrf_token" value=")[^"]+"', r'\1"', html)


def fresh(deal_id):
    db.session.expire_all()
    return db.session.get(Deal, deal_id)


def test_a_second_view_comes_from_the_cache_in_a_few_statements(app, client, as_user, open_deal, parties, renders):
    deal = open_deal()
    first = page(client, as_user, parties.buyer, deal.id)
    assert renders.bodies == 1
    renders.statements.clear()
    again = page(client, as_user, parties.buyer, deal.id)
    assert renders.bodies == 1, "the body was rendered again although nothing changed"
    assert without_tokens(again) == without_tokens(first)  # each request signs its tokens with the time
    # the user; the deal (the permission check) with its stamp and the header's unread count in one statement
    assert len(renders.statements) <= 2, renders.statements


def test_a_change_committed_by_another_request_shows_at_once(app, client, as_user, open_deal, parties, renders):
    """Another request commits on a connection of its own (this session still holds the deal it loaded): the deal
    row and its stamp are read again in one statement on every view, so the next view shows the change."""
    deal = open_deal()
    before = page(client, as_user, parties.buyer, deal.id)
    # kept whole (the CSRF tokens are signed with the time in seconds: two views a second apart carry different ones)
    assert without_tokens(page(client, as_user, parties.buyer, deal.id)) == without_tokens(before)
    assert renders.bodies == 1
    with db.engine.begin() as other:
        other.execute(update(Deal).where(Deal.id == deal.id).values(flagged="到账金额与应付金额不符"))
    flagged = page(client, as_user, parties.buyer, deal.id)
    assert 'class="tag deal-flag"' in flagged and 'class="tag deal-flag"' not in before
    with db.engine.begin() as other:
        other.execute(update(User).where(User.id == parties.buyer.id).values(name="另一请求改名的买方"))
    renamed = page(client, as_user, parties.buyer, deal.id)  # the viewer: in the header and the deal's facts
    assert renamed.count("另一请求改名的买方") >= 2, "the header or the facts show the old name"
    assert page(client, as_user, parties.buyer, deal.id) == renamed
    assert renders.bodies == 3
    # and the permission check reads the same row: a stranger is refused whatever the cache holds
    stranger = factories.make_user("buyer")
    db.session.commit()
    as_user(stranger)
    assert client.get(f"/deals/{deal.id}").status_code == 404
    assert client.get(f"/deals/{deal.id + 1000}").status_code == 404  # no such deal


def test_a_payment_and_each_state_change_show_at_once(app, client, as_user, open_deal, parties, renders):
    deal = open_deal(price=500_000_00)
    before = page(client, as_user, parties.buyer, deal.id)
    assert f'action="/deals/{deal.id}/pay"' in before and "status-awaiting_payment" in before
    drive(deal.id, "funded", parties, sign=False)  # the operator confirms the bank transfer (a ledger entry)
    funded = page(client, as_user, parties.buyer, deal.id)
    assert "status-funded" in funded and "status-awaiting_payment" not in funded.split('class="deal-head"')[1][:400]
    assert "¥500,000.00" in funded.split('id="ledger-h"')[1]  # 买方已付: the payment is in the ledger
    assert f'action="/deals/{deal.id}/pay"' not in funded
    seller_view = page(client, as_user, parties.seller, deal.id)
    assert f'action="/deals/{deal.id}/transfer-filed"' in seller_view
    drive(deal.id, "transfer_filed", parties, sign=False)  # a new event with a document
    filed = page(client, as_user, parties.seller, deal.id)
    assert "status-transfer_filed" in filed and "/documents/" in filed
    assert f'action="/deals/{deal.id}/transfer-filed"' not in filed
    assert renders.bodies == 4


def test_a_new_event_without_a_state_change_shows_at_once(app, client, as_user, open_deal, parties, renders):
    deal = drive(open_deal().id, "funded", parties, sign=False)
    before = page(client, as_user, parties.buyer, deal.id)
    from escrow.models import DealEvent

    db.session.add(DealEvent(deal_id=deal.id, actor_id=parties.operator.id, action="note", from_state="funded",
                             to_state="funded", note="平台已电话联系卖方"))
    db.session.commit()
    after = page(client, as_user, parties.buyer, deal.id)
    assert "平台已电话联系卖方" not in before and "平台已电话联系卖方" in after


def test_changes_outside_the_deal_row_show_at_once(app, client, as_user, open_deal, parties, renders):
    deal = open_deal()
    buyer_view = page(client, as_user, parties.buyer, deal.id)
    seller_view = page(client, as_user, parties.seller, deal.id)
    # the buyer renames themself and the listing's title changes: neither touches the deal's row
    db.session.get(User, parties.buyer.id).name = "改名后的买方"
    db.session.get(Listing, deal.listing_id).title = "改名后的锂电池专利"
    db.session.commit()
    seller_after = page(client, as_user, parties.seller, deal.id)
    buyer_after = page(client, as_user, parties.buyer, deal.id)
    assert "改名后的买方" in seller_after and "改名后的买方" not in seller_view
    assert "改名后的锂电池专利" in buyer_after and "改名后的锂电池专利" not in buyer_view


def test_a_payout_account_shows_on_the_sellers_cached_page(app, client, as_user, open_deal, parties, renders):
    from escrow.payout_models import PayoutAccount

    deal = open_deal()
    before = page(client, as_user, parties.seller, deal.id)
    assert "招商银行" not in before
    old = payouts.current_account(payouts.payee_of(deal))  # the seller's organisation has one (the factory's)
    old.replaced_at = utcnow()
    db.session.add(PayoutAccount(organization_id=deal.organization_id, bank="招商银行", branch="北京分行",
                                 account_number="6214830100112233", account_name=old.account_name,
                                 submitted_by_id=parties.seller.id))
    db.session.commit()
    after = page(client, as_user, parties.seller, deal.id)
    assert "招商银行" in after.split('id="deal-payout-account"')[1][:200]


def test_one_partys_view_never_reaches_another(app, open_deal, parties, renders):
    deal = open_deal()
    clients = {}
    for name in ("buyer", "seller", "operator"):  # each in a browser of their own
        clients[name] = login(app.test_client(), getattr(parties, name))

    def view(name):
        return clients[name].get(f"/deals/{deal.id}").get_data(as_text=True)

    buyer_view, seller_view, operator_view = (view(name) for name in ("buyer", "seller", "operator"))
    assert renders.bodies == 3  # one body per role: none was served to another role
    contact = re.compile(r'data-field="contact">([^<]*)<a href="mailto:([^"]+)"')
    assert contact.search(buyer_view).group(2) == parties.seller.email  # the buyer sees the seller's contact
    assert contact.search(seller_view).group(2) == parties.buyer.email
    assert contact.search(operator_view) is None
    assert f'action="/deals/{deal.id}/pay"' in buyer_view
    assert f'action="/deals/{deal.id}/pay"' not in seller_view + operator_view
    payout_link = 'href="/account/payout-account"'  # the seller's own: register or manage their payout account
    assert payout_link in seller_view and payout_link not in buyer_view + operator_view
    # each sees their own CSRF token, never the mark or another's token
    tokens = {name: set(re.findall(r'name="csrf_token" value="([^"]+)"', html))
              for name, html in (("buyer", buyer_view), ("seller", seller_view), ("operator", operator_view))}
    assert tokens["buyer"] and not tokens["buyer"] & (tokens["seller"] | tokens["operator"])
    # the buyer again, after the others filled the cache: still the buyer's page
    again = view("buyer")
    assert contact.search(again).group(2) == parties.seller.email and f'action="/deals/{deal.id}/pay"' in again


def test_a_stranger_gets_a_404_even_with_the_body_cached(app, client, as_user, open_deal, parties, renders):
    deal = open_deal()
    page(client, as_user, parties.buyer, deal.id)
    stranger = factories.make_user("buyer")
    db.session.commit()
    as_user(stranger)
    response = client.get(f"/deals/{deal.id}")
    assert response.status_code == 404
    assert deal.payment_reference not in response.get_data(as_text=True)
    assert renders.bodies == 1


def test_the_language_has_its_own_body(app, client, as_user, open_deal, parties, renders):
    deal = open_deal()
    chinese = page(client, as_user, parties.buyer, deal.id)
    english = client.get(f"/deals/{deal.id}?lang=en").get_data(as_text=True)
    assert "交易进度" in chinese and "交易进度" not in english


@pytest.mark.parametrize("state", ["awaiting_payment", "transfer_recorded", "completed", "refunded"])
def test_the_stamp_covers_every_table_the_body_reads(app, client, as_user, open_deal, parties, renders, state):
    deal = drive(open_deal(kind="trademark").id, state, parties)
    for user in (parties.buyer, parties.seller, parties.operator):
        db.session.expire_all()  # nothing the body needs is already loaded
        page(client, as_user, user, deal.id)
    assert renders.tables_in_body, "no statement seen while the body rendered"
    unstamped = renders.tables_in_body - deal_page.STAMPED_TABLES - deal_page.REFERENCE_TABLES
    assert not unstamped, f"the body reads {unstamped}, which the stamp does not cover"


def test_the_stamp_is_one_statement_and_changes_with_what_it_covers(app, open_deal, parties):
    deal = open_deal()
    statements = []

    def note(*args):
        statements.append(args[2])

    loaded = fresh(deal.id)
    event.listen(db.engine, "before_cursor_execute", note)
    try:
        first = deal_page.stamp(loaded)
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert len(statements) == 1
    assert deal_page.stamp(fresh(deal.id)) == first
    db.session.get(User, parties.seller.id).email = "new-seller@example.com"
    db.session.commit()
    assert deal_page.stamp(fresh(deal.id)) != first


def test_the_viewers_header_is_never_stale(app, client, as_user, open_deal, parties, renders):
    """The whole page is kept per viewer: a new notification, a new name, a flash message show at once."""
    from marketplace.kernel.notify import notify

    deal = open_deal()
    badge = re.compile(r'class="badge-count" aria-label="未读">(\d+)<')
    first = page(client, as_user, parties.buyer, deal.id)
    unread = int(badge.search(first).group(1)) if badge.search(first) else 0
    notify(parties.buyer, "offer", "您的报价已被卖方接受")
    db.session.commit()
    second = page(client, as_user, parties.buyer, deal.id)
    assert int(badge.search(second).group(1)) == unread + 1
    db.session.get(User, parties.buyer.id).name = "新名字买方"
    db.session.commit()
    assert "新名字买方" in page(client, as_user, parties.buyer, deal.id)
    with client.session_transaction() as sess:
        sess["_flashes"] = [("success", "合同已签署")]
    flashed = page(client, as_user, parties.buyer, deal.id)
    assert "合同已签署" in flashed
    assert "合同已签署" not in page(client, as_user, parties.buyer, deal.id)  # shown once, and never kept
    assert renders.bodies == 2  # the body again only for the new name (the facts show the buyer), not for the rest


def test_a_correction_form_is_never_kept(app, client, as_user, open_deal, parties, renders):
    deal = drive(open_deal().id, "funded", parties)
    as_user(parties.buyer)
    wrong = client.post(f"/deals/{deal.id}/dispute", data={"dispute-reason": ""})
    assert wrong.status_code == 422 and "has-error" in wrong.get_data(as_text=True)
    plain = page(client, as_user, parties.buyer, deal.id)
    assert "has-error" not in plain and 'role="alert"' not in plain


def test_a_commit_during_the_render_is_not_kept_under_the_older_stamp(app, client, as_user, open_deal, parties,
                                                                       monkeypatch):
    deal = open_deal()
    seller_id, old_name = parties.seller.id, parties.seller.name
    real = deal_page.render_body
    renamed = []

    def render_while_renamed(**context):
        if not renamed:  # another request commits a new name between this one's stamp and its render
            with app.app_context():  # its own session, as another request's would be
                db.session.get(User, seller_id).name = "渲染中改名的卖方"
                db.session.commit()
            renamed.append(True)
        return real(**context)

    monkeypatch.setattr(deal_page, "render_body", render_while_renamed)
    first = page(client, as_user, parties.buyer, deal.id)
    assert renamed and "渲染中改名的卖方" in first  # the render saw the commit made after the stamp was read
    db.session.get(User, seller_id, populate_existing=True).name = old_name  # and back: the stamp read first recurs
    db.session.commit()
    again = page(client, as_user, parties.buyer, deal.id)
    assert old_name in again and "渲染中改名的卖方" not in again
