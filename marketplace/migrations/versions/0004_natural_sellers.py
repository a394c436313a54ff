"""Natural persons sell: a listing's and a deal's organisation is optional (issue 13)

A listing offered by a natural person (a seller without an organisation) has no
organisation; its seller side is the seller (``listings.register.listing_party_holds``).
The deals opened on it carry no organisation either.

Revision ID: 0004_natural_sellers
Revises: 0003_system_credit_records
Create Date: 2026-12-04

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0004_natural_sellers'
down_revision = '0003_system_credit_records'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.alter_column('organization_id', existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.alter_column('organization_id', existing_type=sa.Integer(), nullable=True)


def downgrade():
    # A natural person's listings and deals have no organisation: they cannot survive a downgrade.
    conn = op.get_bind()
    if conn.execute(sa.text("SELECT count(*) FROM listings WHERE organization_id IS NULL")).scalar() or \
            conn.execute(sa.text("SELECT count(*) FROM deals WHERE organization_id IS NULL")).scalar():
        raise RuntimeError("natural persons' listings or deals exist: cannot make organization_id NOT NULL")
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.alter_column('organization_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.alter_column('organization_id', existing_type=sa.Integer(), nullable=False)
