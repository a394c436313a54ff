"""CLI commands of API.md: ``users create``, ``demo seed``, ``deadlines run`` (plus each package's own)."""
import click
from flask.cli import AppGroup

from .errors import DomainError
from .extensions import db

users_cli = AppGroup("users", help="Manage accounts.")
demo_cli = AppGroup("demo", help="Demo catalogue.")
deadlines_cli = AppGroup("deadlines", help="Deadlines (safe to run from cron, and twice).")


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


def register_cli(app):
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(deadlines_cli)
    import escrow.cli
    import listings.cli
    import search.cli

    for module in (listings.cli, escrow.cli, search.cli):
        module.register(app)
