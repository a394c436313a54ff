"""Background jobs (issue 21) in both modes: without REDIS_URL the work runs in-process after commit as before;
with it, RQ jobs on the machine's Redis, run here by a burst worker (tests/jobhelp.py)."""
import logging

import pytest

from marketplace.kernel import jobs
from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow
from search.outbox import pending_count
from tests import factories
from tests.jobhelp import config_for, forget_keys, job_modes, redis_config, run_jobs
from tests.search.conftest import make_search_listing


@pytest.fixture(params=job_modes())
def mode(request):
    return request.param


@pytest.fixture
def app_config(mode):
    return {**config_for(mode), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": 2525}


@pytest.fixture(autouse=True)
def _clean_redis(app):
    yield
    forget_keys(app)
    jobs.set_app(None)


def _found(client, q):
    body = client.get("/api/v1/search", query_string={"q": q}).get_json()
    return [r["id"] for r in body["results"]]


def test_a_withdrawn_listing_leaves_the_index_through_a_job_that_carries_the_request_id(app, client, mode, caplog):
    seller = factories.make_user("seller")
    listing = make_search_listing(seller, title="一种钠离子电池负极材料")
    db.session.commit()
    run_jobs(app)
    assert _found(client, "钠离子") == [listing.id]
    headers = {**factories.auth_header(seller), "X-Request-ID": "req-withdraw-42"}
    db.session.commit()
    caplog.set_level(logging.INFO, logger="ipmart.jobs")
    caplog.clear()
    response = client.post(f"/api/v1/listings/{listing.id}/withdraw", headers=headers)
    assert response.status_code == 200
    if mode == "redis":
        waiting = jobs.queue(True, app).jobs
        assert [j.args[0] for j in waiting] == ["index_drain"]
        assert waiting[0].meta["request_id"] == "req-withdraw-42"
        assert pending_count() > 0  # the web process left the index to the worker
        assert run_jobs(app) == 1
        done = [r for r in caplog.records if r.name == "ipmart.jobs" and r.getMessage() == "job index_drain done"]
        assert done and {r.request_id for r in done} == {"req-withdraw-42"}
    assert _found(client, "钠离子") == [] and pending_count() == 0


def test_many_commits_queue_one_drain(app, client, mode):
    if mode != "redis":
        pytest.skip("worker mode only")
    seller = factories.make_user("seller")
    db.session.commit()
    run_jobs(app)
    for n in range(3):
        make_search_listing(seller, title=f"一种固态电池电解质 {n}")
        db.session.commit()
    assert jobs.queue(True, app).count == 1
    run_jobs(app)
    assert len(_found(client, "固态电池")) == 3


def test_deal_mail_is_sent_after_commit_in_both_modes(app, mode, outbox):
    from escrow import deals

    buyer, seller = factories.make_user("buyer"), factories.make_user("seller")
    listing = factories.make_listing(seller)
    db.session.commit()
    deals.open_deal(listing, buyer, listing.price, "assignment", "purchase")
    assert outbox.addressed() == []
    db.session.commit()
    if mode == "redis":
        assert outbox.addressed() == []  # queued, not sent by the web process
        assert {j.args[0] for j in jobs.queue(False, app).jobs} == {"mail"}
        run_jobs(app)
    assert {to for to, _ in outbox.addressed()} == {buyer.email, seller.email}


def test_mail_to_a_user_deleted_meanwhile_is_a_logged_no_op(app, mode, outbox, caplog):
    if mode != "redis":
        pytest.skip("worker mode only: in-process mail is sent at the commit")
    from marketplace.kernel.notify import notify

    user = factories.make_user("buyer")
    db.session.commit()
    notify(user, "deal", "交易状态更新", "正文")
    db.session.commit()
    user.deleted_at = utcnow()  # the account was deleted before the worker got to the mail
    db.session.commit()
    caplog.set_level(logging.INFO, logger="ipmart.jobs")
    run_jobs(app)
    assert outbox.addressed() == []
    assert jobs.queue(False, app).failed_job_registry.count == 0  # not a failure: nothing to retry
    assert any("no-op" in r.getMessage() for r in caplog.records if r.name == "ipmart.jobs")
    assert 'ipmart_jobs_total{job="mail",outcome="noop"} 1.0' in _metrics(app)


def _metrics(app):
    return app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_data(as_text=True)


def test_a_failing_mail_is_retried_then_kept_as_failed_and_can_be_requeued(app, mode, outbox):
    if mode != "redis":
        pytest.skip("worker mode only")
    from marketplace.kernel.notify import notify

    user = factories.make_user("buyer")
    db.session.commit()
    notify(user, "deal", "交易状态更新", "正文")
    outbox.down = True
    db.session.commit()
    run_jobs(app)  # the first try and both retries (intervals 0 in tests) fail
    registry = jobs.queue(False, app).failed_job_registry
    assert registry.count == 1
    failed = jobs.failed_jobs(app)
    assert failed[0].retries_left == 0 and "SMTPServerDisconnected" in jobs.last_error(failed[0])
    metrics = _metrics(app)
    assert f'ipmart_jobs_failed{{queue="{app.config["JOB_QUEUE_PREFIX"]}"}} 1.0' in metrics
    assert 'ipmart_jobs_total{job="mail",outcome="error"} 3.0' in metrics
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["jobs", "failed"])
    assert listed.exit_code == 0 and "mail" in listed.output and "1 failed job(s)" in listed.output
    outbox.down = False
    assert "requeued 1" in runner.invoke(args=["jobs", "retry", "--all"]).output
    run_jobs(app)
    assert outbox.addressed() == [(user.email, "交易状态更新")] and registry.count == 0


