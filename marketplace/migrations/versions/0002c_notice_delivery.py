"""saved_search_notices: notified_at, mailed_at, attempts (each notice delivered and retried on its own)

Revision ID: 0002c_notice_delivery
Revises: 0002b_session_token
Create Date: 2026-12-01

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0002c_notice_delivery'
down_revision = '0002b_session_token'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('saved_search_notices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notified_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('mailed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
    # Notices written before this revision were delivered when they were written.
    op.execute("UPDATE saved_search_notices SET notified_at = created_at, mailed_at = created_at")
    with op.batch_alter_table('saved_search_notices', schema=None) as batch_op:
        batch_op.alter_column('attempts', existing_type=sa.Integer(), server_default=None)


def downgrade():
    with op.batch_alter_table('saved_search_notices', schema=None) as batch_op:
        batch_op.drop_column('attempts')
        batch_op.drop_column('mailed_at')
        batch_op.drop_column('notified_at')
