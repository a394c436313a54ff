"""The deal page's cache (issue 19, docs/performance.md "Third pass: the signed-in deal page").

The deal page is private, so the anonymous page cache (``marketplace.kernel.pagecache``) never keeps it; and it is
the costliest page to render (a template of some 200 lines: timeline, history, ledger, paperwork, facts).
Its body is the same for every viewer who holds the same roles on the deal (buyer, seller or operator),
in the same language, until something it shows changes. So the body is kept in the Flask-Caching cache
under a key made of:

- the deal's id, the viewer's roles (``deals.roles_of``: the permission check has run before, a stranger
  got a 404 and never reaches the cache) and the language;
- the deal's **stamp**: a digest of the deal row as loaded for this request (every column, its ``version``
  and ``updated_at`` included) and of ONE statement (``stamp_rows``) that reads, for this deal, everything
  else the body shows: the newest id and count of its events, documents, ledger entries and postings,
  contract signatures; its recordal submissions and refund instruction (status columns); the names of the
  users it shows (buyer, seller, every event's actor); the listing's title and kind; the organisation; the
  payout accounts the facts show, with whether a hold on one is still running now.

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
whether the transfer is overdue now), with its CSRF marks left in: a repeat view reads the user, the deal,
the stamp and the unread count, renders nothing and puts the token in.

``STAMPED_TABLES`` lists the tables the stamp covers; tests/escrow/test_deal_page_cache.py checks that
rendering the body reads no other table, so a new read added to the template without a stamp fails there.
"""
import hashlib

from flask import current_app
from markupsafe import Markup, escape
from sqlalchemy import String, and_, bindparam, case, cast, func, literal, null, or_, select, true, union_all

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


def _s(column):
    return cast(column, String)


_statements = {}


def _stamp_statement(with_unread):
    """The stamp's statement, built once (its values are bound parameters): the deal row itself (as the ORM
    entity, refreshed) joined to one ``UNION ALL`` of everything else the body shows. What those parts need of
    the deal (its parties, listing, organisation, payout account) is read from the deal row by scalar
    subqueries in the same statement, so one round trip reads the deal and its stamp. With ``with_unread`` it
    also reads the viewer's unread count for the header (not part of the stamp)."""
    from escrow.models import Deal, DealEvent, Document, JournalEntry, Posting
    from escrow.paper_models import ContractSignature, RecordalDetails
    from escrow.payout_models import PayoutAccount, RefundInstruction
    from listings.models import Listing
    from marketplace.kernel.models import Organization, User

    d = bindparam("deal_id")

    def of_deal(column):  # this deal's value of ``column``, read in the same statement
        return select(column).where(Deal.id == d).scalar_subquery()

    def newest(tag, model):  # append-only rows of the deal: the newest id and how many
        return select(literal(tag), _s(func.max(model.id)), _s(func.count(model.id)), null(), null(), null()) \
            .where(model.deal_id == d)

    actors = select(DealEvent.actor_id).where(DealEvent.deal_id == d, DealEvent.actor_id.isnot(None))
    organization_id = of_deal(Deal.organization_id)
    now = bindparam("now", type_=PayoutAccount.hold_until.type)
    held = case((and_(PayoutAccount.hold_until.isnot(None), PayoutAccount.hold_until > now), "held"), else_="")

    def accounts(where):  # the payout accounts the facts show (one branch per way in, each on an index)
        return select(literal("account"), _s(PayoutAccount.id), PayoutAccount.status, _s(PayoutAccount.hold_until),
                      held, PayoutAccount.bank + " " + PayoutAccount.account_number + " "
                      + PayoutAccount.account_name + " " + func.coalesce(_s(PayoutAccount.replaced_at), "")) \
            .where(where)

    current = PayoutAccount.replaced_at.is_(None)
    parts = [
        newest("events", DealEvent), newest("documents", Document), newest("entries", JournalEntry),
        newest("postings", Posting), newest("signatures", ContractSignature),
        select(literal("recordal"), _s(RecordalDetails.id), RecordalDetails.status, _s(RecordalDetails.decided_at),
               RecordalDetails.reject_reason, null()).where(RecordalDetails.deal_id == d),
        select(literal("refund"), _s(RefundInstruction.id), RefundInstruction.status, RefundInstruction.bank_reference,
               _s(RefundInstruction.amount), _s(RefundInstruction.account_entered_at))
        .where(RefundInstruction.deal_id == d),
        select(literal("user"), _s(User.id), User.name, User.email, null(), null())
        .where(or_(User.id == of_deal(Deal.buyer_id), User.id == of_deal(Deal.seller_id), User.id.in_(actors))),
        select(literal("listing"), _s(Listing.id), Listing.title, Listing.kind, null(), null())
        .where(Listing.id == of_deal(Deal.listing_id)),
        # the payee's current account: the organisation's, or the natural-person seller's; and the one paid into
        accounts(and_(PayoutAccount.organization_id == organization_id, current)),
        accounts(and_(organization_id.is_(None), PayoutAccount.user_id == of_deal(Deal.seller_id), current)),
        accounts(PayoutAccount.id == of_deal(Deal.payout_account_id)),
        select(literal("organization"), _s(Organization.id), Organization.name, Organization.stripe_account_id,
               null(), null()).where(Organization.id == organization_id),
    ]
    if with_unread:
        from marketplace.kernel.models import Notification

        parts.append(select(literal(UNREAD), _s(func.count(Notification.id)), null(), null(), null(), null())
                     .where(Notification.user_id == bindparam("viewer_id"), Notification.read_at.is_(None)))
    stamped = union_all(*parts).subquery("stamped")
    return select(Deal, *stamped.c).outerjoin(stamped, true()).where(Deal.id == d) \
        .execution_options(populate_existing=True)


