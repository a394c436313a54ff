"""The standing pages (marketplace.web.sitepages): help, trading rules, contact, user agreement, privacy policy, in
Chinese and English, linked from every page's footer; the numbers they quote come from the settings."""
import pytest

from marketplace.kernel.legal import TERMS_VERSION

PAGES = {"/help": ("帮助中心", "Help centre"), "/rules": ("交易规则", "Trading rules"),
         "/contact": ("联系我们", "Contact us"), "/terms": ("用户协议", "User agreement"),
         "/privacy-policy": ("隐私政策", "Privacy policy")}


@pytest.mark.parametrize("path", PAGES)
def test_each_page_in_chinese_and_english(client, path):
    zh, en = PAGES[path]
    page = client.get(path).get_data(as_text=True)
    assert f"<h1>{zh}</h1>" in page
    english = client.get(path + "?lang=en").get_data(as_text=True)
    assert f"<h1>{en}</h1>" in english and f"<h1>{zh}</h1>" not in english


@pytest.mark.parametrize("path", ["/", "/login", "/help", "/search?q=x"])
def test_the_footer_links_every_standing_page(client, path):
    page = client.get(path).get_data(as_text=True)
    footer = page.split('<footer class="site-footer">')[1]
    for target in PAGES:
        assert f'href="{target}"' in footer, target


@pytest.fixture
def app_config():
    return {"PLATFORM_FEE_BPS": 450, "INSPECTION_DAYS": 21, "SUPPORT_EMAIL": "help@example.cn"}


def test_the_help_page_reads_the_fee_and_deadlines_from_the_settings(client):
    page = client.get("/help").get_data(as_text=True)
    assert "<strong>4.5%</strong>" in page
    assert "服务费 ¥4,500，卖家实收 ¥95,500" in page  # escrow.fees.quote of ¥10万 at the setting's rate
    assert "21 天" in page
    rules = client.get("/rules").get_data(as_text=True)
    assert "21 天" in rules and "4.5%" in rules
    assert "help@example.cn" in client.get("/contact").get_data(as_text=True)


def test_the_documents_carry_the_version_consent_records(client):
    for path in ("/terms", "/privacy-policy", "/terms?lang=en", "/privacy-policy?lang=en"):
        assert TERMS_VERSION in client.get(path).get_data(as_text=True)


def test_the_privacy_policy_links_the_users_rights(client):
    page = client.get("/privacy-policy").get_data(as_text=True)
    assert 'href="/account/privacy/export"' in page and 'href="/account/privacy"' in page
    for word in ("保存多久", "查阅、复制", "删除与注销账号", "撤回同意"):
        assert word in page
