"""CLI commands of docs/api.md: ``users create``, ``demo seed``, ``deadlines run`` (plus each package's own)."""
import json

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

import escrow.cli
import listings.cli
import search.cli
from escrow.deadlines import run_deadlines
from listings.demo import seed

from ..kernel import jobs
from ..kernel.accounts import register_user
from ..kernel.errors import DomainError
from ..kernel.extensions import db
from ..kernel.models import User
from ..kernel.timeutil import parse_iso, utcnow
from .backup import BackupError, create_backup, read_manifest, restore_backup
from .privacy import delete_account, deletion_blockers, export_user_data, purge_expired

users_cli = AppGroup("users", help="Manage accounts.")
demo_cli = AppGroup("demo", help="Demo catalogue.")
deadlines_cli = AppGroup("deadlines", help="Deadlines (safe to run from cron, and twice).")
backup_cli = AppGroup("backup", help="Backups of the database and the uploads (docs/operations.md).")
jobs_cli = AppGroup("jobs", help="Background jobs on Redis (RQ): failures, queues (docs/operations.md).")
privacy_cli = AppGroup("privacy", help="Personal data (PIPL): export, account deletion, retention.")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run the jobs waiting now, then stop.")
@click.option("--cron/--no-cron", default=True, show_default=True,
              help="Also schedule the periodic work (index catch-up, deadlines, retention, report).")
@with_appcontext
def worker_command(burst, cron):
    """Run background jobs (RQ) for this host and the shared queue, with the scheduler. Needs REDIS_URL."""
    app = current_app._get_current_object()
    if not jobs.enabled(app):
        raise click.ClickException("REDIS_URL is not set: without it jobs run in-process after commit "
                                   "(and the timers of docs/operations.md do the periodic work)")
    click.echo(f"worker on {jobs.host_queue_name(app)}, {jobs.shared_queue_name(app)}"
               f"{' with the cron scheduler' if cron else ''}")
    jobs.work(app, burst=burst, with_cron=cron)


def _require_jobs():
    if not jobs.enabled(current_app):
        raise click.ClickException("REDIS_URL is not set: there are no queues")
    return jobs


@jobs_cli.command("failed")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
def jobs_failed(limit):
    """List jobs whose retries are used up (the failed job registry)."""
    jobs = _require_jobs()
    found = jobs.failed_jobs(limit=limit)
    for job_obj in found:
        ended = job_obj.ended_at.isoformat(timespec="seconds") if job_obj.ended_at else "-"
        click.echo(f"{job_obj.id}  {job_obj.origin}  {jobs.job_label(job_obj)}  ended {ended}  "
                   f"request {job_obj.meta.get('request_id') or '-'}  {jobs.last_error(job_obj)}")
    click.echo(f"{len(found)} failed job(s)")


@jobs_cli.command("retry")
@click.argument("job_ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Put every failed job back on its queue.")
def jobs_retry(job_ids, everything):
    """Put failed jobs back on their queue (after fixing the cause)."""
    jobs = _require_jobs()
    if not job_ids and not everything:
        raise click.UsageError("name job ids or give --all")
    click.echo(f"requeued {jobs.requeue_failed(job_ids=None if everything else set(job_ids))} job(s)")


@jobs_cli.command("status")
def jobs_status():
    """Queue depths, scheduled (retrying) and failed jobs, and each job's last success."""
    jobs = _require_jobs()
    for family in jobs.metric_families():
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sample.labels.items())
            click.echo(f"{sample.name}{{{labels}}} {sample.value:g}")


@jobs_cli.command("enqueue")
@click.argument("name", type=click.Choice(["index_drain", "deadlines", "retention", "stats_report"]))
def jobs_enqueue(name):
    """Put one run of a periodic job on its queue now."""
    jobs = _require_jobs()
    click.echo(jobs.enqueue(name, host=jobs.PERIODIC[name][2]).id)


def _find_user(ref):
    user = db.session.get(User, int(ref)) if str(ref).isdigit() else (
        db.session.query(User).filter(db.func.lower(User.email) == str(ref).strip().lower()).first())
    if user is None:
        raise click.ClickException(f"no user {ref!r}")
    return user


