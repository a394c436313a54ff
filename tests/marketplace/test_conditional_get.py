"""Conditional GET on listing pages (ETag, 304) and fingerprinted static files with long lifetimes (issue 19)."""
import hashlib
import re
import shutil
from pathlib import Path

import pytest
from flask import url_for

from marketplace.kernel.extensions import db
from marketplace.kernel.pagecache import STATIC_MAX_AGE
from tests import factories
from tests.conftest import login


@pytest.fixture(params=[False, True], ids=["uncached", "cached"])
def app_config(request):
    return {"PAGE_CACHE": request.param}


@pytest.fixture
def listing(app):
    item = factories.make_listing()
    db.session.commit()
    return item


def test_a_listing_page_is_answered_304_while_it_has_not_changed(client, listing):
    path = f"/listings/{listing.id}"
    first = client.get(path)
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-cache"  # revalidated every time, never shown stale
    assert "Cookie" in first.headers["Vary"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    # HEAD and the API's read answer the same way
    api = client.get(f"/api/v1/listings/{listing.id}")
    assert client.get(f"/api/v1/listings/{listing.id}",
                      headers={"If-None-Match": api.headers["ETag"]}).status_code == 304


def test_a_changed_listing_gets_a_new_etag_and_the_full_page(client, listing):
    path = f"/listings/{listing.id}"
    etag = client.get(path).headers["ETag"]
    listing.price = 2_222_222_00
    db.session.commit()
    response = client.get(path, headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.headers["ETag"] != etag
    assert "¥222.22万" in response.get_data(as_text=True)


def test_an_etag_never_answers_for_another_user(client, listing):
    path = f"/listings/{listing.id}"
    alice = factories.make_user("buyer", name="甲用户")
    bob = factories.make_user("buyer", name="乙用户")
    db.session.commit()
    anonymous = client.get(path)
    login(client, alice)
    mine = client.get(path)
    assert mine.headers["Cache-Control"] == "private, no-cache"  # no shared cache keeps a signed-in page
    assert "甲用户" in mine.get_data(as_text=True)
    # Bob presents Alice's and the anonymous page's tags: he gets his own page, never a 304 for theirs
    login(client, bob)
    response = client.get(path, headers={"If-None-Match": f'{mine.headers["ETag"]}, {anonymous.headers["ETag"]}'})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "乙用户" in text and "甲用户" not in text
    # and an anonymous visitor presenting Alice's tag gets the anonymous page
    with client.session_transaction() as sess:
        sess.clear()
    response = client.get(path, headers={"If-None-Match": mine.headers["ETag"]})
    assert response.status_code == 200 and "甲用户" not in response.get_data(as_text=True)


def test_a_missing_listing_has_no_etag(client):
    response = client.get("/listings/999999")
    assert response.status_code == 404
    assert "ETag" not in response.headers


# --- static files ----------------------------------------------------------------------------------------------

def _fingerprint(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def test_static_urls_carry_the_files_fingerprint_and_live_a_year(app, client):
    page = client.get("/").get_data(as_text=True)
    css = re.search(r'href="(/static/css/app\.css\?v=([0-9a-f]{12}))"', page)
    assert css, "the stylesheet's URL is fingerprinted"
    assert css.group(2) == _fingerprint(Path(app.static_folder) / "css" / "app.css")
    response = client.get(css.group(1))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == f"public, max-age={STATIC_MAX_AGE}, immutable"
    response.close()
    for stale in ("/static/css/app.css", "/static/css/app.css?v=000000000000"):
        response = client.get(stale)  # an old or missing fingerprint: served, but revalidated every time
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-cache"
        response.close()


def test_a_changed_static_file_gets_a_new_url(app, tmp_path):
    folder = tmp_path / "static"
    shutil.copytree(app.static_folder, folder)
    app.static_folder = str(folder)
    with app.test_request_context():
        before = url_for("static", filename="css/app.css")
        (folder / "css" / "app.css").write_text((folder / "css" / "app.css").read_text() + "\n/* changed */\n")
        after = url_for("static", filename="css/app.css")
    assert before != after
    assert after.endswith("v=" + _fingerprint(folder / "css" / "app.css"))
    with app.test_request_context():
        assert url_for("static", filename="no/such/file.css") == "/static/no/such/file.css"
