"""HTML buy / offer / bid panels and the buying and offers dashboards (thin: parse, call ``escrow.trading``).

The panel (``templates/trading/_panel.html``) is included by the listing page; it
gets its state from ``trade_panel(listing)``, a template global registered here.
Its forms post to the handlers below, which redirect back to the listing. A refused
amount comes back beside its field (kept in the session for the next render of the
panel); other refusals come back as a flash message.
"""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from listings import bidding
from listings.service import DEAL_TYPE_LABELS
from marketplace.kernel.extensions import limiter
from marketplace.kernel.money import display_yuan, parse_yuan, yuan_input
from marketplace.kernel.timeutil import local, utcnow
from marketplace.kernel.viewutil import safe_next
from marketplace.kernel.webutil import act, show_error

from . import deposits, trading

bp = Blueprint("trading", __name__)
SESSION_KEY = "trade_form"


# --- forms ------------------------------------------------------------------------------------

class BuyForm(FlaskForm):
    deal_type = RadioField(_l("选择交易方式"), validators=[DataRequired(_l("请选择交易方式"))], choices=[])


class BidForm(FlaskForm):
    amount = StringField(_l("出价（元）"), validators=[DataRequired(_l("必填"))])


class OfferForm(FlaskForm):
    amount = StringField(_l("报价（元）"), validators=[DataRequired(_l("必填"))])
    deal_type = RadioField(_l("选择交易方式"), validators=[DataRequired(_l("请选择交易方式"))], choices=[])
    message = TextAreaField(_l("留言（选填）"), validators=[Optional(), Length(max=bidding.MAX_MESSAGE)])


class CounterForm(FlaskForm):
    amount = StringField(_l("还价（元）"), validators=[DataRequired(_l("必填"))])
    message = TextAreaField(_l("留言（选填）"), validators=[Optional(), Length(max=bidding.MAX_MESSAGE)])


class ActionForm(FlaskForm):
    """Accept / decline: only the CSRF token."""


def _deal_type_choices(listing):
    """The deal types a buyer may choose; with the price of each when they differ (转让 · ¥26万)."""
    from marketplace.kernel.money import display_yuan

    prices = dict(listing.prices_by_deal_type)
    return [(d, _(DEAL_TYPE_LABELS.get(d, d)) + (f" · {display_yuan(prices[d], listing.currency)}" if prices.get(d) else ""))
            for d in (listing.deal_types or [])]


def _yuan_to_fen(form):
    """The form's amount in fen, or None with the error put beside the field."""
    try:
        return parse_yuan(form.amount.data)
    except ValueError as exc:
        form.amount.errors = [*form.amount.errors, _(str(exc))]
        return None


def _yuan_text(fen):
    return yuan_input(fen)


# --- where to go back to ----------------------------------------------------------------------

def _listing_page(listing_id):
    if "listings.detail" in current_app.view_functions:
        return url_for("listings.detail", listing_id=listing_id) + "#trade"
    return bidding.listing_path(listing_id)


def _deal_page(deal_id):
    if "escrow.deal_detail" in current_app.view_functions:
        return url_for("escrow.deal_detail", deal_id=deal_id)
    return trading.deal_path(deal_id)


def _back(default):
    return safe_next(request.form.get("next")) or default


def _remember_form(listing_id, form_name, form, exc=None):
    """Keep a refused form's values and errors for the next render of the panel."""
    errors = {name: list(field.errors) for name, field in form._fields.items() if field.errors}
    if exc is not None:
        for name, message in exc.fields.items():
            errors.setdefault(name, []).append(str(message))
        if not exc.fields:
            errors.setdefault("_form", []).append(exc.message)
    data = {name: field.data for name, field in form._fields.items() if name != "csrf_token"}
    minimum = exc.extra.get("minimum_amount") if exc is not None else None
    if minimum:
        data["amount"] = _yuan_text(minimum)
    session[SESSION_KEY] = {"listing_id": listing_id, "form": form_name, "errors": errors, "data": data}


