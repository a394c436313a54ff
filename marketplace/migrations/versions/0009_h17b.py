"""Messages between buyers and sellers (listing and deal threads); a document a rejection asks for (issue 17)

Revision ID: 0009_h17b
Revises: 0008_money_path
Create Date: 2026-12-06 01:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "0009_h17b"
down_revision = "0009_h17a"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "message_threads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=True),
        sa.Column("buyer_id", sa.Integer(), nullable=False),
        sa.Column("seller_id", sa.Integer(), nullable=False),
        sa.Column("seller_org_id", sa.Integer(), nullable=True),
        sa.Column("buyer_read_id", sa.Integer(), nullable=False),
        sa.Column("seller_read_id", sa.Integer(), nullable=False),
        sa.Column("disclosed_deal_id", sa.Integer(), nullable=True),
        sa.Column("disclosed_at", sa.DateTime(), nullable=True),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_message_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["buyer_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["deal_id"], ["deals.id"]),
        sa.ForeignKeyConstraint(["disclosed_deal_id"], ["deals.id"]),
        sa.ForeignKeyConstraint(["listing_id"], ["listings.id"]),
        sa.ForeignKeyConstraint(["seller_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["seller_org_id"], ["organizations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("message_threads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_message_threads_buyer_id"), ["buyer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_message_threads_deal_id"), ["deal_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_message_threads_last_message_at"), ["last_message_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_message_threads_listing_id"), ["listing_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_message_threads_seller_id"), ["seller_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_message_threads_seller_org_id"), ["seller_org_id"], unique=False)
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["thread_id"], ["message_threads.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_messages_thread_id"), ["thread_id"], unique=False)
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requested_document", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("supporting_doc", sa.String(length=100), nullable=True))


def downgrade():
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_column("supporting_doc")
        batch_op.drop_column("requested_document")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_thread_id"))
    op.drop_table("messages")
    with op.batch_alter_table("message_threads", schema=None) as batch_op:
        for name in ("seller_org_id", "seller_id", "listing_id", "last_message_at", "deal_id", "buyer_id"):
            batch_op.drop_index(batch_op.f(f"ix_message_threads_{name}"))
    op.drop_table("message_threads")
