"""The deal page's cache (issue 19, docs/performance.md "Third pass: the signed-in deal page", "Session 8").

The deal page is private, so the anonymous page cache (``marketplace.kernel.pagecache``) never keeps it; and it is
the costliest page to render (a template of some 200 lines: timeline, history, ledger, paperwork, facts).
Its body is the same for every viewer who holds the same roles on the deal (buyer, seller or operator),
in the same language, until something it shows changes. So the body is kept in the Flask-Caching cache
under a key made of:

- the deal's id, the viewer's roles (``deals.roles_of``: the permission check has run before, a stranger
  got a 404 and never reaches the cache) and the language;
- the deal's **stamp**: a digest of ONE statement (``stamp_rows``) that reads the deal row (every column, as
  one text value: ``_DealRowText``) and, for this deal, everything else the body shows: the newest id and
  count of its events, documents, ledger entries and postings, contract signatures; its recordal submissions
  and refund instruction (status columns); the names of the users it shows (buyer, seller, every event's
  actor); the listing's title and kind; the organisation; the payout accounts the facts show, with whether a
  hold on one is still running now. The same statement gives the permission check its parties (``SeenDeal``)
  and the header its unread count, so a cached view reads the deal once (session 8: it read the deal row,
  then the stamp).

A key is never reused for different content: any change a commit makes to what the body shows changes the
stamp, on every host (it is read from the database on each request, never from a cache), so a cached body
can never be stale — a new event, a payment, a state change shows on the next request. An entry whose stamp
is no longer current simply ages out (``PAGE_CACHE_TIMEOUT``).

Around the body, per viewer: the page's header (the user's name, unread count, flashes: ``base.html``), the panel
of the viewer's actions with its forms (``escrow/_deal_actions.html``, rendered between the body's two halves in
the same template), and every CSRF token. The body carries two marks, ``ACTIONS_MARK`` and ``CSRF_MARK`` (HTML
comments: user text is escaped, so no user can write one): ``halves`` splits it at the first, and ``with_token``
puts the viewer's own token in place of the second, on every request.

A plain view (GET, no flash waiting, no form being corrected) is also kept whole for the viewer
(``viewer_key``: the deal's stamp, the user's id, name and roles, the language, the path, the unread count and
whether the transfer is overdue now), with its CSRF marks left in: a repeat view reads the user and then the
deal with its stamp and the unread count (two statements; on PostgreSQL two round trips, the view being
``@read_only``), renders nothing and puts the token in. A render (a miss) reads the viewer and the ORM deal
again after the stamp, so it shows what the stamp saw or newer, and ``unchanged`` keeps nothing that is newer.

``STAMPED_TABLES`` lists the tables the stamp covers; tests/escrow/test_deal_page_cache.py checks that
rendering the body reads no other table, so a new read added to the template without a stamp fails there.
"""
import hashlib

from flask import current_app
from markupsafe import Markup, escape
from sqlalchemy import DateTime, String, bindparam, case, cast, func, literal_column, null, or_, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement

from marketplace.kernel.extensions import cache
from marketplace.kernel.i18n import select_locale
from marketplace.kernel.timeutil import utcnow

ACTIONS_MARK = Markup("<!--deal-actions-->")
CSRF_MARK = Markup("<!--csrf-token-->")
# Every table the body reads, and the one it reads without a stamp: ledger_accounts holds reference rows (the
# chart of accounts: code and name), created once and never renamed, so a posting's account name is fixed.
STAMPED_TABLES = frozenset({"deals", "deal_events", "deal_documents", "ledger_entries", "ledger_postings",
                            "contract_signatures", "deal_recordals", "refund_instructions", "users", "listings",
                            "organizations", "payout_accounts"})
REFERENCE_TABLES = frozenset({"ledger_accounts"})


_statements = {}


class _DealRowText(ColumnElement):
    """The whole ``deals`` row of the statement as one text value: PostgreSQL's row-to-text cast (one column to
    describe, whatever the table's width), elsewhere (SQLite) every column ``quote()``d and joined."""

    inherit_cache = True
    _traverse_internals = []  # nothing varies: the class is its whole cache key (the statement is compiled once)
    type = String()


@compiles(_DealRowText, "postgresql")
def _deal_row_text_pg(_element, _compiler, **_kw):
    return "CAST(deals AS TEXT)"


@compiles(_DealRowText)
def _deal_row_text(_element, _compiler, **_kw):
    from escrow.models import Deal

    return " || ',' || ".join(f"quote(deals.{column.name})" for column in Deal.__table__.columns)


