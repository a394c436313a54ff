"""The money path (issue 15): a 专用发票 request carries the buyer's address, phone, bank and account; a bank
deposit's return is an instruction in the one refund queue (refund_instructions.deposit_id, deal_id nullable)

Revision ID: 0008_money_path
Revises: 0008_licensing
Create Date: 2026-12-05

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008_money_path'
down_revision = '0008_licensing'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('invoice_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('phone', sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column('bank', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('bank_account', sa.String(length=30), nullable=True))

    with op.batch_alter_table('refund_instructions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deposit_id', sa.Integer(), nullable=True))
        batch_op.alter_column('deal_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_unique_constraint('uq_refund_instructions_deposit_id', ['deposit_id'])
        batch_op.create_foreign_key('fk_refund_instructions_deposit_id', 'auction_deposits', ['deposit_id'], ['id'])
        batch_op.create_check_constraint('refund_instruction_owner', '(deal_id IS NULL) <> (deposit_id IS NULL)')


def downgrade():
    with op.batch_alter_table('refund_instructions', schema=None) as batch_op:
        batch_op.drop_constraint('refund_instruction_owner', type_='check')
        batch_op.drop_constraint('fk_refund_instructions_deposit_id', type_='foreignkey')
        batch_op.drop_constraint('uq_refund_instructions_deposit_id', type_='unique')
        batch_op.alter_column('deal_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('deposit_id')

    with op.batch_alter_table('invoice_requests', schema=None) as batch_op:
        batch_op.drop_column('bank_account')
        batch_op.drop_column('bank')
        batch_op.drop_column('phone')
        batch_op.drop_column('address')
