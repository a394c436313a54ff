"""credit_records.operator_id nullable: records the system writes (a buyer's unpaid reservations, issue 14)

Revision ID: 0003_system_credit_records
Revises: 0002c_notice_delivery
Create Date: 2026-12-02

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0003_system_credit_records'
down_revision = '0002c_notice_delivery'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('credit_records', schema=None) as batch_op:
        batch_op.alter_column('operator_id', existing_type=sa.Integer(), nullable=True)


def downgrade():
    # System records have no operator: they cannot survive a downgrade.
    op.execute("DELETE FROM credit_records WHERE operator_id IS NULL")
    with op.batch_alter_table('credit_records', schema=None) as batch_op:
        batch_op.alter_column('operator_id', existing_type=sa.Integer(), nullable=False)
