"""Stored text in the reader's language (issue 17): notifications, deal history, ledger memos.

A text the platform writes for someone to read later (a notification's title and body, a deal event's note, a
ledger entry's memo) is stored as a message: the Chinese msgid (marked with ``N_`` so ``pybabel extract`` finds
it) and its parameters, in a JSON column beside the text column::

    {"key": "交易 #%(id)s：付款已到账，资金由平台托管", "params": {"id": 42}}

and rendered when it is read, in the reader's language: a page or an API response in the request's locale, an
e-mail in the recipient's (``User.locale``). The text column keeps the Chinese rendering, written at the same
time, for whatever reads the table without the app (SQL, backups, old clients).

Parameters are plain values (a listing's title, an id, a bank reference: shown as they are) or typed values that
are rendered per locale:

* ``money(fen, currency)`` → ``{"fen": 22000000, "currency": "CNY"}``: integer fen, shown by
  ``money.display_yuan`` ("¥22万" in Chinese, "¥220,000" in English);
* ``label(msgid)`` → ``{"key": msgid}``: a label from the registry (``labels.py``), translated;
* ``msg(key, **params)`` nested: a clause with parameters of its own;
* ``moment(datetime)`` → ``{"time": "2026-12-06T04:00:00+00:00"}``: shown in Beijing time;
* a list of any of these: joined with "；" (Chinese) or "; " (English).

Text a person typed (a dispute's reason, a message's preview) is not a message: it is stored as it is and shown
as it is. Rows written before messages existed have no JSON: their text is shown as stored; a ledger memo is also
translated when it is exactly a msgid of the catalogue (memos were stored that way before).
"""
from datetime import datetime

from .timeutil import as_utc, iso, local, parse_iso

ZH = "zh_CN"


class Message:
    """A msgid and its parameters, rendered when read (``render``), stored as JSON (``as_json``)."""

    __slots__ = ("key", "params")

    def __init__(self, key, params=None):
        self.key = key
        self.params = params or {}

    def as_json(self):
        return {"key": self.key, "params": {name: _stored(value) for name, value in self.params.items()}}

    def __str__(self):  # the Chinese text (as stored in the text column)
        return render(self.as_json(), locale=ZH)

    def __repr__(self):
        return f"Message({self.key!r}, {self.params!r})"


def msg(key, **params):
    """A message to store: ``msg(N_("交易 #%(id)s：%(text)s"), id=deal.id, text=label(...))``."""
    return Message(key, params)


def money(fen, currency="CNY"):
    """An amount parameter: integer fen, formatted when read in the reader's locale."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"money parameters are integer fen, not {fen!r}")
    return {"fen": fen, "currency": currency}


def label(msgid):
    """A label parameter (a Chinese msgid from the label registry), translated when read."""
    return {"key": msgid} if msgid else ""


def moment(value):
    """A date-time parameter (naive UTC or aware), shown in Beijing time as "2026-12-06 12:00"."""
    return {"time": iso(as_utc(value))} if value is not None else "—"


def _stored(value):
    if isinstance(value, Message):
        return value.as_json()
    if isinstance(value, datetime):
        return moment(value)
    if isinstance(value, (list, tuple)):
        return [_stored(v) for v in value]
    if value is None or isinstance(value, (bool, int, str, dict)):
        return value
    return str(value)  # a lazy string, a Decimal, a date: as text


def stored(value):
    """``(text, json)`` for a column pair: a ``Message`` as its Chinese text and its JSON, anything else (a person's
    own words, or None) as it is with no JSON."""
    if isinstance(value, Message):
        data = value.as_json()
        return render(data, locale=ZH), data
    return value, None


def _translator(locale):
    """The gettext of ``locale`` (None: the request's); Chinese is the msgid itself."""
    if locale is not None and str(locale).startswith("zh"):
        return lambda text: text
    from flask import has_app_context

    if not has_app_context():
        return lambda text: text
    from flask_babel import force_locale, get_translations

    if locale is None:
        return get_translations().ugettext
    with force_locale(locale):
        return get_translations().ugettext


def _locale_code(locale):
    if locale is not None:
        return str(locale)
    try:
        from flask_babel import get_locale

        return str(get_locale() or ZH)
    except (RuntimeError, AttributeError):
        return ZH


def render(message, text="", locale=None, *, old_msgid=False):
    """The text of a stored ``message`` (JSON, or a ``Message``) in ``locale`` (None: the request's language).

    No message (a row written before messages, or a person's own words): ``text`` as stored; with ``old_msgid``
    (ledger memos, which were stored as msgids before) translated when it is exactly a msgid of the catalogue."""
    locale = _locale_code(locale)
    translate = _translator(locale)
    if isinstance(message, Message):
        message = message.as_json()
    elif isinstance(message, str):  # plain text given as the message itself
        message, text = None, message
    if not message or not message.get("key"):
        return translate(text) if text and old_msgid else text
    return _render(message, translate, locale)


def _render(message, translate, locale):
    params = message.get("params") or {}
    translated = translate(message["key"])
    if not params:
        return translated
    values = {name: _value(value, translate, locale) for name, value in params.items()}
    try:
        return translated % values
    except (KeyError, ValueError, TypeError):  # a translation that does not fit its msgid: the msgid itself
        return message["key"] % values


def _value(value, translate, locale):
    if isinstance(value, dict):
        if "fen" in value:
            from .money import display_yuan

            return display_yuan(value["fen"], value.get("currency") or "CNY", locale=locale)
        if "time" in value:
            return local(parse_iso(value["time"])).strftime("%Y-%m-%d %H:%M")
        if "key" in value:
            return _render(value, translate, locale)
    if isinstance(value, list):
        return ("; " if locale.startswith("en") else "；").join(str(_value(v, translate, locale)) for v in value)
    return "" if value is None else value
