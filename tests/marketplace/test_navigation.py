"""The header and the account page lead to every page a role needs (found by the real-browser deal journey)."""


def test_a_seller_only_account_finds_its_deals_in_the_header(client, as_user, seller):
    assert "buyer" not in seller.roles
    as_user(seller)
    header = client.get("/").get_data(as_text=True).split("</header>")[0]
    assert 'href="/deals"' in header
    assert "我的交易" in header


def test_a_buyer_finds_its_deals_and_an_anonymous_visitor_does_not(client, as_user, buyer):
    assert 'href="/deals"' not in client.get("/").get_data(as_text=True)
    as_user(buyer)
    assert 'href="/deals"' in client.get("/").get_data(as_text=True).split("</header>")[0]


def test_the_account_page_links_to_the_organisations_verification_page(client, as_user, seller, buyer):
    as_user(seller)
    page = client.get("/account/credit").get_data(as_text=True)
    assert 'href="/account/organization"' in page
    assert seller.organization.name in page
    as_user(buyer)  # no organisation: nothing to verify
    assert 'href="/account/organization"' not in client.get("/account/credit").get_data(as_text=True)