@privacy_cli.command("export")
@click.argument("user")
@click.option("--to", "target", type=click.Path(dir_okay=False, writable=True), help="File (default: stdout).")
def privacy_export(user, target):
    """Write USER's (id or e-mail) own data as JSON (what the account page's download gives)."""
    body = json.dumps(export_user_data(_find_user(user)), ensure_ascii=False, indent=1)
    if target:
        with open(target, "w", encoding="utf-8") as fh:
            fh.write(body)
        click.echo(f"written to {target}")
    else:
        click.echo(body)


@privacy_cli.command("delete")
@click.argument("user")
@click.option("--yes", is_flag=True, help="Do not ask.")
def privacy_delete(user, yes):
    """Delete USER's account (anonymise; deal and ledger records kept). Refused while anything is open."""
    target = _find_user(user)
    reasons = deletion_blockers(target)
    if reasons:
        raise click.ClickException("refused: " + "; ".join(reasons))
    if not yes:
        click.confirm(f"Anonymise user {target.id} <{target.email}>? This cannot be undone.", abort=True)
    try:
        delete_account(target, actor=None)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(f"refused: {'; '.join(exc.fields.values()) or exc.message}") from exc
    click.echo(f"user {target.id} deleted (anonymised)")


@privacy_cli.command("purge")
def privacy_purge():
    """Delete what is past its retention now (the worker's retention job does this hourly)."""
    for key, value in purge_expired().items():
        click.echo(f"{key}: {value}")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--name", required=True)
@click.option("--role", "roles", required=True, multiple=True,
              type=click.Choice(["operator", "seller", "buyer"]), help="May be given more than once.")
@click.option("--org-name")
@click.option("--uscc")
@click.option("--region", default="guangzhou")
def create_user(email, password, name, roles, org_name, uscc, region):
    """Create a user; operators are created only this way."""
    org = {"name": org_name, "uscc": uscc, "region": region} if (org_name or uscc) else None
    try:
        user = register_user(email, password, name, list(roles), org, allow_operator=True)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        details = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
        raise click.ClickException(f"{exc.message} ({details})" if details else exc.message) from exc
    click.echo(f"created user {user.id} <{user.email}> roles={','.join(user.roles)}")


@demo_cli.command("seed")
def demo_seed():
    """Load the demo catalogue (idempotent; about 1,100 listings, with a progress bar)."""
    with click.progressbar(length=1, label="demo catalogue") as bar:
        def progress(done, total):
            bar.length = total
            bar.update(done - bar.pos)

        created = seed(progress=progress)
    click.echo(f"demo catalogue ready ({created} listings added)")


@deadlines_cli.command("run")
@click.option("--now", "now_text", help="ISO 8601 instant to act as 'now' (default: the clock).")
def deadlines_run(now_text):
    """Close due auctions, cancel unpaid deals, release lapsed inspections, expire listings whose term ended."""
    now = parse_iso(now_text) if now_text else utcnow()
    report = run_deadlines(now)
    for key, value in report.items():
        click.echo(f"{key}: {value}")


@backup_cli.command("create")
@click.option("--to", "target", type=click.Path(file_okay=False), help="Folder for the backup (default BACKUP_PATH).")
def backup_create(target):
    """Take a consistent snapshot of the database and the uploads."""
    try:
        folder = create_backup(target)
    except BackupError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"backup written to {folder}")


@backup_cli.command("restore")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask: replace the database and uploads now.")
def backup_restore(folder, yes):
    """Replace the database and the uploads with a backup's, then rebuild the search index."""
    try:
        manifest = read_manifest(folder)
    except BackupError as exc:
        raise click.ClickException(exc.message) from exc
    counts = ", ".join(f"{k} {v}" for k, v in manifest["counts"].items())
    click.echo(f"backup of {manifest['created_at']} ({manifest['database']}): {counts}")
    if not yes:
        click.confirm("This replaces the current database and uploads. Stop the web and worker processes first. "
                      "Go on?", abort=True)
    try:
        restore_backup(folder)
    except BackupError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo("restored; search index rebuilt")


def register_cli(app):
    app.cli.add_command(backup_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(privacy_cli)
    app.cli.add_command(worker_command)
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(deadlines_cli)
    for module in (listings.cli, escrow.cli, search.cli):
        module.register(app)
