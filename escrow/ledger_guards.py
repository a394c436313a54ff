"""The database, not Python alone, guards the ledger's invariants.

1. Every journal entry's postings sum to zero per currency, checked at COMMIT
   (postings of one entry are inserted one row at a time, so the check must wait
   for the end of the transaction):
   - PostgreSQL: a DEFERRABLE INITIALLY DEFERRED constraint trigger re-sums the
     entry's postings at commit and raises if any currency is out of balance.
   - SQLite has no deferred triggers, but it does check deferred foreign keys at
     COMMIT. A trigger keeps a row in ``ledger_unbalanced`` for every (entry,
     currency) whose postings do not sum to zero yet; that row's deferred foreign
     key points into the always-empty ``ledger_balance_guard``, so while one such
     row exists SQLite refuses to commit ("FOREIGN KEY constraint failed").
2. Postings and journal entries are append-only: UPDATE and DELETE are refused
   (corrections are reversing entries).

The statements are attached to the ``ledger_postings`` table's ``after_create`` so
``db.create_all()`` installs them; a migration calls ``install(connection)``.
"""
from sqlalchemy import event

POSTGRESQL = [
    """
    CREATE OR REPLACE FUNCTION ledger_entry_must_balance() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM ledger_postings WHERE entry_id = NEW.entry_id
                 GROUP BY currency HAVING SUM(amount) <> 0) THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation',
          MESSAGE = 'journal entry ' || NEW.entry_id || ' does not balance to zero per currency';
      END IF;
      RETURN NULL;
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION USING ERRCODE = 'check_violation',
        MESSAGE = TG_TABLE_NAME || ' is append-only: post a reversing entry instead';
    END $$
    """,
    "DROP TRIGGER IF EXISTS ledger_postings_balanced ON ledger_postings",
    """
    CREATE CONSTRAINT TRIGGER ledger_postings_balanced AFTER INSERT ON ledger_postings
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_must_balance()
    """,
    "DROP TRIGGER IF EXISTS ledger_postings_append_only ON ledger_postings",
    """
    CREATE TRIGGER ledger_postings_append_only BEFORE UPDATE OR DELETE ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()
    """,
    "DROP TRIGGER IF EXISTS ledger_entries_append_only ON ledger_entries",
    """
    CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()
    """,
]

SQLITE = [
    "DROP TRIGGER IF EXISTS ledger_postings_track_balance",
    """
    CREATE TRIGGER ledger_postings_track_balance AFTER INSERT ON ledger_postings
    BEGIN
      INSERT OR IGNORE INTO ledger_unbalanced (entry_id, currency, amount, guard)
        VALUES (NEW.entry_id, NEW.currency, 0, 1);
      UPDATE ledger_unbalanced SET amount = amount + NEW.amount
        WHERE entry_id = NEW.entry_id AND currency = NEW.currency;
      DELETE FROM ledger_unbalanced
        WHERE entry_id = NEW.entry_id AND currency = NEW.currency AND amount = 0;
    END
    """,
]
for _table in ("ledger_postings", "ledger_entries"):
    for _op in ("UPDATE", "DELETE"):
        _name = f"{_table}_no_{_op.lower()}"
        SQLITE.append(f"DROP TRIGGER IF EXISTS {_name}")
        SQLITE.append(f"CREATE TRIGGER {_name} BEFORE {_op} ON {_table} "
                      f"BEGIN SELECT RAISE(ABORT, '{_table} is append-only: post a reversing entry instead'); END")

STATEMENTS = {"postgresql": POSTGRESQL, "sqlite": SQLITE}


def install(connection):
    """Create (or re-create) the ledger's triggers on ``connection``'s database."""
    for statement in STATEMENTS.get(connection.dialect.name, ()):
        connection.exec_driver_sql(statement)


def _after_create(target, connection, **kw):
    install(connection)


def _register():
    from .models import Posting

    event.listen(Posting.__table__, "after_create", _after_create)


_register()