def _stamp_statement(with_unread):
    """The stamp's statement, built once (its values are bound parameters): one ``UNION ALL`` of the deal row
    (the parties, state and transfer deadline the permission check and the page's key need, and the whole row
    as text) and everything else the body shows. What those parts need of the deal (its parties, listing,
    organisation, payout account) comes from the deal row in the same statement (``d``), so one round trip
    reads the deal and its stamp. With ``with_unread`` it also reads the viewer's unread count for the header
    (not part of the stamp). Columns: tag, two numbers, three texts, two times (typed, so no casts: the
    statement stays short enough for psycopg to keep its parsed form)."""
    from escrow.models import Deal, DealEvent, Document, JournalEntry, Posting
    from escrow.paper_models import ContractSignature, RecordalDetails
    from escrow.payout_models import PayoutAccount, RefundInstruction
    from listings.models import Listing
    from marketplace.kernel.models import Organization, User

    deal_id = bindparam("deal_id")
    NULL = literal_column("NULL")  # noqa: N806 - unlabelled (a shorter statement)
    d = select(Deal.buyer_id, Deal.seller_id, Deal.listing_id, Deal.organization_id, Deal.payout_account_id,
               Deal.state, Deal.transfer_due_at, _DealRowText().label("row")).where(Deal.id == deal_id).cte("d")

    def of_deal(column):
        return select(column).scalar_subquery()

    def tag(name):
        return literal_column(f"'{name}'")

    def newest(name, model):  # append-only rows of the deal: the newest id and how many
        return select(tag(name), func.max(model.id), func.count(model.id), NULL, NULL, NULL, NULL, NULL) \
            .where(model.deal_id == deal_id)

    now = bindparam("now", type_=PayoutAccount.hold_until.type)
    shown_accounts = union_all(  # the payee's current account (the organisation's, or the natural-person
        # seller's) and the one paid into
        select(PayoutAccount.id).where(PayoutAccount.organization_id == of_deal(d.c.organization_id),
                                       PayoutAccount.replaced_at.is_(None)),
        select(PayoutAccount.id).where(of_deal(d.c.organization_id).is_(None),
                                       PayoutAccount.user_id == of_deal(d.c.seller_id),
                                       PayoutAccount.replaced_at.is_(None)),
        select(d.c.payout_account_id))
    parts = [
        select(tag("deal").label("tag"), d.c.buyer_id.label("n1"), d.c.seller_id.label("n2"), d.c.state.label("t1"),
               d.c.row.label("t2"), null().label("t3"), d.c.transfer_due_at.label("at1"), cast(null(), DateTime).label("at2")),  # (typed: PostgreSQL resolves a
        # UNION's column types pair by pair)
        newest("events", DealEvent), newest("documents", Document), newest("entries", JournalEntry),
        newest("postings", Posting), newest("signatures", ContractSignature),
        select(tag("recordal"), RecordalDetails.id, NULL, RecordalDetails.status, RecordalDetails.reject_reason,
               NULL, RecordalDetails.decided_at, NULL).where(RecordalDetails.deal_id == deal_id),
        select(tag("refund"), RefundInstruction.id, RefundInstruction.amount, RefundInstruction.status,
               RefundInstruction.bank_reference, NULL, RefundInstruction.account_entered_at, NULL)
        .where(RefundInstruction.deal_id == deal_id),
        select(tag("user"), User.id, NULL, User.name, User.email, NULL, NULL, NULL)
        .where(or_(User.id == of_deal(d.c.buyer_id), User.id == of_deal(d.c.seller_id),
                   User.id.in_(select(DealEvent.actor_id).where(DealEvent.deal_id == deal_id)))),
        select(tag("listing"), Listing.id, NULL, Listing.title, Listing.kind, NULL, NULL, NULL)
        .where(Listing.id == of_deal(d.c.listing_id)),
        select(tag("account"), PayoutAccount.id, case((PayoutAccount.hold_until > now, 1), else_=0),
               PayoutAccount.status, PayoutAccount.bank + " " + PayoutAccount.account_number + " "
               + PayoutAccount.account_name, NULL, PayoutAccount.hold_until, PayoutAccount.replaced_at)
        .where(PayoutAccount.id.in_(shown_accounts)),
        select(tag("organization"), Organization.id, NULL, Organization.name, Organization.stripe_account_id,
               NULL, NULL, NULL).where(Organization.id == of_deal(d.c.organization_id)),
    ]
    if with_unread:
        from marketplace.kernel.models import Notification

        parts.append(select(tag(UNREAD), NULL, func.count(Notification.id), NULL, NULL, NULL, NULL, NULL)
                     .where(Notification.user_id == bindparam("viewer_id"), Notification.read_at.is_(None)))
    return union_all(*parts)


UNREAD = "~unread"


class SeenDeal:
    """What the stamp's statement read of the deal row: enough for the permission check (``deals.roles_of``),
    the page's key and whether the transfer is overdue; the page itself renders from the ORM ``Deal``."""

    __slots__ = ("id", "buyer_id", "seller_id", "state", "transfer_due_at")

    def __init__(self, deal_id, row):
        self.id, self.buyer_id, self.seller_id, self.state, self.transfer_due_at = \
            deal_id, row[1], row[2], row[3], row[6]