UNREAD = "~unread"


def stamp_rows(deal_id, now=None, viewer_id=None):
    """(the deal, refreshed from its row; the rows as strings of everything else the body shows) in one
    statement, or (None, []) when there is no such deal. For ``viewer_id`` the rows include ``(UNREAD, count)``:
    that user's unread notifications."""
    from marketplace.kernel.extensions import db

    shape = viewer_id is not None
    statement = _statements.get(shape)
    if statement is None:
        statement = _statements[shape] = _stamp_statement(shape)
    params = {"deal_id": deal_id, "now": now or utcnow()}
    if viewer_id is not None:
        params["viewer_id"] = viewer_id
    found = db.session.execute(statement, params).all()
    if not found:
        return None, []
    return found[0][0], sorted(tuple("" if v is None else str(v) for v in row[1:]) for row in found)


def _digest(deal, rows):
    columns = tuple((c.key, getattr(deal, c.key)) for c in deal.__mapper__.column_attrs)
    return hashlib.sha256(repr((columns, rows)).encode()).hexdigest()[:32]


def load(deal_id, viewer, now=None):
    """(the deal, its stamp) read in one statement, with ``viewer``'s unread count for the header
    (``notify.unread_count_for``); (None, None) when there is no such deal. The caller checks that ``viewer``
    may see it (``deals.visible_to``) before anything else."""
    deal, rows = stamp_rows(deal_id, now, viewer.id)
    if deal is None:
        return None, None
    from marketplace.kernel.notify import remember_unread

    remember_unread(viewer, int(next(row for row in rows if row[0] == UNREAD)[1]))
    return deal, _digest(deal, [row for row in rows if row[0] != UNREAD])


def stamp(deal, now=None, viewer=None):
    """A digest of everything the deal's body shows: the deal row (read again, into ``deal``) and the rest
    (``stamp_rows``). With ``viewer`` the same statement reads their unread count, kept for the header."""
    if viewer is not None:
        return load(deal.id, viewer, now)[1]
    found, rows = stamp_rows(deal.id, now)
    return None if found is None else _digest(found, rows)


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
