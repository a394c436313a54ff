"""CLI commands of docs/api.md: ``users create``, ``demo seed``, ``deadlines run`` (plus each package's own)."""
import click
from flask.cli import AppGroup

from .errors import DomainError
from .extensions import db

users_cli = AppGroup("users", help="Manage accounts.")
demo_cli = AppGroup("demo", help="Demo catalogue.")
deadlines_cli = AppGroup("deadlines", help="Deadlines (safe to run from cron, and twice).")
backup_cli = AppGroup("backup", help="Backups of the database and the uploads (docs/operations.md).")


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
    from .accounts import register_user

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
    from listings.demo import seed

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
    from escrow.deadlines import run_deadlines

    from .timeutil import parse_iso, utcnow

    now = parse_iso(now_text) if now_text else utcnow()
    report = run_deadlines(now)
    for key, value in report.items():
        click.echo(f"{key}: {value}")


@backup_cli.command("create")
@click.option("--to", "target", type=click.Path(file_okay=False), help="Folder for the backup (default BACKUP_PATH).")
def backup_create(target):
    """Take a consistent snapshot of the database and the uploads."""
    from .backup import BackupError, create_backup

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
    from .backup import BackupError, read_manifest, restore_backup

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
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(deadlines_cli)
    import escrow.cli
    import listings.cli
    import search.cli

    for module in (listings.cli, escrow.cli, search.cli):
        module.register(app)
