"""The /search page: results, facet sidebar, sort, paging, browsing, suggestions, saving a search."""
import pytest

from marketplace.kernel.extensions import db
from search.models import SavedSearch
from tests import factories
from tests.probes import nothing_changes
from tests.search.conftest import make_search_listing


@pytest.fixture
def catalogue(app):
    seller = factories.make_user("seller")
    rows = [make_search_listing(seller, title=f"一种锂电池正极材料{i}", grade="A" if i % 2 else "B",
                                number=f"2017106{i:05d}.1") for i in range(25)]
    rows.append(make_search_listing(seller, title="星河", kind="trademark", nice_classes=[9], number="12345678"))
    db.session.commit()
    return rows


def test_results_with_facets_and_highlight(client, catalogue):
    html = client.get("/search?q=电池").get_data(as_text=True)
    assert "锂<mark>电池</mark>正极材料" in html
    assert 'id="facet-kind"' in html and 'id="facet-grade"' in html and 'id="facet-ipc_section"' in html
    assert "25" in html
    assert 'rel="next"' in html  # 25 results, 20 a page


def test_empty_query_browses(client, catalogue):
    html = client.get("/search").get_data(as_text=True)
    assert "共 26 条挂牌" in html


def test_facet_link_filters(client, catalogue):
    html = client.get("/search?kind=trademark").get_data(as_text=True)
    assert "星河" in html and "锂电池正极材料" not in html
    assert 'aria-current="true"' in html


def test_sort_and_page_two(client, catalogue):
    response = client.get("/search?q=电池&sort=price_asc&page=2")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'aria-current="page">2<' in html


def test_nothing_found_gives_suggestions(client, catalogue):
    html = client.get("/search?q=电池&kind=trademark&grade=A").get_data(as_text=True)
    assert "没有找到符合条件的挂牌" in html
    assert "去掉筛选条件" in html
    html = client.get("/search?q=电池 火箭").get_data(as_text=True)
    assert "只搜“电池”" in html
    html = client.get("/search?q=电池 火箭&kind=trademark").get_data(as_text=True)
    assert "只搜“电池”，不加筛选" in html  # the word alone finds nothing among trademarks either


def test_active_filters_are_listed_with_remove_links(client, catalogue):
    html = client.get("/search?q=电池&kind=trademark&price_min=100000").get_data(as_text=True)
    assert "当前筛选" in html
    assert "类型：商标" in html
    assert "/search?q=%E7%94%B5%E6%B1%A0&amp;price_min=100000" in html  # removing kind keeps the rest


def test_bad_arguments_are_dropped_with_a_note(client, catalogue):
    response = client.get("/search?q=电池&kind=software&page=0&nice_class=99")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "已忽略参数 kind" in html and "已忽略参数 page" in html
    assert "锂<mark>电池</mark>" in html


def test_long_query_is_cut_not_refused(client, catalogue):
    response = client.get("/search", query_string={"q": "电池" + "x" * 300})
    assert response.status_code == 200
    assert "搜索词过长" in response.get_data(as_text=True)


def test_page_past_the_end_shows_the_last_page(client, catalogue):
    html = client.get("/search?q=电池&page=9").get_data(as_text=True)
    assert 'aria-current="page">2<' in html


def test_save_button_only_for_signed_in_users(client, catalogue, buyer, as_user):
    assert "保存此搜索" not in client.get("/search?q=电池").get_data(as_text=True)
    as_user(buyer)
    assert "保存此搜索" in client.get("/search?q=电池").get_data(as_text=True)
    response = client.post("/search/save", data={"q": "电池", "kind": "patent"})
    assert response.status_code == 302
    row = db.session.query(SavedSearch).filter_by(user_id=buyer.id).one()
    assert row.q == "电池" and row.filters == {"kind": "patent"}
    html = client.get("/search?q=电池&kind=patent").get_data(as_text=True)
    assert "已保存此搜索" in html
    saved_page = client.get("/search/saved").get_data(as_text=True)
    assert "电池" in saved_page
    assert client.post(f"/search/saved/{row.id}/delete").status_code == 302
    assert db.session.query(SavedSearch).count() == 0


def test_saving_needs_sign_in(client, catalogue):
    response = client.post("/search/save", data={"q": "电池"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]


class TestCsrf:
    @pytest.fixture
    def app_config(self):
        return {"WTF_CSRF_ENABLED": True}

    def test_save_requires_csrf(self, client, catalogue, buyer, as_user):
        as_user(buyer)
        with nothing_changes():  # no saved search
            assert client.post("/search/save", data={"q": "电池"}).status_code == 400


def test_english_page(client, catalogue):
    html = client.get("/search?q=电池&lang=en").get_data(as_text=True)
    assert "Results for “电池”: " in html and "Quality grade" in html