def stamp_rows(deal_id, now=None, viewer_id=None):
    """(``SeenDeal``, the rows as strings of the deal and everything else the body shows), in one statement, or
    (None, []) when there is no such deal. For ``viewer_id`` the rows include ``(UNREAD, "", count, …)``: that
    user's unread notifications."""
    from marketplace.kernel.extensions import db

    shape = viewer_id is not None
    statement = _statements.get(shape)
    if statement is None:
        statement = _statements[shape] = _stamp_statement(shape)
    params = {"deal_id": deal_id, "now": now or utcnow()}
    if viewer_id is not None:
        params["viewer_id"] = viewer_id
    seen, rows = None, []
    for row in db.session.execute(statement, params):
        if row[0] == "deal":
            seen = SeenDeal(deal_id, row)
        rows.append(tuple("" if v is None else str(v) for v in row))
    return (seen, sorted(rows)) if seen is not None else (None, [])


def _digest(rows):
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:32]


def load(deal_id, viewer, now=None):
    """(``SeenDeal``, its stamp) read in one statement, with ``viewer``'s unread count for the header
    (``notify.unread_count_for``); (None, None) when there is no such deal. The caller checks that ``viewer``
    may see it (``deals.visible_to``) before anything else."""
    seen, rows = stamp_rows(deal_id, now, viewer.id)
    if seen is None:
        return None, None
    from marketplace.kernel.notify import remember_unread

    remember_unread(viewer, int(next(row for row in rows if row[0] == UNREAD)[2]))
    return seen, _digest([row for row in rows if row[0] != UNREAD])


def stamp(deal, now=None, viewer=None):
    """A digest of everything the deal's body shows, read now: the deal row and the rest (``stamp_rows``). With
    ``viewer`` the same statement reads their unread count, kept for the header."""
    if viewer is not None:
        return load(deal.id, viewer, now)[1]
    seen, rows = stamp_rows(deal.id, now)
    return None if seen is None else _digest(rows)


def _get(key):
    try:
        return cache.get(key)
    except Exception:  # noqa: BLE001 - a cache outage renders the page
        current_app.logger.warning("deal page cache read failed", exc_info=True)
        return None


def _set(key, html):
    try:
        cache.set(key, str(html), timeout=current_app.config.get("PAGE_CACHE_TIMEOUT", 300))
    except Exception:  # noqa: BLE001
        current_app.logger.warning("deal page cache write failed", exc_info=True)


def enabled():
    return bool(current_app.config.get("PAGE_CACHE"))


def body(deal, roles, deal_stamp, render):
    """The deal's body HTML for a viewer with ``roles`` (from the cache under ``deal_stamp``), with its marks."""
    if deal_stamp is None:
        return render()
    key = f"dealbody:{deal.id}:{'+'.join(sorted(roles))}:{select_locale()}:{deal_stamp}"
    found = _get(key)
    if found is not None:
        return Markup(found)
    html = render()
    if unchanged(deal, deal_stamp):
        _set(key, html)
    return html


def unchanged(deal, deal_stamp):
    """Whether the deal's stamp is still ``deal_stamp`` after a render: the render's own reads may have seen a
    commit made after the stamp was read (each statement sees the latest commit), and such a page is not kept
    under the older stamp (which a change undone later, such as a name changed back, would bring back)."""
    return stamp(deal) == deal_stamp


def viewer_key(deal, user, deal_stamp, per_request):
    """The key of ``user``'s whole deal page: the deal's stamp, what the header shows of the user (name, roles),
    the language, the path with its query string (the header's language link and search box show it), and
    ``per_request`` (the unread count, whether the transfer is overdue now: what else the page shows)."""
    from flask import request

    viewer = hashlib.sha256(repr((user.id, user.name, user.roles_csv, request.full_path, per_request))
                            .encode()).hexdigest()[:32]
    return f"dealview:{deal.id}:{user.id}:{select_locale()}:{deal_stamp}:{viewer}"


def cached_view(key):
    """The viewer's cached page (with the viewer's CSRF token in place), or None."""
    found = _get(key)
    return None if found is None else with_token(found)


def keep_view(key, html):
    _set(key, html)


def render_body(**context):
    """Render ``escrow/_deal_body.html`` with the marks in place of the actions panel and CSRF tokens.

    Straight through Jinja, without Flask's context processors: the body gets only what it is given (no
    ``current_user``, ``request``, ``session``, nor the header's unread count), so nothing of the viewer but
    their roles can enter it."""
    app = current_app
    template = app.jinja_env.get_template("escrow/_deal_body.html")
    return Markup(template.render(actions_panel=ACTIONS_MARK, csrf_token=lambda: CSRF_MARK,
                                  url_map_endpoints=app.view_functions, **context))


def halves(html):
    """The body before and after the actions panel (its CSRF marks left in: ``with_token`` fills the page)."""
    before, _mark, after = str(html).partition(ACTIONS_MARK)
    return Markup(before), Markup(after)


def with_token(html):
    """The page with the viewer's own CSRF token in place of every mark."""
    html = str(html)
    if CSRF_MARK in html:
        from flask_wtf.csrf import generate_csrf

        html = html.replace(CSRF_MARK, str(escape(generate_csrf())))
    return html
