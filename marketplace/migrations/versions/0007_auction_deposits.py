"""Auction deposits (保证金): auctions.deposit_amount, auction_deposits, deals.deposit_credit, and
stripe_payment_intents.deposit_id (a PaymentIntent pays a deal or a deposit)

Revision ID: 0007_auction_deposits
Revises: 0006_contracts
Create Date: 2026-12-04

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007_auction_deposits'
down_revision = '0006_contracts'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('auctions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deposit_amount', sa.BigInteger(), nullable=True))

    op.create_table('auction_deposits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('auction_id', sa.Integer(), nullable=False),
    sa.Column('bidder_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('gateway', sa.String(length=20), nullable=False),
    sa.Column('payment_reference', sa.String(length=40), nullable=True),
    sa.Column('paid_at', sa.DateTime(), nullable=True),
    sa.Column('deal_id', sa.Integer(), nullable=True),
    sa.Column('settled_at', sa.DateTime(), nullable=True),
    sa.Column('return_reference', sa.String(length=100), nullable=True),
    sa.Column('refunded_with_deal', sa.BigInteger(), nullable=True),
    sa.Column('forfeit_fee', sa.BigInteger(), nullable=True),
    sa.Column('payout_amount', sa.BigInteger(), nullable=True),
    sa.Column('payout_status', sa.String(length=20), nullable=True),
    sa.Column('payout_reference', sa.String(length=100), nullable=True),
    sa.Column('flagged', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_auction_deposits_auction_deposit_amount_positive')),
    sa.ForeignKeyConstraint(['auction_id'], ['auctions.id'], name=op.f('fk_auction_deposits_auction_id_auctions')),
    sa.ForeignKeyConstraint(['bidder_id'], ['users.id'], name=op.f('fk_auction_deposits_bidder_id_users')),
    sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], name=op.f('fk_auction_deposits_deal_id_deals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auction_deposits')),
    sa.UniqueConstraint('auction_id', 'bidder_id', name='uq_auction_deposit_bidder'),
    sa.UniqueConstraint('payment_reference', name=op.f('uq_auction_deposits_payment_reference'))
    )
    with op.batch_alter_table('auction_deposits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auction_deposits_auction_id'), ['auction_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_auction_deposits_bidder_id'), ['bidder_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_auction_deposits_deal_id'), ['deal_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_auction_deposits_status'), ['status'], unique=False)

    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deposit_credit', sa.BigInteger(), nullable=True))

    with op.batch_alter_table('stripe_payment_intents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deposit_id', sa.Integer(), nullable=True))
        batch_op.alter_column('deal_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(batch_op.f('ix_stripe_payment_intents_deposit_id'), ['deposit_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_stripe_payment_intents_deposit_id_auction_deposits'),
                                    'auction_deposits', ['deposit_id'], ['id'])


def downgrade():
    op.execute("DELETE FROM stripe_payment_intents WHERE deal_id IS NULL")
    with op.batch_alter_table('stripe_payment_intents', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_stripe_payment_intents_deposit_id_auction_deposits'),
                                 type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_stripe_payment_intents_deposit_id'))
        batch_op.alter_column('deal_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('deposit_id')
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.drop_column('deposit_credit')
    with op.batch_alter_table('auction_deposits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auction_deposits_status'))
        batch_op.drop_index(batch_op.f('ix_auction_deposits_deal_id'))
        batch_op.drop_index(batch_op.f('ix_auction_deposits_bidder_id'))
        batch_op.drop_index(batch_op.f('ix_auction_deposits_auction_id'))
    op.drop_table('auction_deposits')
    with op.batch_alter_table('auctions', schema=None) as batch_op:
        batch_op.drop_column('deposit_amount')
