"""rights register: one entry per right, listings link to it; holders, encumbrances, history, claims

Revision ID: 0002
Revises: 0001

Existing listings' rights become register entries. Rows with the same kind and number
are merged into the oldest; its holder is the organisation of the oldest listing that
offered it, and every other organisation that offered it gets an open claim in the
operators' conflicts queue. A declared ``pledged`` flag and ``exclusive_license_until``
date become declared encumbrances. Every entry's history starts with a ``migrated`` event.
"""
import json
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('license_cap', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('authorization_doc', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('co_owner_consent', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('co_owner_consents', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('acts_for_holders', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('licences_acknowledged_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('split_share', sa.BigInteger(), nullable=True))

    op.create_table('listing_rights',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('right_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['listing_id'], ['listings.id'], name=op.f('fk_listing_rights_listing_id_listings')),
    sa.ForeignKeyConstraint(['right_id'], ['rights.id'], name=op.f('fk_listing_rights_right_id_rights')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_listing_rights')),
    sa.UniqueConstraint('listing_id', 'right_id', name='uq_listing_rights_listing_right')
    )
    with op.batch_alter_table('listing_rights', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_listing_rights_listing_id'), ['listing_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_listing_rights_right_id'), ['right_id'], unique=False)

    op.create_table('right_holders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('right_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('holder_type', sa.String(length=20), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('id_type', sa.String(length=20), nullable=True),
    sa.Column('id_number_masked', sa.String(length=40), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("holder_type IN ('organization', 'person', 'outside')", name=op.f('ck_right_holders_holder_type_known')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_right_holders_organization_id_organizations')),
    sa.ForeignKeyConstraint(['right_id'], ['rights.id'], name=op.f('fk_right_holders_right_id_rights')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_right_holders_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_right_holders'))
    )
    with op.batch_alter_table('right_holders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_right_holders_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_right_holders_right_id'), ['right_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_right_holders_user_id'), ['user_id'], unique=False)

    op.create_table('right_encumbrances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('right_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('licence_type', sa.String(length=20), nullable=True),
    sa.Column('party_name', sa.String(length=200), nullable=True),
    sa.Column('party_organization_id', sa.Integer(), nullable=True),
    sa.Column('party_user_id', sa.Integer(), nullable=True),
    sa.Column('registration_number', sa.String(length=60), nullable=True),
    sa.Column('territory', sa.String(length=100), nullable=True),
    sa.Column('field', sa.String(length=200), nullable=True),
    sa.Column('starts_on', sa.Date(), nullable=True),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('deal_id', sa.Integer(), nullable=True),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('ended_reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('pledge', 'licence')", name=op.f('ck_right_encumbrances_encumbrance_kind_known')),
    sa.CheckConstraint("kind != 'licence' OR licence_type IN ('exclusive', 'sole', 'non_exclusive')", name=op.f('ck_right_encumbrances_licence_type_known')),
    sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], name=op.f('fk_right_encumbrances_deal_id_deals')),
    sa.ForeignKeyConstraint(['party_organization_id'], ['organizations.id'], name=op.f('fk_right_encumbrances_party_organization_id_organizations')),
    sa.ForeignKeyConstraint(['party_user_id'], ['users.id'], name=op.f('fk_right_encumbrances_party_user_id_users')),
    sa.ForeignKeyConstraint(['right_id'], ['rights.id'], name=op.f('fk_right_encumbrances_right_id_rights')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_right_encumbrances'))
    )
    with op.batch_alter_table('right_encumbrances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_right_encumbrances_right_id'), ['right_id'], unique=False)

    op.create_table('right_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('right_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('deal_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_right_events_actor_id_users')),
    sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], name=op.f('fk_right_events_deal_id_deals')),
    sa.ForeignKeyConstraint(['right_id'], ['rights.id'], name=op.f('fk_right_events_right_id_rights')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_right_events'))
    )
    with op.batch_alter_table('right_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_right_events_right_id'), ['right_id'], unique=False)

    op.create_table('right_claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('right_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=True),
    sa.Column('claimant_id', sa.Integer(), nullable=True),
    sa.Column('claimant_name', sa.String(length=200), nullable=False),
    sa.Column('evidence', sa.String(length=100), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['claimant_id'], ['users.id'], name=op.f('fk_right_claims_claimant_id_users')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_right_claims_decided_by_id_users')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_right_claims_organization_id_organizations')),
    sa.ForeignKeyConstraint(['right_id'], ['rights.id'], name=op.f('fk_right_claims_right_id_rights')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_right_claims'))
    )
    with op.batch_alter_table('right_claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_right_claims_claimant_id'), ['claimant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_right_claims_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_right_claims_right_id'), ['right_id'], unique=False)

    with op.batch_alter_table('rights', schema=None) as batch_op:
        batch_op.add_column(sa.Column('annuity_paid_until', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('madrid', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('verified_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('created_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(), nullable=True))

    _migrate_data(op.get_bind())

    with op.batch_alter_table('rights', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rights_listing_id'))
        batch_op.drop_constraint(batch_op.f('fk_rights_listing_id_listings'), type_='foreignkey')
        batch_op.drop_column('listing_id')
        batch_op.drop_column('position')
        batch_op.drop_column('pledged')
        batch_op.drop_column('exclusive_license_until')
        batch_op.alter_column('created_at', existing_type=sa.DateTime(), nullable=False)
        batch_op.alter_column('updated_at', existing_type=sa.DateTime(), nullable=False)
        batch_op.create_unique_constraint('uq_rights_kind_number', ['kind', 'number'])
    with op.batch_alter_table('listings', schema=None) as batch_op:
        batch_op.alter_column('acts_for_holders', server_default=None)
    with op.batch_alter_table('rights', schema=None) as batch_op:
        batch_op.alter_column('madrid', server_default=None)


def _migrate_data(conn):
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = conn.execute(sa.text(
        "SELECT r.id, r.listing_id, r.position, r.kind, r.number, r.pledged, r.exclusive_license_until, "
        "l.organization_id, o.name AS org_name, l.created_at AS listed_at "
        "FROM rights r JOIN listings l ON l.id = r.listing_id JOIN organizations o ON o.id = l.organization_id "
        "ORDER BY r.kind, r.number, l.created_at, r.id")).mappings().all()
    keeper = {}  # (kind, number) -> (right id, holder org id)
    claimed = set()
    for row in rows:
        key = (row["kind"], row["number"])
        if key not in keeper:
            keeper[key] = (row["id"], row["organization_id"])
            conn.execute(sa.text("UPDATE rights SET created_at = :now, updated_at = :now, madrid = :madrid "
                                 "WHERE id = :id"),
                         {"now": now, "id": row["id"], "madrid": row["number"].startswith("G")})
            conn.execute(sa.text("INSERT INTO right_holders (right_id, position, holder_type, organization_id, "
                                 "name, created_at) VALUES (:r, 0, 'organization', :o, :n, :now)"),
                         {"r": row["id"], "o": row["organization_id"], "n": row["org_name"], "now": now})
            _event(conn, row["id"], "migrated", {"holders": [row["org_name"]], "from_listing": row["listing_id"]},
                   now)
            if row["pledged"]:
                conn.execute(sa.text("INSERT INTO right_encumbrances (right_id, kind, party_name, source, "
                                     "created_at) VALUES (:r, 'pledge', '未披露', 'declared', :now)"),
                             {"r": row["id"], "now": now})
            if row["exclusive_license_until"]:
                conn.execute(sa.text("INSERT INTO right_encumbrances (right_id, kind, licence_type, party_name, "
                                     "ends_on, source, created_at) VALUES (:r, 'licence', 'exclusive', '未披露', "
                                     ":until, 'declared', :now)"),
                             {"r": row["id"], "until": row["exclusive_license_until"], "now": now})
        right_id, holder_org = keeper[key]
        exists = conn.execute(sa.text("SELECT 1 FROM listing_rights WHERE listing_id = :l AND right_id = :r"),
                              {"l": row["listing_id"], "r": right_id}).first()
        if not exists:
            conn.execute(sa.text("INSERT INTO listing_rights (listing_id, right_id, position) "
                                 "VALUES (:l, :r, :p)"), {"l": row["listing_id"], "r": right_id, "p": row["position"]})
        if row["id"] != right_id:
            if row["organization_id"] != holder_org and (right_id, row["organization_id"]) not in claimed:
                claimed.add((right_id, row["organization_id"]))
                conn.execute(sa.text(
                    "INSERT INTO right_claims (right_id, organization_id, claimant_name, note, status, created_at) "
                    "VALUES (:r, :o, :n, :note, 'open', :now)"),
                    {"r": right_id, "o": row["organization_id"], "n": row["org_name"], "now": now,
                     "note": f"迁移时发现：挂牌 #{row['listing_id']} 也挂出了该权利"})
                _event(conn, right_id, "claimed", {"claimant": row["org_name"], "source": "migration"}, now)
            conn.execute(sa.text("DELETE FROM rights WHERE id = :id"), {"id": row["id"]})


def _event(conn, right_id, action, detail, now):
    value = "CAST(:d AS JSON)" if conn.dialect.name == "postgresql" else ":d"
    conn.execute(sa.text("INSERT INTO right_events (right_id, action, detail, source, created_at) "
                         f"VALUES (:r, :a, {value}, 'migration', :now)"),
                 {"r": right_id, "a": action, "d": json.dumps(detail, ensure_ascii=False), "now": now})


def downgrade():
    raise NotImplementedError("the register cannot be split back into per-listing copies")
