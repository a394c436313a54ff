"""users.deleted_at: account deletion (PIPL) anonymises a user and keeps deal and ledger records

Revision ID: 0008_jobs
Revises: 0007_auction_deposits
Create Date: 2026-12-05

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008_jobs'
down_revision = '0007_auction_deposits'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deleted_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('deleted_at')
