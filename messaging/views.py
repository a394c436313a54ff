"""Message pages: the inbox, a thread, writing about a listing or a deal (thin: parse, call ``service``, render).
Forms carry CSRF tokens; a refusal is shown as a message on the page and changes nothing."""
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from marketplace.kernel.extensions import limiter
from marketplace.kernel.webutil import committed

from . import service

bp = Blueprint("messaging", __name__)


def _limit():
    return current_app.config.get("RATELIMIT_MESSAGE") or "20/minute;200/hour"


def _user_key():
    # the user's id (not the session): signing out and in again does not reset the count
    return f"user:{current_user.id}" if current_user.is_authenticated else request.remote_addr


def _to_thread(exc=None, *, thread_id):
    return redirect(url_for("messaging.thread", thread_id=thread_id) + "#compose")


def _render_thread(thread, *, listing=None, deal=None, draft=""):
    reveal = service.reveals_contacts(thread) if thread is not None else False
    side = service.side_of(thread, current_user) if thread is not None else (
        "buyer" if deal is None or deal.buyer_id == current_user.id else "seller")
    return render_template(
        "messaging/thread.html", thread=thread, listing=listing or (thread.listing if thread else None),
        deal=deal or (thread.deal if thread else None), side=side, reveal=reveal, draft=draft,
        max_message=service.MAX_MESSAGE, shown_body=service.shown_body, author_label=service.author_label,
        counterpart=service.counterpart_label(thread, current_user) if thread is not None else None,
        contacts=service.contacts(thread, current_user) if thread is not None and side else None,
        can_disclose=bool(thread is not None and side and not thread.disclosed_deal_id
                          and service.disputed_deal_for(thread)))


@bp.get("/messages")
@login_required
def inbox():
    rows = service.inbox(current_user)
    return render_template("messaging/inbox.html", rows=rows, counterpart=service.counterpart_label,
                           total_unread=sum(n for _t, n in rows))


@bp.get("/messages/<int:thread_id>")
@login_required
@committed()
def thread(thread_id):
    row = service.thread_for(thread_id, current_user)
    service.mark_read(row, current_user)
    return _render_thread(row)


@bp.post("/messages/<int:thread_id>")
@login_required
@limiter.shared_limit(_limit, scope="messages", key_func=_user_key)
@committed(_to_thread)
def reply(thread_id):
    service.reply(thread_id, current_user, request.form.get("message"))
    return _to_thread(thread_id=thread_id)


@bp.post("/messages/<int:thread_id>/disclose")
@login_required
@committed(lambda exc, thread_id: redirect(url_for("messaging.thread", thread_id=thread_id)))
def disclose(thread_id):
    service.disclose(thread_id, current_user)
    flash(_("已在争议中出示本对话，运营人员处理争议时可以查看。"), "success")
    return redirect(url_for("messaging.thread", thread_id=thread_id))


@bp.get("/listings/<int:listing_id>/messages")
@login_required
def listing_messages(listing_id):
    """The buyer's thread with the seller about the listing (a form to start it before the first message)."""
    listing, row = service.listing_thread(listing_id, current_user)  # NotFound: the 404 page
    if service.seller_side(current_user, listing):
        return redirect(url_for("messaging.inbox"))
    if row is not None:
        return redirect(url_for("messaging.thread", thread_id=row.id))
    return _render_thread(None, listing=listing)


@bp.post("/listings/<int:listing_id>/messages")
@login_required
@limiter.shared_limit(_limit, scope="messages", key_func=_user_key)
@committed(lambda exc, listing_id: redirect(url_for("listings.detail", listing_id=listing_id)))
def write_listing(listing_id):
    message = service.write_about_listing(listing_id, current_user, request.form.get("message"))
    flash(_("留言已发送，卖方会收到通知。"), "success")
    return _to_thread(thread_id=message.thread_id)


@bp.get("/deals/<int:deal_id>/messages")
@login_required
@committed()
def deal_messages(deal_id):
    deal, row = service.deal_thread(deal_id, current_user)  # an operator's reading is in the audit log
    if row is not None:
        return redirect(url_for("messaging.thread", thread_id=row.id))
    return _render_thread(None, deal=deal, listing=deal.listing)


@bp.post("/deals/<int:deal_id>/messages")
@login_required
@limiter.shared_limit(_limit, scope="messages", key_func=_user_key)
@committed(lambda exc, deal_id: redirect(url_for("messaging.deal_messages", deal_id=deal_id)))
def write_deal(deal_id):
    message = service.write_about_deal(deal_id, current_user, request.form.get("message"))
    return _to_thread(thread_id=message.thread_id)
