"""CLI of `search`: ``flask --app wsgi search reindex`` (with a progress bar) and ``search sync``."""
import signal
import time

import click
from flask.cli import AppGroup

from marketplace.kernel.extensions import db

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


@search_cli.command("follow")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between catch-ups.")
@click.option("--prune/--no-prune", default=True, show_default=True, help="Also prune old outbox rows (hourly).")
def follow_command(interval, prune):
    """Keep this host's index caught up with the outbox, every INTERVAL seconds, until stopped.

    One per host (each host has its own index folder): with several web hosts, a listing changed through
    one host reaches the others' indexes within about INTERVAL seconds. The after-commit drain of a request
    still applies its own host's changes at once.
    """
    from .index import IndexBusy
    from .outbox import drain
    from .outbox import prune as prune_outbox

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    click.echo(f"following the outbox every {interval}s")
    last_prune = 0.0
    while not stopping:
        try:
            report = drain(timeout=interval)
            if report.applied:
                click.echo(f"applied {report.applied} outbox rows; position {report.position}")
            if prune and time.monotonic() - last_prune > 3600:
                prune_outbox()
                last_prune = time.monotonic()
        except IndexBusy:
            pass  # a request's own drain holds the writer: the next round catches up
        except Exception as exc:  # noqa: BLE001 - keep following; the error is logged and retried
            import logging

            logging.getLogger(__name__).exception("outbox catch-up failed: %s", exc)
        finally:
            db.session.remove()
        for _ in range(max(1, int(interval * 10))):
            if stopping:
                break
            time.sleep(0.1)


def register(app):
    from . import setup

    setup(app)
    app.cli.add_command(search_cli)
