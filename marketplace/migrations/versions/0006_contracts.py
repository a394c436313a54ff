"""Deal paperwork (issue 15): contracts and their signatures, checked recordal details, invoice requests

Revision ID: 0006_contracts
Revises: 0005_payout_accounts
Create Date: 2026-12-04

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0006_contracts'
down_revision = '0005_payout_accounts'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'deal_contracts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('deal_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('template_version', sa.String(length=20), nullable=False),
        sa.Column('html', sa.Text(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('tech_registration_number', sa.String(length=40), nullable=True),
        sa.Column('tech_registered_at', sa.DateTime(), nullable=True),
        sa.Column('tech_registered_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['deal_id'], ['deals.id']),
        sa.ForeignKeyConstraint(['tech_registered_by_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('deal_id'),
    )
    op.create_table(
        'contract_signatures',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('contract_id', sa.Integer(), nullable=False),
        sa.Column('deal_id', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=10), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('signer_name', sa.String(length=100), nullable=False),
        sa.Column('party_name', sa.String(length=200), nullable=False),
        sa.Column('party_id_text', sa.String(length=60), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('ip_address', sa.String(length=45), nullable=False),
        sa.Column('signed_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint("role IN ('buyer', 'seller')", name='contract_signature_role'),
        sa.ForeignKeyConstraint(['contract_id'], ['deal_contracts.id']),
        sa.ForeignKeyConstraint(['deal_id'], ['deals.id']),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('deal_id', 'role', name='uq_contract_signature_role'),
    )
    with op.batch_alter_table('contract_signatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contract_signatures_contract_id'), ['contract_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contract_signatures_deal_id'), ['deal_id'], unique=False)
    op.create_table(
        'deal_recordals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('deal_id', sa.Integer(), nullable=False),
        sa.Column('document_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('notice_number', sa.String(length=20), nullable=True),
        sa.Column('notice_date', sa.Date(), nullable=True),
        sa.Column('gazette_issue', sa.String(length=20), nullable=True),
        sa.Column('gazette_page', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('submitted_by_id', sa.Integer(), nullable=False),
        sa.Column('submitted_at', sa.DateTime(), nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.Column('reject_reason', sa.String(length=1000), nullable=True),
        sa.CheckConstraint("status IN ('submitted', 'verified', 'rejected')", name='recordal_status'),
        sa.ForeignKeyConstraint(['deal_id'], ['deals.id']),
        sa.ForeignKeyConstraint(['document_id'], ['deal_documents.id']),
        sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id']),
        sa.ForeignKeyConstraint(['decided_by_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('deal_recordals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deal_recordals_deal_id'), ['deal_id'], unique=False)
    op.create_table(
        'invoice_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('deal_id', sa.Integer(), nullable=False),
        sa.Column('issuer', sa.String(length=10), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('title', sa.String(length=100), nullable=False),
        sa.Column('taxpayer_id', sa.String(length=18), nullable=True),
        sa.Column('invoice_type', sa.String(length=10), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('invoice_number', sa.String(length=20), nullable=True),
        sa.Column('requested_by_id', sa.Integer(), nullable=False),
        sa.Column('requested_at', sa.DateTime(), nullable=False),
        sa.Column('issued_by_id', sa.Integer(), nullable=True),
        sa.Column('issued_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint("issuer IN ('seller', 'platform')", name='invoice_issuer'),
        sa.CheckConstraint("invoice_type IN ('normal', 'special')", name='invoice_type'),
        sa.CheckConstraint("status IN ('requested', 'issued')", name='invoice_status'),
        sa.CheckConstraint('amount > 0', name='invoice_amount'),
        sa.ForeignKeyConstraint(['deal_id'], ['deals.id']),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id']),
        sa.ForeignKeyConstraint(['issued_by_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('deal_id', 'issuer', name='uq_invoice_request_issuer'),
    )
    with op.batch_alter_table('invoice_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_requests_deal_id'), ['deal_id'], unique=False)


def downgrade():
    op.drop_table('invoice_requests')
    op.drop_table('deal_recordals')
    op.drop_table('contract_signatures')
    op.drop_table('deal_contracts')
