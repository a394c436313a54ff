"""Chinese first, English second: the switch works and every UI string has an English translation."""
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from marketplace import i18n

ROOT = Path(__file__).resolve().parents[2]


def _english_catalogue():
    translated = {}
    for directory in i18n.translation_dirs():
        po = Path(directory) / "en" / "LC_MESSAGES" / "messages.po"
        if po.exists():
            with po.open("rb") as fh:
                for message in read_po(fh):
                    if message.id and message.string:
                        key = message.id if isinstance(message.id, str) else message.id[0]
                        translated[key] = message.string
    return translated


def _has_cjk(text):
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_every_chinese_ui_string_has_an_english_translation():
    method_map = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
    translated = _english_catalogue()
    missing = []
    for sub in ("marketplace", "listings", "escrow", "search", "finance", "templates"):
        for filename, lineno, message, _comments, _context in extract_from_dir(
                str(ROOT / sub), method_map=method_map if sub != "templates" else [("**.html", "jinja2")],
                options_map={"**.html": {"extensions": "jinja2.ext.i18n"}},
                keywords={**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}):
            msgid = message if isinstance(message, str) else message[0]
            if msgid and _has_cjk(msgid) and msgid not in translated:
                missing.append(f"{sub}/{filename}:{lineno}: {msgid}")
    assert not missing, "strings without an English translation:\n" + "\n".join(sorted(set(missing)))


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