def _refused(back, listing_id=None, form_name=None, form=None):
    """The answer to a refusal (``webutil.act``): back to ``back``; amounts go beside the form's field (kept for
    the next render of the panel), the message is flashed unless the form shows it."""

    def answer(exc):
        beside = form is not None and (exc.fields or exc.extra.get("minimum_amount"))
        if beside:
            _remember_form(listing_id, form_name, form, exc)
        if exc.fields or not beside:
            show_error(exc, "message" if beside else "all")
        return redirect(back)

    return answer


def _user_key():
    # the user's id, not get_id() (which changes at each sign-out): a new session must not reset the limit
    return f"user:{current_user.id}" if current_user.is_authenticated else request.remote_addr


def _bid_limit():
    return current_app.config["RATELIMIT_BID"]


def _offer_limit():
    return current_app.config["RATELIMIT_OFFER"]


def _buy_limit():
    return current_app.config["RATELIMIT_BUY"]


# --- panel state ------------------------------------------------------------------------------

@bp.app_template_global("trade_panel")
def trade_panel(listing):
    """Everything the buy / offer / bid panel shows for ``listing`` to the current viewer."""
    user = current_user if current_user.is_authenticated else None
    now = utcnow()
    state = {"listing": listing, "mode": listing.price_mode, "can_act": False, "reason": None,
             "seller_side": user is not None and bidding.is_seller_side(listing, user),
             "forms": {}, "open_offer": None, "open_offers_count": 0, "auction": None}
    if listing.status != "published":
        state["reason"] = "closed"
    elif user is None:
        state["reason"] = "login"
    elif bidding.is_own_organisation(listing, user):
        state["reason"] = "own"
    elif not user.has_role("buyer"):
        state["reason"] = "not_buyer"
    else:
        state["can_act"] = True
    auction = listing.auction if listing.price_mode == "auction" else None
    if auction is not None:
        state["auction"] = {
            "current_price": auction.current_price, "minimum_next_bid": bidding.minimum_next_bid(auction),
            "ends_at": auction.ends_at, "seconds_left": bidding.time_left(auction, now),
            "has_reserve": auction.reserve_price is not None, "reserve_met": auction.reserve_met,
            "bid_count": auction.bid_count or 0, "closed": auction.closed_at is not None or now >= auction.ends_at,
            "outcome": auction.outcome, "deal_type": (listing.deal_types or [None])[0],
            "leading": user is not None and auction.leader_id == user.id,
            # 您已被超越: the viewer bid and someone else now leads
            "outbid": user is not None and auction.leader_id != user.id and bidding.has_bid(auction, user),
            "recent_bids": bidding.recent_bids(auction),
            # the deposit (保证金) rule, and the viewer's deposit: without a held one the bid form is not shown
            "deposit_rule": deposits.rule_summary(auction),
            "my_deposit": deposits.deposit_of(auction, user) if auction.deposit_amount else None,
            "deposit_labels": deposits.STATUS_LABELS,
        }
        if state["auction"]["closed"]:
            state["can_act"] = False
            state["reason"] = state["reason"] or "ended"
    if state["seller_side"] and listing.price_mode == "negotiable":
        state["open_offers_count"] = len(bidding.open_offers_on(listing))
    if user is not None and listing.price_mode == "negotiable" and not state["seller_side"]:
        state["open_offer"] = bidding.open_thread_offer(listing, user)
    pending = session.get(SESSION_KEY)
    if pending and pending.get("listing_id") == listing.id:
        session.pop(SESSION_KEY)
    else:
        pending = None
    if state["can_act"]:
        state["forms"] = _panel_forms(listing, pending)
    state["form_errors"] = (pending or {}).get("errors", {}).get("_form", [])
    return state


