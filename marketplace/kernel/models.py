"""Kernel tables: accounts, organisations, API tokens, notifications, the search outbox, the audit log.

The kernel imports no domain package; domain packages import it.
"""
import hashlib
import secrets

from flask_login import UserMixin
from sqlalchemy import JSON
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db
from .messages import render
from .timeutil import utcnow

ROLES = ("seller", "buyer", "operator", "bank", "valuer", "voucher_issuer")  # the last three: finance/
CREDIT_LEVELS = ("good", "warned", "restricted", "blacklisted")


class Organization(db.Model):
    """An SME (or university, institute) that holds rights and trades them."""

    __tablename__ = "organizations"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(200), nullable=False)
    uscc = db.Column(db.String(18), nullable=False, unique=True)
    region = db.Column(db.String(20), nullable=False, default="other")
    verified = db.Column(db.Boolean, nullable=False, default=False)
    verified_at = db.Column(db.DateTime)
    business_licence = db.Column(db.String(200))  # stored upload name
    stripe_account_id = db.Column(db.String(64))  # Stripe Connect account, when the seller has one
    credit_level = db.Column(db.String(20), nullable=False, default="good")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    members = db.relationship("User", back_populates="organization")


def new_session_token():
    return secrets.token_urlsafe(32)


class User(UserMixin, db.Model):
    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(254), nullable=False, unique=True)
    name = db.Column(db.String(100), nullable=False)
    password_hash = db.Column(db.String(256), nullable=False)
    roles_csv = db.Column("roles", db.String(64), nullable=False, default="buyer")
    organization_id = db.Column(db.Integer, db.ForeignKey("organizations.id"), index=True)
    credit_level = db.Column(db.String(20), nullable=False, default="good")
    locale = db.Column(db.String(10))
    active = db.Column(db.Boolean, nullable=False, default=True)
    # account deleted (PIPL, marketplace.web.privacy): personal fields anonymised, deal and ledger records kept
    deleted_at = db.Column(db.DateTime)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # consent at registration (PIPL): the version of the user agreement and privacy policy agreed to, and when
    # (marketplace.kernel.legal); empty for accounts made by operators (``users create``) and the demo
    terms_version = db.Column(db.String(20))
    terms_accepted_at = db.Column(db.DateTime)
    # Flask-Login's "alternative id": the session and the remember-me cookie hold "<id>:<session_token>",
    # so a new token (password change, sign-out) ends every web session and remember-me cookie at once.
    session_token = db.Column(db.String(64), nullable=False, default=new_session_token)

    organization = db.relationship("Organization", back_populates="members")

    def get_id(self):
        if not self.session_token:
            self.session_token = new_session_token()  # a user not flushed yet
        return f"{self.id}:{self.session_token}"

    def end_sessions(self):
        """Sign this user out of every browser (sessions and remember-me cookies); API tokens are apart."""
        self.session_token = new_session_token()

    @property
    def roles(self):
        return [r for r in self.roles_csv.split(",") if r]

    @roles.setter
    def roles(self, values):
        self.roles_csv = ",".join(r for r in ROLES if r in set(values))

    def has_role(self, role):
        return role in self.roles

    @property
    def is_operator(self):
        return self.has_role("operator")

    @property
    def is_active(self):
        return self.active

    def set_password(self, password):
        self.password_hash = generate_password_hash(password, method="scrypt")

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    @property
    def effective_credit_level(self):
        """The worse of the user's and their organisation's credit level."""
        levels = [self.credit_level]
        if self.organization is not None:
            levels.append(self.organization.credit_level)
        return max(levels, key=CREDIT_LEVELS.index)

    @property
    def masked_name(self):
        """买家***3: what other people see of a bidder."""
        return f"买家***{self.id % 10}"


class ApiToken(db.Model):
    """A bearer token; only its SHA-256 is stored, so a database leak yields no tokens."""

    __tablename__ = "api_tokens"
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_used_at = db.Column(db.DateTime)
    revoked_at = db.Column(db.DateTime)

    user = db.relationship("User")

    @staticmethod
    def hash(token):
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def issue(cls, user):
        """Create a token for ``user``; returns (row, plaintext). The plaintext is shown once."""
        token = "ipm_" + secrets.token_urlsafe(32)
        row = cls(user=user, token_hash=cls.hash(token))
        db.session.add(row)
        return row, token


class Notification(db.Model):
    __tablename__ = "notifications"
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)
    kind = db.Column(db.String(40), nullable=False)  # offer, outbid, auction_end, deal, saved_search, credit
    title = db.Column(db.String(200), nullable=False)  # the Chinese text, as written
    body = db.Column(db.Text, nullable=False, default="")
    # the message key and parameters (marketplace.kernel.messages), rendered in the reader's language; None: plain text
    title_msg = db.Column(JSON)
    body_msg = db.Column(JSON)
    link = db.Column(db.String(300))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    read_at = db.Column(db.DateTime)

    @property
    def title_text(self):
        """The title in the reader's language (the request's)."""
        return render(self.title_msg, self.title)

    @property
    def body_text(self):
        return render(self.body_msg, self.body)


class OutboxEvent(db.Model):
    """Append-only change log of search-relevant listing changes, ids increasing.

    Written in the same transaction as the listing change; each search index
    remembers the last id it applied and catches up after commit.
    """

    __tablename__ = "outbox_events"
    id = db.Column(db.BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True, autoincrement=True)
    listing_id = db.Column(db.Integer, nullable=False, index=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)


class AuditLog(db.Model):
    """Every operator action: who, what, when, before/after."""

    __tablename__ = "audit_log"
    id = db.Column(db.Integer, primary_key=True)
    actor_id = db.Column(db.Integer, db.ForeignKey("users.id"), index=True)
    action = db.Column(db.String(60), nullable=False)
    object_type = db.Column(db.String(40), nullable=False)
    object_id = db.Column(db.Integer)
    before = db.Column(JSON)
    after = db.Column(JSON)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    actor = db.relationship("User")
from .credit_models import CreditRecord  # noqa: E402,F401  (credit records, see marketplace.kernel.credit)
