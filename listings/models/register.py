"""The rights register: each patent and trademark once, with its holders, encumbrances and history.

A register entry (``Right``) is unique by kind and canonical number (the patent
application number; the trademark registration number, ``G…`` for a Madrid
international registration). Listings offer entries through ``ListingRight``
links; a deal that completes changes the entry (``listings.register``).

- ``RightHolder``: who holds the right now (co-owners are several rows). An
  organisation on the platform, a natural person (name, ID type, masked number) or a
  named outside party.
- ``Encumbrance``: pledges (质押) and licences (许可) in force or ended, declared by
  a seller, made by a deal on the platform, or entered by an operator.
- ``RightEvent``: every change, append-only (no update or delete is accepted).
- ``RightClaim``: a second organisation claiming a right the register gives to
  another holder, with its evidence, in the operators' conflicts queue.
"""
from datetime import date, timedelta

from sqlalchemy import JSON, CheckConstraint, UniqueConstraint, event

from marketplace.kernel.extensions import db
from marketplace.kernel.timeutil import utcnow

HOLDER_TYPES = ("organization", "person", "outside")
ID_TYPES = ("resident_id", "passport", "hk_macao_permit", "taiwan_permit", "other")
ENCUMBRANCE_KINDS = ("pledge", "licence")
LICENCE_TYPES = ("exclusive", "sole", "non_exclusive")
EVENT_SOURCES = ("seller", "operator", "deal", "system", "migration")
CLAIM_STATUSES = ("open", "upheld", "dismissed")
GRACE_MONTHS = 6  # trademark renewal grace period (商标法第四十条); patent annuity grace (专利法实施细则第98条)


class Right(db.Model):
    """One patent or trademark in the register. Kind-specific columns are null for the other kind."""

    __tablename__ = "rights"
    __table_args__ = (UniqueConstraint("kind", "number", name="uq_rights_kind_number"),)
    id = db.Column(db.Integer, primary_key=True)
    kind = db.Column(db.String(20), nullable=False)
    number = db.Column(db.String(40), nullable=False, index=True)  # canonical application / registration number
    title = db.Column(db.String(300), nullable=False)  # patent title, or the mark's text
    abstract = db.Column(db.Text)
    # patents
    patent_type = db.Column(db.String(20))  # invention | utility_model | design
    ipc_codes = db.Column(JSON)  # ["H04L 9/32", ...]
    locarno_class = db.Column(db.String(10))  # designs, "14-02"
    filing_date = db.Column(db.Date)
    grant_date = db.Column(db.Date)
    claims_count = db.Column(db.Integer)
    legal_status = db.Column(db.String(20))  # pending | granted | lapsed | invalidated | expired
    annuity_paid_until = db.Column(db.Date)  # patents: the annuity (年费) is paid for the year ending here
    family_countries = db.Column(JSON)  # ["US", "EP"]
    # trademarks
    nice_classes = db.Column(JSON)  # [9, 42]
    similar_groups = db.Column(JSON)  # ["0901", "4209"]
    goods = db.Column(JSON)  # ["计算机软件（已录制）", ...]
    registration_date = db.Column(db.Date)  # start of the current 10-year term (after a renewal: its start)
    tm_status = db.Column(db.String(20))  # registered | pending | opposed | cancelled | invalidated
    disputes = db.Column(db.Integer)  # known oppositions/invalidations/cancellation actions
    use_evidence = db.Column(db.Boolean)
    madrid = db.Column(db.Boolean, nullable=False, default=False)  # a Madrid international registration (G…)
    verified_at = db.Column(db.DateTime)  # an operator checked the entry against CNIPA's record
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    holders = db.relationship("RightHolder", back_populates="right", order_by="RightHolder.position",
                              cascade="all, delete-orphan")
    encumbrances = db.relationship("Encumbrance", back_populates="right", order_by="Encumbrance.id",
                                   cascade="all, delete-orphan")
    events = db.relationship("RightEvent", back_populates="right", order_by="RightEvent.id")
    listing_links = db.relationship("ListingRight", back_populates="right")

    # --- derived facts (read by pages, serializers, grading and the rule book) ---------------

    def encumbrances_in_force(self, kind, today=None):
        if today is None:  # the platform's day (Beijing), not the host's: a pledge registered today is in force
            from marketplace.kernel.timeutil import local, utcnow

            today = local(utcnow()).date()
        return [e for e in self.encumbrances if e.kind == kind and e.in_force(today)]

    @property
    def pledged(self):
        return bool(self.encumbrances_in_force("pledge"))

    def licences_in_force(self, today=None):
        return self.encumbrances_in_force("licence", today)

    @property
    def exclusive_license_until(self):
        """The latest end of an exclusive or sole licence in force (None if none, or open-ended: the far future)."""
        ends = [e.ends_on or date.max for e in self.licences_in_force() if e.licence_type in ("exclusive", "sole")]
        return max(ends) if ends else None

    @property
    def holder_names(self):
        return [h.name for h in self.holders]

    @property
    def listings(self):
        return [link.listing for link in self.listing_links]

    def term_end(self):
        return term_end(self.kind, self.patent_type, self.filing_date, self.registration_date)

    def next_fee_due(self):
        """(what, due date, end of grace) for the next annuity (patents) or renewal (trademarks), or None."""
        if self.kind == "patent":
            if self.legal_status != "granted" or self.annuity_paid_until is None:
                return None
            due = self.annuity_paid_until
            return ("annuity", due, _add_months(due, GRACE_MONTHS))
        end = self.term_end()
        if end is None:
            return None
        # Renewal may be filed in the 12 months before the term ends, then in a 6-month grace period.
        return ("renewal", end, _add_months(end, GRACE_MONTHS))


