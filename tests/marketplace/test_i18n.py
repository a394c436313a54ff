"""Chinese first, English second: the switch works, every UI string has one English translation,
and the one catalogue is what Babel's own tools make of babel.cfg (marketplace/kernel/i18n.py)."""
import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from marketplace.kernel import i18n
from tests.factories import code_packages

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "marketplace" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
# babel.cfg's sections, and the keywords of the documented `pybabel extract` command
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2),
            "npgettext": ((1, "c"), 2, 3), "_l": None, "lazy_gettext": None, "N_": None}


def _has_cjk(text):
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _extracted():
    """(context, msgid) -> first source location, for every string babel.cfg's extraction finds."""
    found = {}
    areas = [(pkg, [("**.py", "python")]) for pkg in code_packages()] + [("templates", [("**.html", "jinja2")])]
    for sub, method_map in areas:
        for filename, lineno, message, _comments, context in extract_from_dir(
                str(ROOT / sub), method_map=method_map, keywords=KEYWORDS,
                options_map={"**.html": {"extensions": "jinja2.ext.i18n"}}):
            msgid = message if isinstance(message, str) else message[0]
            if msgid and "migrations" not in filename:
                found.setdefault((context, msgid), f"{sub}/{filename}:{lineno}")
    return found


def _catalogue():
    with CATALOGUE.open("rb") as fh:
        return read_po(fh)


def test_there_is_one_catalogue():
    assert i18n.translation_dirs() == [str(CATALOGUE.parents[2])]
    others = [str(p.relative_to(ROOT)) for pkg in code_packages()
              for p in (ROOT / pkg).rglob("*.po") if p != CATALOGUE]
    assert not others, f"a second catalogue would give a msgid a second translation: {others}"


def test_no_msgid_has_two_translations():
    # read_po keeps the last of two entries with one msgid: read the file's own text instead
    text = CATALOGUE.read_text(encoding="utf-8")
    keys = re.findall(r'^(?:msgctxt "((?:[^"\\]|\\.)*)"\n)?msgid "((?:[^"\\]|\\.)*)"$', text, re.M)
    seen, twice = set(), []
    for key in keys:
        if key in seen:
            twice.append(key)
        seen.add(key)
    assert not twice, f"msgids entered twice in the catalogue: {twice}"


def test_every_chinese_ui_string_has_an_english_translation():
    catalogue = _catalogue()
    missing = [f"{where}: {msgid}" for (context, msgid), where in _extracted().items()
               if _has_cjk(msgid) and not (catalogue.get(msgid, context=context) or None
                                            and catalogue.get(msgid, context=context).string)]
    assert not missing, "strings without an English translation:\n" + "\n".join(sorted(missing))


def test_catalogue_holds_nothing_the_code_no_longer_says():
    extracted = _extracted()
    stale = [m.id for m in _catalogue() if m.id and ((m.context, m.id if isinstance(m.id, str) else m.id[0])
                                                    not in extracted)]
    assert not stale, ("entries no string in the code uses (run the pybabel update in marketplace/kernel/i18n.py "
                       f"with --ignore-obsolete): {stale}")


def test_chinese_by_default_and_english_switch_is_remembered(client):
    assert "登录" in client.get("/").get_data(as_text=True)
    r = client.get("/lang/en?next=/login")
    assert r.status_code == 302 and r.headers["Location"] == "/login"
    page = client.get("/login").get_data(as_text=True)
    assert "Sign in" in page and 'lang="en"' in page
    client.get("/lang/zh_CN")
    assert "登录" in client.get("/login").get_data(as_text=True)


def test_language_switch_refuses_foreign_next(client):
    r = client.get("/lang/en?next=https://evil.example/")
    assert r.headers["Location"] == "/"
