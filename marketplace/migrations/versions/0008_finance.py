"""The finance desk (issue 23): valuations, loan applications with offers and messages, voucher batches, vouchers, service charges, voucher redemptions

Revision ID: 0008_finance
Revises: 0008_demand
Create Date: 2026-12-05 21:33:03.173646

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008_finance'
down_revision = '0008_demand'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('finance_voucher_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issuer_organization_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('programme', sa.String(length=200), nullable=False),
    sa.Column('face_value', sa.BigInteger(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('services', sa.JSON(), nullable=False),
    sa.Column('regions', sa.JSON(), nullable=False),
    sa.Column('organization_ids', sa.JSON(), nullable=False),
    sa.Column('single_use', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('face_value > 0', name=op.f('ck_finance_voucher_batches_voucher_face_positive')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_finance_voucher_batches_created_by_id_users')),
    sa.ForeignKeyConstraint(['issuer_organization_id'], ['organizations.id'], name=op.f('fk_finance_voucher_batches_issuer_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finance_voucher_batches'))
    )
    with op.batch_alter_table('finance_voucher_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finance_voucher_batches_issuer_organization_id'), ['issuer_organization_id'], unique=False)

    op.create_table('finance_valuations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('valuation_date', sa.Date(), nullable=False),
    sa.Column('revenues', sa.JSON(), nullable=False),
    sa.Column('royalty_rate', sa.String(length=12), nullable=False),
    sa.Column('discount_rate', sa.String(length=12), nullable=False),
    sa.Column('life_years', sa.Integer(), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.Column('sensitivity', sa.JSON(), nullable=False),
    sa.Column('comparables', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('signed_by_id', sa.Integer(), nullable=True),
    sa.Column('signer_role', sa.String(length=20), nullable=True),
    sa.Column('signed_at', sa.DateTime(), nullable=True),
    sa.Column('sign_note', sa.Text(), nullable=True),
    sa.Column('listing_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('value >= 0', name=op.f('ck_finance_valuations_valuation_value_nonnegative')),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.id'], name=op.f('fk_finance_valuations_listing_id_listings')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_finance_valuations_organization_id_organizations')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_finance_valuations_owner_id_users')),
    sa.ForeignKeyConstraint(['signed_by_id'], ['users.id'], name=op.f('fk_finance_valuations_signed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finance_valuations'))
    )
    with op.batch_alter_table('finance_valuations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finance_valuations_listing_id'), ['listing_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_finance_valuations_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_finance_valuations_owner_id'), ['owner_id'], unique=False)

    op.create_table('finance_vouchers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('used', sa.BigInteger(), nullable=False),
    sa.Column('closed', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('used >= 0', name=op.f('ck_finance_vouchers_voucher_used_nonnegative')),
    sa.ForeignKeyConstraint(['batch_id'], ['finance_voucher_batches.id'], name=op.f('fk_finance_vouchers_batch_id_finance_voucher_batches')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_finance_vouchers_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finance_vouchers')),
    sa.UniqueConstraint('batch_id', 'organization_id', name='uq_finance_voucher_holder')
    )
    with op.batch_alter_table('finance_vouchers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finance_vouchers_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_finance_vouchers_organization_id'), ['organization_id'], unique=False)

    op.create_table('finance_loan_applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('applicant_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('term_months', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('valuation_id', sa.Integer(), nullable=True),
    sa.Column('statements', sa.String(length=100), nullable=True),
    sa.Column('listed', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('accepted_offer_id', sa.Integer(), nullable=True),
    sa.Column('pledge_number', sa.String(length=60), nullable=True),
    sa.Column('pledge_date', sa.Date(), nullable=True),
    sa.Column('pledge_verified_at', sa.DateTime(), nullable=True),
    sa.Column('release_number', sa.String(length=60), nullable=True),
    sa.Column('release_date', sa.Date(), nullable=True),
    sa.Column('repaid_at', sa.DateTime(), nullable=True),
    sa.Column('released_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_finance_loan_applications_loan_amount_positive')),
    sa.ForeignKeyConstraint(['applicant_id'], ['users.id'], name=op.f('fk_finance_loan_applications_applicant_id_users')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_finance_loan_applications_organization_id_organizations')),
    sa.ForeignKeyConstraint(['valuation_id'], ['finance_valuations.id'], name=op.f('fk_finance_loan_applications_valuation_id_finance_valuations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finance_loan_applications'))
    )
    with op.batch_alter_table('finance_loan_applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finance_loan_applications_applicant_id'), ['applicant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_finance_loan_applications_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_finance_loan_applications_status'), ['status'], unique=False)

    op.create_table('finance_service_charges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('service', sa.String(length=30), nullable=False),
    sa.Column('valuation_id', sa.Integer(), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('paid_by_voucher', sa.BigInteger(), nullable=False),
    sa.Column('paid_by_transfer', sa.BigInteger(), nullable=False),
    sa.Column('transfer_reference', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('paid_at', sa.DateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_finance_service_charges_charge_amount_positive')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_finance_service_charges_organization_id_organizations')),
    sa.ForeignKeyConstraint(['valuation_id'], ['finance_valuations.id'], name=op.f('fk_finance_service_charges_valuation_id_finance_valuations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finance_service_charges')),
    sa.UniqueConstraint('transfer_reference', name=op.f('uq_finance_service_charges_transfer_reference'))
    )
    with op.batch_alter_table('finance_service_charges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finance_service_charges_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_finance_service_charges_valuation_id'), ['valuation_id'], unique=False)

    op.create_table('finance_valuation_rights',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('valuation_id', sa.Integer(), nullable=False),
    sa.Column('right_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['right_id'], ['rights.id'], name=op.f('fk_finance_valuation_rights_right_id_rights')),
    sa.ForeignKeyConstraint(['valuation_id'], ['finance_valuations.id'], name=op.f('fk_finance_valuation_rights_valuation_id_finance_valuations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finance_valuation_rights')),
    sa.UniqueConstraint('valuation_id', 'right_id', name='uq_finance_valuation_right')
    )
    with op.batch_alter_table('finance_valuation_rights', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finance_valuation_rights_right_id'), ['right_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_finance_valuation_rights_valuation_id'), ['valuation_id'], unique=False)

    op.create_table('finance_loan_banks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['finance_loan_applications.id'], name=op.f('fk_finance_loan_banks_application_id_finance_loan_applications')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_finance_loan_banks_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finance_loan_banks')),
    sa.UniqueConstraint('application_id', 'organization_id', name='uq_finance_loan_bank')
    )
    with op.batch_alter_table('finance_loan_banks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finance_loan_banks_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_finance_loan_banks_organization_id'), ['organization_id'], unique=False)

    op.create_table('finance_loan_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('bank_organization_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('from_bank', sa.Boolean(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['finance_loan_applications.id'], name=op.f('fk_finance_loan_messages_application_id_finance_loan_applications')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_finance_loan_messages_author_id_users')),
    sa.ForeignKeyConstraint(['bank_organization_id'], ['organizations.id'], name=op.f('fk_finance_loan_messages_bank_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finance_loan_messages'))
    )
    with op.batch_alter_table('finance_loan_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finance_loan_messages_application_id'), ['application_id'], unique=False)

    op.create_table('finance_loan_offers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('made_by_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=True),
    sa.Column('rate_bps', sa.Integer(), nullable=True),
    sa.Column('term_months', sa.Integer(), nullable=True),
    sa.Column('conditions', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['finance_loan_applications.id'], name=op.f('fk_finance_loan_offers_application_id_finance_loan_applications')),
    sa.ForeignKeyConstraint(['made_by_id'], ['users.id'], name=op.f('fk_finance_loan_offers_made_by_id_users')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_finance_loan_offers_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finance_loan_offers'))
    )
    with op.batch_alter_table('finance_loan_offers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finance_loan_offers_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_finance_loan_offers_organization_id'), ['organization_id'], unique=False)

    op.create_table('finance_loan_rights',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('right_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('encumbrance_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['finance_loan_applications.id'], name=op.f('fk_finance_loan_rights_application_id_finance_loan_applications')),
    sa.ForeignKeyConstraint(['encumbrance_id'], ['right_encumbrances.id'], name=op.f('fk_finance_loan_rights_encumbrance_id_right_encumbrances')),
    sa.ForeignKeyConstraint(['right_id'], ['rights.id'], name=op.f('fk_finance_loan_rights_right_id_rights')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finance_loan_rights')),
    sa.UniqueConstraint('application_id', 'right_id', name='uq_finance_loan_right')
    )
    with op.batch_alter_table('finance_loan_rights', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finance_loan_rights_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_finance_loan_rights_right_id'), ['right_id'], unique=False)

    op.create_table('finance_voucher_redemptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('voucher_id', sa.Integer(), nullable=False),
    sa.Column('charge_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('service', sa.String(length=30), nullable=False),
    sa.Column('used_by_id', sa.Integer(), nullable=False),
    sa.Column('settled_at', sa.DateTime(), nullable=True),
    sa.Column('settlement_reference', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_finance_voucher_redemptions_redemption_amount_positive')),
    sa.ForeignKeyConstraint(['charge_id'], ['finance_service_charges.id'], name=op.f('fk_finance_voucher_redemptions_charge_id_finance_service_charges')),
    sa.ForeignKeyConstraint(['used_by_id'], ['users.id'], name=op.f('fk_finance_voucher_redemptions_used_by_id_users')),
    sa.ForeignKeyConstraint(['voucher_id'], ['finance_vouchers.id'], name=op.f('fk_finance_voucher_redemptions_voucher_id_finance_vouchers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finance_voucher_redemptions'))
    )
    with op.batch_alter_table('finance_voucher_redemptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finance_voucher_redemptions_charge_id'), ['charge_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_finance_voucher_redemptions_voucher_id'), ['voucher_id'], unique=False)



def downgrade():
    with op.batch_alter_table('finance_voucher_redemptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finance_voucher_redemptions_voucher_id'))
        batch_op.drop_index(batch_op.f('ix_finance_voucher_redemptions_charge_id'))

    op.drop_table('finance_voucher_redemptions')
    with op.batch_alter_table('finance_loan_rights', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finance_loan_rights_right_id'))
        batch_op.drop_index(batch_op.f('ix_finance_loan_rights_application_id'))

    op.drop_table('finance_loan_rights')
    with op.batch_alter_table('finance_loan_offers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finance_loan_offers_organization_id'))
        batch_op.drop_index(batch_op.f('ix_finance_loan_offers_application_id'))

    op.drop_table('finance_loan_offers')
    with op.batch_alter_table('finance_loan_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finance_loan_messages_application_id'))

    op.drop_table('finance_loan_messages')
    with op.batch_alter_table('finance_loan_banks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finance_loan_banks_organization_id'))
        batch_op.drop_index(batch_op.f('ix_finance_loan_banks_application_id'))

    op.drop_table('finance_loan_banks')
    with op.batch_alter_table('finance_valuation_rights', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finance_valuation_rights_valuation_id'))
        batch_op.drop_index(batch_op.f('ix_finance_valuation_rights_right_id'))

    op.drop_table('finance_valuation_rights')
    with op.batch_alter_table('finance_service_charges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finance_service_charges_valuation_id'))
        batch_op.drop_index(batch_op.f('ix_finance_service_charges_organization_id'))

    op.drop_table('finance_service_charges')
    with op.batch_alter_table('finance_loan_applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finance_loan_applications_status'))
        batch_op.drop_index(batch_op.f('ix_finance_loan_applications_organization_id'))
        batch_op.drop_index(batch_op.f('ix_finance_loan_applications_applicant_id'))

    op.drop_table('finance_loan_applications')
    with op.batch_alter_table('finance_vouchers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finance_vouchers_organization_id'))
        batch_op.drop_index(batch_op.f('ix_finance_vouchers_batch_id'))

    op.drop_table('finance_vouchers')
    with op.batch_alter_table('finance_valuations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finance_valuations_owner_id'))
        batch_op.drop_index(batch_op.f('ix_finance_valuations_organization_id'))
        batch_op.drop_index(batch_op.f('ix_finance_valuations_listing_id'))

    op.drop_table('finance_valuations')
    with op.batch_alter_table('finance_voucher_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finance_voucher_batches_issuer_organization_id'))

    op.drop_table('finance_voucher_batches')
