"""The pages of this area read in English when English is chosen (every Chinese msgid has a translation)."""
from marketplace.kernel.extensions import db
from marketplace.kernel.notify import notify
from tests import factories

# The catalogue's completeness (every Chinese msgid translated, once) is tests/marketplace/test_i18n.py.


def test_pages_in_english(client, as_user, operator, seller):
    factories.make_listing(seller)
    notify(seller, "credit", "x")
    db.session.commit()
    html = client.get("/stats?lang=en").get_data(as_text=True)
    assert "Market statistics" in html and "By patent type" in html and "Invention" in html
    as_user(operator)
    html = client.get("/operator/?lang=en").get_data(as_text=True)
    assert "Operator console" in html and "Deals under watch" in html
    as_user(seller)
    html = client.get("/notifications?lang=en").get_data(as_text=True)
    assert "Notifications" in html and "Credit records" in html
    html = client.get("/account/organization?lang=en").get_data(as_text=True)
    assert "Upload business licence" in html
