"""The money path (issue 15): a 专用发票 request carries the buyer's address, phone, bank and account

Revision ID: 0008_money_path
Revises: 0007_auction_deposits
Create Date: 2026-12-05

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008_money_path'
down_revision = '0007_auction_deposits'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('invoice_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('phone', sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column('bank', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('bank_account', sa.String(length=30), nullable=True))


def downgrade():
    with op.batch_alter_table('invoice_requests', schema=None) as batch_op:
        batch_op.drop_column('bank_account')
        batch_op.drop_column('bank')
        batch_op.drop_column('phone')
        batch_op.drop_column('address')
