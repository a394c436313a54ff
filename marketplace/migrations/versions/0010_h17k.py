"""Stored text as message keys and parameters, rendered in the reader's language (issue 17): notifications'
titles and bodies, deal events' notes, ledger entries' memos

Revision ID: 0010_h17k
Revises: 0009_h17b
Create Date: 2026-12-06 04:30:00

Rows written before have no message: their text column is shown as stored (marketplace.kernel.messages.render), so no
data is converted.
"""
import sqlalchemy as sa
from alembic import op

revision = "0010_h17k"
down_revision = "0009_h17b"
branch_labels = None
depends_on = None

COLUMNS = (("notifications", "title_msg"), ("notifications", "body_msg"), ("deal_events", "note_msg"),
           ("ledger_entries", "memo_msg"))


def upgrade():
    for table, column in COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column(column, sa.JSON(), nullable=True))


def downgrade():
    for table, column in reversed(COLUMNS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column(column)
