"""The one commit boundary of the HTML views (marketplace/kernel/webutil.py): it commits once on success, rolls back
on a DomainError and shows it the one way, and a NotFound naming no field is the 404 page.

Each test adds a small page to a fresh app (before its first request) that renames a user and then does what
the test asks; whether the rename reached the database is read on a connection of its own, which sees only
committed rows.
"""
from flask import flash, redirect, url_for
from sqlalchemy import select

from marketplace.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.models import User
from marketplace.kernel.webutil import act, act_then_redirect, committed
from tests import factories
from tests.conftest import login

OUTCOMES = {
    "fine": None,
    "conflict": Conflict("挂牌已下架，不能再操作"),
    "bad": ValidationError("输入有误", {"amount": "不是有效的金额"}),
    "gone": NotFound("挂牌不存在"),
    "gone_field": NotFound("挂牌不存在", {"listing_id": "不是您的挂牌"}),
    "denied": PermissionDenied("只有卖方可以操作"),
}


def _rename(user_id, outcome):
    db.session.get(User, user_id).name = "改过的名字"
    db.session.flush()
    if OUTCOMES[outcome] is not None:
        raise OUTCOMES[outcome]


def _add_pages(app, user_id):
    def back():
        return redirect(url_for("storefront.notifications"))

    def with_act(outcome):
        def work():
            _rename(user_id, outcome)
            flash("已改名", "success")  # said in the work: kept only when committed
            return back()

        return act(work, lambda exc: back(), error_page=(403, 404) if outcome == "denied" else (404,))

    @committed(lambda exc, outcome: back())
    def with_decorator(outcome):
        _rename(user_id, outcome)
        return back()

    def with_redirect(outcome):
        return act_then_redirect(lambda: _rename(user_id, outcome), "已改名",
                                 url_for("storefront.notifications"))

    app.add_url_rule("/t/act/<outcome>", "t_act", with_act, methods=["POST"])
    app.add_url_rule("/t/decorator/<outcome>", "t_decorator", with_decorator, methods=["POST"])
    app.add_url_rule("/t/redirect/<outcome>", "t_redirect", with_redirect, methods=["POST"])


def _stored_name(user_id):
    with db.engine.connect() as conn:  # its own connection: only what was committed
        return conn.execute(select(User.name).where(User.id == user_id)).scalar_one()


def _setup(app, client):
    user = factories.make_user("buyer", name="原来的名字")
    db.session.commit()
    _add_pages(app, user.id)
    login(client, user)
    return user.id


def test_success_commits_once_and_says_so(app, client):
    user_id = _setup(app, client)
    for route in ("act", "decorator", "redirect"):
        db.session.get(User, user_id).name = "原来的名字"
        db.session.commit()
        r = client.post(f"/t/{route}/fine", follow_redirects=True)
        assert r.status_code == 200
        assert _stored_name(user_id) == "改过的名字", route
        if route != "decorator":
            assert "已改名" in r.get_data(as_text=True)


def test_a_refusal_rolls_back_and_shows_the_reason(app, client):
    user_id = _setup(app, client)
    for route in ("act", "decorator", "redirect"):
        r = client.post(f"/t/{route}/conflict", follow_redirects=True)
        page = r.get_data(as_text=True)
        assert r.status_code == 200 and "挂牌已下架，不能再操作" in page, route
        assert "已改名" not in page  # the success said in the work before the refusal is not shown
        assert _stored_name(user_id) == "原来的名字"


def test_bad_input_shows_the_message_and_each_fields_reason(app, client):
    user_id = _setup(app, client)
    page = client.post("/t/redirect/bad", follow_redirects=True).get_data(as_text=True)
    assert "输入有误 不是有效的金额" in page
    assert _stored_name(user_id) == "原来的名字"


def test_not_found_is_the_404_page_and_nothing_is_kept(app, client):
    user_id = _setup(app, client)
    for route in ("act", "decorator", "redirect"):
        r = client.post(f"/t/{route}/gone")
        assert r.status_code == 404 and "挂牌不存在" in r.get_data(as_text=True), route
        assert _stored_name(user_id) == "原来的名字"


def test_not_found_naming_a_field_is_bad_input_on_the_page(app, client):
    user_id = _setup(app, client)
    r = client.post("/t/act/gone_field", follow_redirects=True)
    assert r.status_code == 200 and "挂牌不存在 不是您的挂牌" in r.get_data(as_text=True)
    assert _stored_name(user_id) == "原来的名字"


def test_a_view_may_send_more_statuses_to_the_error_page(app, client):
    user_id = _setup(app, client)
    r = client.post("/t/act/denied")
    assert r.status_code == 403 and "只有卖方可以操作" in r.get_data(as_text=True)
    assert _stored_name(user_id) == "原来的名字"
    r = client.post("/t/redirect/denied", follow_redirects=True)  # the default: shown above the page
    assert r.status_code == 200 and "只有卖方可以操作" in r.get_data(as_text=True)


def test_a_refusal_says_each_reason_once():
    """Issue 17: error messages never repeat themselves, on a flashed line or in a form."""
    from flask_wtf import FlaskForm
    from wtforms import StringField

    from marketplace.kernel.webutil import refusal_text, show_in_form

    same = ValidationError("金额无效", {"amount": "金额无效", "price": "金额无效"})
    assert refusal_text(same) == "金额无效"
    assert refusal_text(OUTCOMES["bad"]) == "输入有误 不是有效的金额"

    class Form(FlaskForm):
        amount = StringField()

    from flask import Flask

    with Flask(__name__).test_request_context():
        form = Form(meta={"csrf": False})
        show_in_form(form, ValidationError("金额无效", {"amount": "金额无效", "other": "请填写"}))
        assert form.amount.errors == ["金额无效"] and form.form_errors == ["请填写"]
        form = Form(meta={"csrf": False})
        show_in_form(form, OUTCOMES["bad"])
        assert form.amount.errors == ["不是有效的金额"] and form.form_errors == ["输入有误"]
