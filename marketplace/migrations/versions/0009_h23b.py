"""Innovation vouchers pay a deal's platform fee (issue 23): a service charge may be a deal's fee
(finance_service_charges.deal_id, paid_from_escrow) and a redemption on it is held until the deal's release
(finance_voucher_redemptions.status: booked, held, returned)

Revision ID: 0009_h23b
Revises: 0008_money_path
Create Date: 2026-12-06

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009_h23b'
down_revision = '0008_money_path'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('finance_service_charges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deal_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('paid_from_escrow', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.create_unique_constraint('uq_finance_service_charges_deal_id', ['deal_id'])
        batch_op.create_foreign_key('fk_finance_service_charges_deal_id_deals', 'deals', ['deal_id'], ['id'])

    with op.batch_alter_table('finance_voucher_redemptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=10), nullable=False, server_default='booked'))
        batch_op.create_index('ix_finance_voucher_redemptions_status', ['status'], unique=False)


def downgrade():
    with op.batch_alter_table('finance_voucher_redemptions', schema=None) as batch_op:
        batch_op.drop_index('ix_finance_voucher_redemptions_status')
        batch_op.drop_column('status')

    with op.batch_alter_table('finance_service_charges', schema=None) as batch_op:
        batch_op.drop_constraint('fk_finance_service_charges_deal_id_deals', type_='foreignkey')
        batch_op.drop_constraint('uq_finance_service_charges_deal_id', type_='unique')
        batch_op.drop_column('paid_from_escrow')
        batch_op.drop_column('deal_id')