def test_periodic_work_is_scheduled_by_the_worker_and_runs_once_per_period(app, mode):
    if mode != "redis":
        pytest.skip("worker mode only")
    scheduler = jobs.cron_scheduler(app)
    assert {c.name.rsplit(":", 1)[1]: c.queue_name for c in scheduler.get_jobs()} == {
        "index_drain": jobs.host_queue_name(app), "deadlines": jobs.shared_queue_name(app),
        "retention": jobs.shared_queue_name(app), "stats_report": jobs.shared_queue_name(app)}
    scheduler.enqueue_jobs()  # every job is due at the first tick
    scheduler.enqueue_jobs()  # not again before its interval
    assert jobs.queue(False, app).count == 3 and jobs.queue(True, app).count == 1
    run_jobs(app)
    metrics = _metrics(app)
    for name in ("index_drain", "deadlines", "retention", "stats_report"):
        assert f'ipmart_jobs_total{{job="{name}",outcome="ok"}} 1.0' in metrics
        assert f'ipmart_job_last_success_timestamp_seconds{{job="{name}"}}' in metrics
    assert 'ipmart_deadline_runs_total{outcome="ok"}' in metrics
    # A second scheduler (another host's worker) ticking in the same period does not run the shared work again.
    assert jobs.periodic("deadlines") == "skipped"


def test_the_stats_report_job_writes_a_csv(app, mode):
    import os

    path = jobs.execute("stats_report")
    assert os.path.exists(path) and open(path, encoding="utf-8-sig").readline().startswith("dimension,key")


def test_worker_and_jobs_commands_need_redis(app, mode):
    runner = app.test_cli_runner()
    if mode == "redis":
        assert runner.invoke(args=["jobs", "status"]).exit_code == 0
        return
    for args in (["worker", "--burst"], ["jobs", "failed"]):
        result = runner.invoke(args=args)
        assert result.exit_code != 0 and "REDIS_URL is not set" in result.output


def test_redis_down_never_fails_the_request(app, client, mode):
    if mode != "redis":
        pytest.skip("worker mode only")
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    app.extensions.pop("ipmart_redis", None)
    seller = factories.make_user("seller")
    listing = make_search_listing(seller, title="一种锌空气电池")
    db.session.commit()
    response = client.post(f"/api/v1/listings/{listing.id}/withdraw", headers=factories.auth_header(seller))
    assert response.status_code == 200 and response.get_json()["listing"]["status"] == "withdrawn"
    db.session.expire_all()
    assert db.session.get(type(listing), listing.id).status == "withdrawn"  # committed although the queue is down
    app.config.update(redis_config())
    app.extensions.pop("ipmart_redis", None)



def test_the_operator_console_shows_failed_jobs(app, mode, outbox):
    from marketplace.kernel.notify import notify

    operator = factories.make_user("operator")
    user = factories.make_user("buyer")
    db.session.commit()
    client = app.test_client()
    client.post("/login", data={"email": operator.email, "password": factories.PASSWORD})
    page = client.get("/operator/").get_data(as_text=True)
    if mode == "inline":
        assert "后台任务" not in page  # no queues without REDIS_URL
        return
    assert "后台任务" in page and "失败 0" in page
    notify(user, "deal", "交易状态更新", "正文")
    outbox.down = True
    db.session.commit()
    run_jobs(app)
    page = client.get("/operator/").get_data(as_text=True)
    assert "失败 1" in page and "SMTPServerDisconnected" in page


def test_job_sync_runs_each_job_through_rq_as_it_is_enqueued(app, client, mode, caplog):
    """The worker-mode run of the whole suite (JOB_TEST_MODE=redis) sets JOB_SYNC: nothing waits on a queue, the job
    ran through RQ (its record is in Redis, finished), under the request's id."""
    if mode != "redis":
        pytest.skip("worker mode only")
    app.config["JOB_SYNC"] = True
    seller = factories.make_user("seller")
    listing = make_search_listing(seller, title="一种钠离子电池负极材料")
    db.session.commit()
    assert _found(client, "钠离子") == [listing.id]
    caplog.set_level(logging.INFO, logger="ipmart.jobs")
    headers = {**factories.auth_header(seller), "X-Request-ID": "req-sync-7"}
    db.session.commit()
    caplog.clear()
    assert client.post(f"/api/v1/listings/{listing.id}/withdraw", headers=headers).status_code == 200
    assert _found(client, "钠离子") == [] and pending_count() == 0
    host_queue = jobs.queue(True, app)
    assert host_queue.count == 0 and host_queue.failed_job_registry.count == 0
    finished = host_queue.finished_job_registry.get_job_ids()
    assert len(finished) == 2  # the listing's publication, then its withdrawal
    assert {host_queue.fetch_job(i).args[0] for i in finished} == {"index_drain"}
    done = [r for r in caplog.records if r.name == "ipmart.jobs" and r.getMessage() == "job index_drain done"]
    assert done and {r.request_id for r in done} == {"req-sync-7"}


def test_job_sync_is_refused_outside_the_test_suite(app, mode):
    if mode != "redis":
        pytest.skip("worker mode only")
    app.config.update(JOB_SYNC=True, TESTING=False)
    try:
        with pytest.raises(RuntimeError, match="test suite only"):
            jobs.queue(True, app)
    finally:
        app.config.update(JOB_SYNC=False, TESTING=True)