def _panel_forms(listing, pending):
    def build(cls, name):
        data = pending["data"] if pending and pending["form"] == name else None
        form = cls(formdata=None, data=data)
        if hasattr(form, "deal_type"):
            form.deal_type.choices = _deal_type_choices(listing)
            if not form.deal_type.data and form.deal_type.choices:
                form.deal_type.data = form.deal_type.choices[0][0]
        if data is not None:
            for field_name, messages in pending["errors"].items():
                if field_name in form._fields:
                    form._fields[field_name].errors = list(messages)
        return form

    if listing.price_mode == "fixed":
        return {"buy": build(BuyForm, "buy")}
    if listing.price_mode == "negotiable":
        return {"offer": build(OfferForm, "offer")}
    auction = listing.auction
    if auction is not None and auction.deposit_amount:
        mine = deposits.deposit_of(auction, current_user)
        if mine is None or mine.status != "held":
            return {"deposit": ActionForm(formdata=None)}
    form = build(BidForm, "bid")
    if not form.amount.data and listing.auction is not None:
        form.amount.data = _yuan_text(bidding.minimum_next_bid(listing.auction))
    return {"bid": form}


@bp.get("/listings/<int:listing_id>/auction-live")
def auction_live(listing_id):
    """The auction panel's live state for the signed-in viewer (static/js/trading.js polls it; JSON).

    Public facts as on the listing page (price, bid count, minimum next bid, close, the last five bids with
    masked bidders) and, for the viewer, whether they lead or were outbid. The page works without it."""
    user = current_user if current_user.is_authenticated else None
    listing = bidding.visible_listing(listing_id, user)
    if listing.price_mode != "auction" or listing.auction is None:
        abort(404)
    auction, now = listing.auction, utcnow()
    minimum = bidding.minimum_next_bid(auction)
    leading = user is not None and auction.leader_id == user.id
    response = {
        "current_price": auction.current_price, "current_price_text": display_yuan(auction.current_price or
                                                                                  auction.start_price, listing.currency),
        "price_label": _("当前价") if auction.current_price else _("起拍价"),
        "bid_count": auction.bid_count or 0, "minimum_next_bid": minimum,
        "minimum_next_bid_text": display_yuan(minimum, listing.currency), "minimum_next_bid_input": _yuan_text(minimum),
        "ends_at": auction.ends_at.replace(microsecond=0).isoformat() + "Z",
        "closed": auction.closed_at is not None or now >= auction.ends_at, "reserve_met": auction.reserve_met,
        "leading": leading, "outbid": user is not None and not leading and bidding.has_bid(auction, user),
        "bids": [{"bidder": b.bidder.masked_name, "amount_text": display_yuan(b.amount, listing.currency),
                  "at": local(b.created_at).strftime("%m-%d %H:%M:%S")} for b in bidding.recent_bids(auction)],
    }
    return response, 200, {"Cache-Control": "no-store"}


# --- acts on a listing ------------------------------------------------------------------------

@bp.post("/listings/<int:listing_id>/buy")
@login_required
@limiter.limit(_buy_limit, key_func=_user_key)
def buy(listing_id):
    listing = bidding.visible_listing(listing_id, current_user)
    form = BuyForm()
    form.deal_type.choices = _deal_type_choices(listing)
    if not form.validate():
        _remember_form(listing_id, "buy", form)
        return redirect(_listing_page(listing_id))

    def work():
        deal = trading.buy_now(listing_id, current_user, form.deal_type.data)
        flash(_("下单成功：交易 #%(id)s 已创建，请在付款期限内付款。", id=deal.id), "success")
        return redirect(_deal_page(deal.id))

    return act(work, _refused(_listing_page(listing_id), listing_id, "buy", form), show=None)


@bp.post("/listings/<int:listing_id>/bid")
@login_required
@limiter.limit(_bid_limit, key_func=_user_key)
def bid(listing_id):
    bidding.visible_listing(listing_id, current_user)
    form = BidForm()
    amount = _yuan_to_fen(form) if form.validate() else None
    if amount is None:
        _remember_form(listing_id, "bid", form)
        return redirect(_listing_page(listing_id))

    def work():
        placed = trading.place_bid(listing_id, current_user, amount)
        flash(_("出价成功：%(amount)s，您目前领先。", amount=display_yuan(placed.amount)), "success")
        return redirect(_listing_page(listing_id))

    return act(work, _refused(_listing_page(listing_id), listing_id, "bid", form), show=None)


