"""CLI commands of `listings`: ``flask --app wsgi listings import FILE --seller EMAIL`` and ``listings expire``."""
import click
from flask.cli import AppGroup
from sqlalchemy import func

from marketplace.kernel.errors import DomainError
from marketplace.kernel.extensions import db
from marketplace.kernel.models import User

listings_cli = AppGroup("listings", help="Listings: bulk import, expiry.")


@listings_cli.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--seller", "email", required=True, help="E-mail of the seller account the drafts belong to.")
@click.option("--chunk", default=200, show_default=True, type=click.IntRange(1, 5000),
              help="Rows per commit (the search index is brought up to date after each).")
def import_command(file, email, chunk):
    """Import a CSV of rights (docs/import.md): valid rows become drafts, invalid rows are reported."""
    from search.outbox import pending_count

    from .importer import decode, import_committing, read_csv

    seller = db.session.query(User).filter(func.lower(User.email) == email.strip().lower()).first()
    if seller is None:
        raise click.ClickException(f"no user with e-mail {email}")
    try:
        rows = read_csv(decode(file.read()))
        # One commit per chunk: the search index follows each commit (never a rebuild after the import).
        with click.progressbar(length=len(rows), label="importing", show_pos=True, show_eta=True) as bar:
            report = import_committing(rows, seller, chunk=chunk, progress=bar.update)
    except DomainError as exc:
        db.session.rollback()
        details = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
        raise click.ClickException(f"{exc.message} ({details})" if details else exc.message) from exc
    click.echo(f"rows: {report['rows']}  drafts created: {report['created']}  rows with errors: {report['failed_rows']}")
    waiting = pending_count()
    if waiting:
        click.echo(f"search index: {waiting} outbox rows not applied yet (the index was busy): run "
                   "`flask --app wsgi search sync`", err=True)
    for error in report["errors"]:
        click.echo(f"row {error['row']}, column {error['column']}: {error['reason']}", err=True)


@listings_cli.command("expire")
def expire_command():
    """Mark listings whose rights' term has ended as expired (safe to run from cron, and twice)."""
    from .service import expire_due_listings

    ids = expire_due_listings()
    db.session.commit()
    click.echo(f"expired: {len(ids)}")


def register(app):
    app.cli.add_command(listings_cli)
