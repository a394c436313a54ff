"""Payout accounts, refund instructions, the fee rate fixed on each deal (issue 15)

- payout_accounts: the bank account a seller (organisation or natural person) is paid into, verified
  by an operator or by a small-amount check;
- refund_instructions: offline refunds waiting for the bank (the buyer's account, the bank reference);
- deals.fee_bps: the fee rate fixed when the deal opened; existing deals get the current
  PLATFORM_FEE_BPS (the rate their fee was computed with); deals.payout_account_id.

Revision ID: 0005_payout_accounts
Revises: 0004_natural_sellers
Create Date: 2026-12-04

"""
import os

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0005_payout_accounts'
down_revision = '0004_natural_sellers'
branch_labels = None
depends_on = None


def _current_fee_bps():
    """The rate in force now: the app's setting when run by ``flask db upgrade``, else the environment."""
    try:
        from flask import current_app

        return int(current_app.config["PLATFORM_FEE_BPS"])
    except (RuntimeError, KeyError):
        raw = os.environ.get("PLATFORM_FEE_BPS")
        return int(raw) if raw else 300


def upgrade():
    op.create_table(
        'payout_accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('bank', sa.String(length=60), nullable=False),
        sa.Column('branch', sa.String(length=100), nullable=False),
        sa.Column('account_number', sa.String(length=32), nullable=False),
        sa.Column('account_name', sa.String(length=200), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('method', sa.String(length=20), nullable=True),
        sa.Column('micro_amount', sa.Integer(), nullable=True),
        sa.Column('micro_sent_at', sa.DateTime(), nullable=True),
        sa.Column('micro_attempts', sa.Integer(), nullable=False),
        sa.Column('note', sa.String(length=300), nullable=True),
        sa.Column('submitted_by_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('verified_at', sa.DateTime(), nullable=True),
        sa.Column('verified_by_id', sa.Integer(), nullable=True),
        sa.Column('hold_until', sa.DateTime(), nullable=True),
        sa.Column('replaced_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint('(organization_id IS NULL AND user_id IS NOT NULL) '
                           'OR (organization_id IS NOT NULL AND user_id IS NULL)', name='payout_account_one_payee'),
        sa.CheckConstraint('micro_attempts >= 0', name='payout_account_attempts'),
        sa.ForeignKeyConstraint(['organization_id'], ['organizations.id']),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id']),
        sa.ForeignKeyConstraint(['verified_by_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('payout_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payout_accounts_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payout_accounts_user_id'), ['user_id'], unique=False)

    op.create_table(
        'refund_instructions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('deal_id', sa.Integer(), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('reason', sa.String(length=300), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('bank', sa.String(length=60), nullable=True),
        sa.Column('branch', sa.String(length=100), nullable=True),
        sa.Column('account_number', sa.String(length=32), nullable=True),
        sa.Column('account_name', sa.String(length=200), nullable=True),
        sa.Column('account_entered_at', sa.DateTime(), nullable=True),
        sa.Column('bank_reference', sa.String(length=100), nullable=True),
        sa.Column('paid_at', sa.DateTime(), nullable=True),
        sa.Column('paid_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('amount > 0', name='refund_instruction_amount'),
        sa.ForeignKeyConstraint(['deal_id'], ['deals.id']),
        sa.ForeignKeyConstraint(['paid_by_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('bank_reference'),
        sa.UniqueConstraint('deal_id'),
    )

    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fee_bps', sa.Integer(), nullable=False,
                                      server_default=str(_current_fee_bps())))
        batch_op.add_column(sa.Column('payout_account_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_deals_payout_account_id', 'payout_accounts', ['payout_account_id'], ['id'])
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.alter_column('fee_bps', existing_type=sa.Integer(), server_default=None)


def downgrade():
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.drop_constraint('fk_deals_payout_account_id', type_='foreignkey')
        batch_op.drop_column('payout_account_id')
        batch_op.drop_column('fee_bps')
    op.drop_table('refund_instructions')
    with op.batch_alter_table('payout_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payout_accounts_user_id'))
        batch_op.drop_index(batch_op.f('ix_payout_accounts_organization_id'))
    op.drop_table('payout_accounts')