def term_end(kind, patent_type, filing_date, registration_date):
    """The day a right's term ends (None when unknown), from plain values: a search row has no ``Right``."""
    from ..identifiers import expiry_date

    if kind == "patent":
        if not patent_type:
            return None
        return expiry_date("patent", patent_type=patent_type, filing_date=filing_date)
    return expiry_date("trademark", registration_date=registration_date)


def _add_months(day, months):
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    return day + timedelta(days=30 * months)


class ListingRight(db.Model):
    """A listing offers a register entry (its position in the listing's bundle)."""

    __tablename__ = "listing_rights"
    __table_args__ = (UniqueConstraint("listing_id", "right_id", name="uq_listing_rights_listing_right"),)
    id = db.Column(db.Integer, primary_key=True)
    listing_id = db.Column(db.Integer, db.ForeignKey("listings.id"), nullable=False, index=True)
    right_id = db.Column(db.Integer, db.ForeignKey("rights.id"), nullable=False, index=True)
    position = db.Column(db.Integer, nullable=False, default=0)

    listing = db.relationship("Listing", back_populates="items")
    right = db.relationship("Right", back_populates="listing_links")


class RightHolder(db.Model):
    """A current holder (专利权人 / 商标注册人). Past holders are in the events."""

    __tablename__ = "right_holders"
    __table_args__ = (
        CheckConstraint("holder_type IN ('organization', 'person', 'outside')", name="holder_type_known"),
    )
    id = db.Column(db.Integer, primary_key=True)
    right_id = db.Column(db.Integer, db.ForeignKey("rights.id"), nullable=False, index=True)
    position = db.Column(db.Integer, nullable=False, default=0)
    holder_type = db.Column(db.String(20), nullable=False)
    organization_id = db.Column(db.Integer, db.ForeignKey("organizations.id"), index=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), index=True)  # a natural person on the platform
    name = db.Column(db.String(200), nullable=False)
    id_type = db.Column(db.String(20))  # natural persons
    id_number_masked = db.Column(db.String(40))  # e.g. 4401**********1234; the full number is never stored
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    right = db.relationship("Right", back_populates="holders")
    organization = db.relationship("Organization")
    user = db.relationship("User")

    def as_party(self):
        return {"type": self.holder_type, "organization_id": self.organization_id, "user_id": self.user_id,
                "name": self.name, "id_type": self.id_type, "id_number_masked": self.id_number_masked}


