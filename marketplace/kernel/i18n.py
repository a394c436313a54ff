"""Chinese first, English second.

Message ids are the Chinese text. There is one English catalogue,
``marketplace/translations/en/LC_MESSAGES/messages.po``, kept by Babel's own tools from
``babel.cfg`` (with source locations), so a msgid has exactly one translation:

    pybabel extract -F babel.cfg -k _l -k lazy_gettext -k N_ --no-wrap --sort-by-file -o messages.pot .
    pybabel update -i messages.pot -d marketplace/translations -l en --no-wrap --ignore-obsolete
    rm messages.pot

then translate the new (empty) entries. Where a Chinese word really has two meanings in English,
give it a context (``pgettext``). ``.po`` files are compiled to ``.mo`` when the app starts (and
whenever the ``.po`` is newer), so no binary is committed.

Outside a request (CLI, deadlines, jobs) the one way to translate is the platform's default
locale through ``select_locale`` (below), or ``flask_babel.force_locale`` where a document must be
in Chinese whatever the reader's language (the contract).
"""
import functools
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import current_app, g, has_request_context, request, session
from flask_babel import get_translations
from jinja2 import pass_context
from markupsafe import Markup

ROOT = Path(__file__).resolve().parents[2]  # the repository (this file is marketplace/kernel/i18n.py)


def N_(message):
    """Mark a string for extraction (``pybabel extract -k N_``) where it is defined but translated
    later, where it is shown (a state's label in a table; a stored message's key, ``marketplace.kernel.messages``):
    ``_(label)`` in the template or view translates it then."""
    return message


CATALOGUE_DIR = ROOT / "marketplace" / "translations"


def translation_dirs():
    """The one folder holding ``en/LC_MESSAGES/messages.po`` (Flask-Babel's list of directories)."""
    return [str(CATALOGUE_DIR)]


def compile_catalogues():
    for directory in translation_dirs():
        for po_path in Path(directory).glob("*/LC_MESSAGES/messages.po"):
            mo_path = po_path.with_suffix(".mo")
            if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
                continue
            with po_path.open("rb") as fh:
                catalog = read_po(fh)
            tmp = mo_path.with_suffix(".mo.tmp")
            try:
                with tmp.open("wb") as fh:
                    write_mo(fh, catalog)
                tmp.replace(mo_path)
            except OSError:  # a read-only install keeps what it has
                pass


def select_locale():
    """?lang= wins (and is remembered in the session); for /api/ requests then Accept-Language; then the session, then zh_CN."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI, deadlines, tests calling services: the platform's language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    wanted = request.args.get("lang")
    if wanted in languages:
        session["locale"] = wanted
        return wanted
    if request.path.startswith("/api/") and request.accept_languages:
        # API clients carry no session: they ask with ?lang= or the Accept-Language header.
        best = request.accept_languages.best_match(list(languages))
        if best:
            return best
    if session.get("locale") in languages:
        return session["locale"]
    return current_app.config["BABEL_DEFAULT_LOCALE"]


@functools.lru_cache(maxsize=16)
def _parsed_locale(identifier):
    from babel import Locale

    return Locale.parse(identifier)


def babel_locale():
    """``select_locale()`` as the ``babel.Locale`` Flask-Babel wants, parsed once per identifier: Flask-Babel calls
    ``Locale.parse`` on its selector's answer every request (about 1 ms of the signed-in pages' CPU), and returns
    a ``Locale`` it is given as it is."""
    return _parsed_locale(select_locale())


def install_template_gettext(app):
    """The templates' ``_()`` with the request's translations looked up once per locale, not per call.

    Flask-Babel's own template callables resolve the domain, the locale (``str(Locale)``) and the cache on every
    ``_()``; the deal page makes about 80 such calls (a fifth of its rendering). Here the translations are kept
    on Flask-Babel's per-request namespace beside the ``Locale`` object they belong to, so ``force_locale``
    (which sets a new ``Locale`` there) still gets its own language."""
    def translations():
        ctx = g.get("_flask_babel") if g else None
        if ctx is not None:
            kept = getattr(ctx, "ipmart_translations", None)
            if kept is not None and kept[0] is getattr(ctx, "babel_locale", None):
                return kept[1]
        found = get_translations()
        ctx = g.get("_flask_babel") if g else None
        locale = getattr(ctx, "babel_locale", None)
        if locale is not None:
            ctx.ipmart_translations = (locale, found)
        return found

    def gettext(string):
        return translations().ugettext(string)

    @pass_context
    def underscore(__context, __string, **variables):
        # What Jinja's newstyle ``_()`` does (jinja2.ext._make_new_gettext through _gettext_alias), without its
        # two ``Context.call`` hops: escaped when autoescaping, always %-formatted (so "%%" is "%" everywhere).
        rv = gettext(__string)
        if __context.eval_ctx.autoescape:
            rv = Markup(rv)
        return rv % variables

    app.jinja_env.install_gettext_callables(
        gettext=gettext,
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
    )
    app.jinja_env.globals["_"] = underscore
