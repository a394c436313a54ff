"""CLI of `search`: ``flask --app wsgi search reindex`` (with a progress bar) and ``search sync``."""
import click
from flask.cli import AppGroup

search_cli = AppGroup("search", help="Full-text search index.")


@search_cli.command("reindex")
def reindex_command():
    """Rebuild the index from the database."""
    from .outbox import published_count, reindex

    total = published_count()
    with click.progressbar(length=total, label="索引挂牌 indexing listings", show_pos=True) as bar:
        count = reindex(progress=bar.update, timeout=300.0)
    click.echo(f"indexed {count} published listings")


@search_cli.command("sync")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for the index writer lock.")
def sync_command(timeout):
    """Apply pending outbox rows to the index (catch up), and prune old rows."""
    from .index import IndexBusy
    from .outbox import drain, pending_count, prune

    try:
        report = drain(timeout=timeout)
    except IndexBusy as exc:
        raise click.ClickException(f"index is busy (writer lock held): {exc}") from exc
    pruned = prune()
    click.echo(f"applied {report.applied} outbox rows: {report.indexed} indexed, {report.removed} removed, "
               f"{report.notified} saved-search notifications; position {report.position}; "
               f"pending {pending_count()}; pruned {pruned}")


def register(app):
    from . import setup

    setup(app)
    app.cli.add_command(search_cli)