class Encumbrance(db.Model):
    """A pledge or a licence on a right, in force from ``starts_on`` until ``ends_on`` (or until ended)."""

    __tablename__ = "right_encumbrances"
    __table_args__ = (
        CheckConstraint("kind IN ('pledge', 'licence')", name="encumbrance_kind_known"),
        CheckConstraint("kind != 'licence' OR licence_type IN ('exclusive', 'sole', 'non_exclusive')",
                        name="licence_type_known"),
    )
    id = db.Column(db.Integer, primary_key=True)
    right_id = db.Column(db.Integer, db.ForeignKey("rights.id"), nullable=False, index=True)
    kind = db.Column(db.String(10), nullable=False)  # pledge | licence
    licence_type = db.Column(db.String(20))  # exclusive | sole | non_exclusive
    party_name = db.Column(db.String(200))  # the pledgee, or the licensee
    party_organization_id = db.Column(db.Integer, db.ForeignKey("organizations.id"))
    party_user_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    registration_number = db.Column(db.String(60))  # pledge registration / licence recordal number (备案号)
    territory = db.Column(db.String(100))
    field = db.Column(db.String(200))
    starts_on = db.Column(db.Date)
    ends_on = db.Column(db.Date)
    source = db.Column(db.String(20), nullable=False, default="declared")  # declared | platform | operator
    deal_id = db.Column(db.Integer, db.ForeignKey("deals.id"))
    ended_at = db.Column(db.DateTime)  # released pledge, terminated licence, reversed deal
    ended_reason = db.Column(db.String(200))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    right = db.relationship("Right", back_populates="encumbrances")

    def in_force(self, today):
        if self.ended_at is not None:
            return False
        if self.starts_on and self.starts_on > today:
            return self.kind == "licence"  # a licence granted to start later already binds the holder
        return self.ends_on is None or self.ends_on >= today


class RightEvent(db.Model):
    """One change to a register entry. Append-only: rows are never edited or deleted."""

    __tablename__ = "right_events"
    id = db.Column(db.Integer, primary_key=True)
    right_id = db.Column(db.Integer, db.ForeignKey("rights.id"), nullable=False, index=True)
    action = db.Column(db.String(40), nullable=False)
    detail = db.Column(JSON, nullable=False, default=dict)
    source = db.Column(db.String(20), nullable=False)  # seller | operator | deal | system | migration
    actor_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    deal_id = db.Column(db.Integer, db.ForeignKey("deals.id"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    right = db.relationship("Right", back_populates="events")
    actor = db.relationship("User")


@event.listens_for(RightEvent, "before_update")
@event.listens_for(RightEvent, "before_delete")
def _events_are_append_only(mapper, connection, target):
    raise RuntimeError("right_events is append-only")


class RightClaim(db.Model):
    """A claim to a right the register gives to another holder, for an operator to decide."""

    __tablename__ = "right_claims"
    id = db.Column(db.Integer, primary_key=True)
    right_id = db.Column(db.Integer, db.ForeignKey("rights.id"), nullable=False, index=True)
    organization_id = db.Column(db.Integer, db.ForeignKey("organizations.id"), index=True)
    claimant_id = db.Column(db.Integer, db.ForeignKey("users.id"), index=True)
    claimant_name = db.Column(db.String(200), nullable=False)
    evidence = db.Column(db.String(100))  # stored upload name
    note = db.Column(db.Text)
    status = db.Column(db.String(20), nullable=False, default="open")
    decided_by_id = db.Column(db.Integer, db.ForeignKey("users.id"))
    decided_at = db.Column(db.DateTime)
    decision_reason = db.Column(db.Text)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    right = db.relationship("Right")
    organization = db.relationship("Organization")
    claimant = db.relationship("User", foreign_keys=[claimant_id])