@bp.post("/listings/<int:listing_id>/offer")
@login_required
@limiter.limit(_offer_limit, key_func=_user_key)
def offer(listing_id):
    listing = bidding.visible_listing(listing_id, current_user)
    form = OfferForm()
    form.deal_type.choices = _deal_type_choices(listing)
    amount = _yuan_to_fen(form) if form.validate() else None
    if amount is None:
        _remember_form(listing_id, "offer", form)
        return redirect(_listing_page(listing_id))

    def work():
        made = trading.make_offer(listing_id, current_user, amount, form.deal_type.data, form.message.data)
        flash(_("报价已提交：%(amount)s，有效期至 %(until)s。", amount=display_yuan(made.amount),
                until=_local_text(made.expires_at)), "success")
        return redirect(_listing_page(listing_id))

    return act(work, _refused(_listing_page(listing_id), listing_id, "offer", form), show=None)


def _local_text(value):
    return local(value).strftime("%Y-%m-%d %H:%M")


# --- acts on an offer -------------------------------------------------------------------------

def _offer_back(offer_id):
    user_offer = bidding.get_offer(offer_id, current_user)
    default = url_for("trading.seller_offers") if bidding.is_seller_side(user_offer.listing, current_user) \
        else url_for("trading.buyer_dashboard")
    return user_offer, _back(default)


@bp.post("/offers/<int:offer_id>/accept")
@login_required
def accept(offer_id):
    _offer, back = _offer_back(offer_id)

    def work():
        deal = trading.accept_offer(offer_id, current_user)
        flash(_("已接受报价，交易 #%(id)s 已创建。", id=deal.id), "success")
        return redirect(_deal_page(deal.id))

    return act(work, _refused(back), show=None)


@bp.post("/offers/<int:offer_id>/decline")
@login_required
def decline(offer_id):
    _offer, back = _offer_back(offer_id)

    def work():
        trading.decline_offer(offer_id, current_user)
        flash(_("已拒绝该报价。"), "info")
        return redirect(back)

    return act(work, _refused(back), show=None)


@bp.post("/offers/<int:offer_id>/counter")
@login_required
@limiter.limit(_offer_limit, key_func=_user_key)
def counter(offer_id):
    answered, back = _offer_back(offer_id)
    form = CounterForm()
    amount = _yuan_to_fen(form) if form.validate() else None
    if amount is None:
        flash(_("还价金额无效：%(why)s", why="；".join(str(e) for e in form.amount.errors or form.message.errors)),
              "error")
        return redirect(back)

    def work():
        made = trading.counter_offer(offer_id, current_user, amount, form.message.data)
        flash(_("已还价 %(amount)s，等待对方答复。", amount=display_yuan(made.amount)), "success")
        return redirect(back)

    return act(work, _refused(back), show=None)


# --- dashboards -------------------------------------------------------------------------------

@bp.get("/dashboard/buying")
@login_required
def buyer_dashboard():
    """A buyer's offers, bids and won auctions, with links to their deals."""
    now = utcnow()
    return render_template("trading/buying.html", threads=bidding.offer_threads_of_buyer(current_user),
                           bids=bidding.bidding_summary(current_user, now), won=trading.won_auctions(current_user),
                           now=now)


@bp.get("/dashboard/offers")
@login_required
def seller_offers():
    """Offers received on the listings of the seller's organisation."""
    if not current_user.has_role("seller"):
        abort(403)
    show = request.args.get("show", "open")
    offers = bidding.offers_received(current_user, open_only=(show != "all"))
    return render_template("trading/offers_received.html", offers=offers, show=show, now=utcnow())
