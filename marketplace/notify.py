"""In-app notifications (and e-mail when SMTP is configured). Kernel: used by every domain package."""
import logging
import smtplib
from email.message import EmailMessage

from flask import current_app

from .extensions import db
from .models import Notification, User

log = logging.getLogger(__name__)


def notify(user, kind, title, body="", link=None, email=False):
    """Queue a notification for ``user`` (a User or id) in the caller's transaction."""
    user_id = user if isinstance(user, int) else user.id
    row = Notification(user_id=user_id, kind=kind, title=title, body=body, link=link)
    db.session.add(row)
    if email and current_app.config.get("SMTP_HOST"):
        _send_mail(user_id, title, body)
    return row


def _send_mail(user_id, subject, body):
    user = db.session.get(User, user_id)
    if user is None:
        return
    msg = EmailMessage()
    msg["From"] = current_app.config["MAIL_FROM"]
    msg["To"] = user.email
    msg["Subject"] = subject
    msg.set_content(body)
    try:
        with smtplib.SMTP(current_app.config["SMTP_HOST"], current_app.config["SMTP_PORT"], timeout=10) as s:
            s.send_message(msg)
    except OSError:  # mail is best effort; the in-app notification is the record
        log.warning("mail to user %s failed", user_id, exc_info=True)


def unread_count(user_id):
    return db.session.query(Notification).filter_by(user_id=user_id, read_at=None).count()
