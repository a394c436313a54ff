"""Chinese first, English second.

Message ids are the Chinese text; each package keeps an English catalogue in
``<package>/translations/en/LC_MESSAGES/messages.po``. Flask-Babel merges the
catalogues of every directory listed. ``.po`` files are compiled to ``.mo`` when
the app starts (and whenever a ``.po`` is newer), so no binary is committed.
"""
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import has_request_context, request, session

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("marketplace", "listings", "escrow", "search", "finance")


def translation_dirs():
    """Every folder holding ``<locale>/LC_MESSAGES/messages.po`` under a package's ``translations/``.

    A package may keep one catalogue per area (``listings/translations/grading/en/…``)
    so that areas are edited independently; Flask-Babel merges them all.
    """
    found = set()
    for pkg in PACKAGES:
        base = ROOT / pkg / "translations"
        if base.is_dir():
            for po in base.glob("**/LC_MESSAGES/messages.po"):
                found.add(str(po.parent.parent.parent))
    return sorted(found)


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
    from flask import current_app

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
