"""Searching through the API: Chinese recall, phrases, numbers, filters, facets, sorting, paging, bad input."""
import pytest

from listings.models import Listing
from marketplace.kernel.extensions import db
from tests import factories
from tests.search.conftest import ids, make_search_listing


@pytest.fixture
def corpus(app):
    seller = factories.make_user("seller")
    make = make_search_listing
    rows = {
        "lithium": make(seller, title="一种锂电池正极材料及其制备方法", number="201710601862.3", grade="A",
                        price=50_0000_00, ipc_codes=["H01M 4/36"], region="shenzhen", age_days=5,
                        deal_types=["assignment", "exclusive_license"]),
        "pack": make(seller, title="电池组件散热结构", number="201820001111.2", grade="B", price=8_0000_00,
                     ipc_codes=["H01M 10/60"], patent_type="utility_model", region="guangzhou", age_days=3,
                     deal_types=["non_exclusive_license"]),
        "image": make(seller, title="一种基于深度学习的图像识别方法", number="201910002222.3", grade="A",
                      price=120_0000_00, ipc_codes=["G06V 10/82", "G06N 3/08"], region="shenzhen", age_days=1,
                      description="采用卷积神经网络，提高识别准确率。"),
        "face": make(seller, title="人脸识别门禁系统", number="202010003333.4", grade="C", price_mode="negotiable",
                     price=None, ipc_codes=["G06V 40/16"], region="dongguan", age_days=10,
                     deal_types=["sole_license"]),
        "english": make(seller, title="Lithium-ion batteries with solid electrolyte", number="202110004444.5",
                        grade=None, price=30_0000_00, ipc_codes=["H01M 10/0562"], region="zhuhai", age_days=2),
        "mark": make(seller, title="星河", kind="trademark", number="12345678", grade="B", price=5_0000_00,
                     nice_classes=[9, 42], goods=["计算机软件", "电池"], region="foshan", age_days=4),
        "mark2": make(seller, title="青禾", kind="trademark", number="23456789", grade="D", price_mode="auction",
                      price=2_0000_00, nice_classes=[30], goods=["茶", "咖啡"], region="shenzhen", age_days=6),
        "withdrawn": make(seller, title="已撤回的锂电池回收方法", number="201710009999.1", status="withdrawn"),
        "draft": make(seller, title="草稿中的电池管理系统", number="201710008888.1", status="draft"),
    }
    db.session.commit()
    return rows


def test_dian_chi_finds_lithium_battery_and_pack(search_api, corpus):
    found = ids(search_api(q="电池"))
    assert corpus["lithium"].id in found and corpus["pack"].id in found
    assert corpus["mark"].id in found  # its goods list 电池
    assert corpus["withdrawn"].id not in found and corpus["draft"].id not in found


def test_li_dian_chi_is_precise(search_api, corpus):
    assert ids(search_api(q="锂电池")) == [corpus["lithium"].id]


def test_shi_bie_finds_image_recognition(search_api, corpus):
    found = ids(search_api(q="识别"))
    assert set(found) == {corpus["image"].id, corpus["face"].id}
    assert ids(search_api(q="图像识别")) == [corpus["image"].id]


def test_quoted_phrase(search_api, corpus):
    assert ids(search_api(q='"图像识别方法"')) == [corpus["image"].id]
    assert ids(search_api(q="“图像识别方法”")) == [corpus["image"].id]  # Chinese quotes
    assert ids(search_api(q='"识别方法"')) == [corpus["image"].id]  # query cut differs from the title's cut
    assert ids(search_api(q='"方法图像识别"')) == []  # order matters in a phrase
    # the words alone, unquoted, match anywhere
    assert set(ids(search_api(q="方法 识别"))) == {corpus["image"].id}


def test_unbalanced_quote_runs_to_the_end(search_api, corpus):
    assert ids(search_api(q='"图像识别')) == [corpus["image"].id]
    assert ids(search_api(q='图像识别"')) == [corpus["image"].id]


def test_words_are_anded_and_mixed_languages_work(search_api, corpus):
    assert ids(search_api(q="电池 散热")) == [corpus["pack"].id]
    # Issue 18: 电池 also searches "battery" and 电解质 "electrolyte" (the zh↔en glossary), so the English
    # listing has both words of these mixed queries; no listing has both words of "lithium 散热".
    body = search_api(q="lithium 电池")
    assert ids(body) == [corpus["english"].id] and body["partial"] is False
    assert "battery" in body["also_searched"]
    assert ids(search_api(q="solid 电解质")) == [corpus["english"].id]
    body = search_api(q="lithium 散热")
    assert body["partial"] is True and set(ids(body)) == {corpus["english"].id, corpus["pack"].id}
    # The exact word ranks first; the Chinese listings come through the translation 电池.
    assert ids(search_api(q="Battery"))[0] == corpus["english"].id
    assert ids(search_api(q="electrolytes")) == [corpus["english"].id]


def test_description_matches_and_is_shown_as_snippet(search_api, corpus):
    body = search_api(q="卷积神经网络")
    assert ids(body) == [corpus["image"].id]
    assert "<mark>" in body["results"][0]["snippet"]


@pytest.mark.parametrize("spelling", ["201710601862.3", "ZL201710601862.3", "CN 2017 1 0601862.3",
                                      "CN201710601862.3", "2017106018623", "201710601862"])
def test_patent_number_in_any_spelling(search_api, corpus, spelling):
    assert ids(search_api(q=spelling)) == [corpus["lithium"].id]


def test_trademark_registration_number(search_api, corpus):
    assert ids(search_api(q="12345678")) == [corpus["mark"].id]
    assert ids(search_api(q="星河 12345678")) == [corpus["mark"].id]
    body = search_api(q="青禾 12345678")  # no listing has both: the partial matches, flagged as such
    assert body["partial"] is True and set(ids(body)) == {corpus["mark"].id, corpus["mark2"].id}


def test_highlight_marks_matches_and_escapes_the_rest(app, search_api):
    listing = make_search_listing(title='<script>alert("x")</script> 锂电池 & 电容')
    db.session.commit()
    result = search_api(q="电池")["results"][0]
    assert result["id"] == listing.id
    assert "<script>" not in result["highlight"]
    assert "&lt;script&gt;" in result["highlight"]
    assert "锂<mark>电池</mark>" in result["highlight"]
    assert "&amp;" in result["highlight"]


def test_empty_query_browses_everything_published_newest_first(search_api, corpus):
    body = search_api()
    published = [r for r in corpus.values() if r.status == "published"]
    assert body["total"] == len(published)
    expected = [r.id for r in sorted(published, key=lambda r: r.published_at, reverse=True)]
    assert ids(body) == expected


# --- filters ----------------------------------------------------------------------

FILTER_CASES = [
    ({"kind": "trademark"}, {"mark", "mark2"}),
    ({"kind": "patent"}, {"lithium", "pack", "image", "face", "english"}),
    ({"grade": "A"}, {"lithium", "image"}),
    ({"grade": "A,B"}, {"lithium", "image", "pack", "mark"}),
    ({"patent_type": "utility_model"}, {"pack"}),
    ({"ipc": "H"}, {"lithium", "pack", "english"}),
    ({"ipc": "G06"}, {"image", "face"}),
    ({"ipc": "G06N"}, {"image"}),
    ({"ipc": "H01M 4/36"}, {"lithium"}),
    ({"ipc": "h01m4/36"}, {"lithium"}),
    ({"nice_class": "9"}, {"mark"}),
    ({"nice_class": "30"}, {"mark2"}),
    ({"deal_type": "exclusive_license"}, {"lithium"}),
    ({"deal_type": "sole_license"}, {"face"}),
    ({"price_mode": "negotiable"}, {"face"}),
    ({"price_mode": "auction"}, {"mark2"}),
    ({"price_min": str(30_0000_00)}, {"lithium", "image", "english"}),
    ({"price_max": str(8_0000_00)}, {"pack", "mark", "mark2"}),
    ({"price_min": str(8_0000_00), "price_max": str(30_0000_00)}, {"pack", "english"}),
    ({"region": "shenzhen"}, {"lithium", "image", "mark2"}),
    ({"region": "shenzhen", "kind": "patent", "grade": "A"}, {"lithium", "image"}),
]


@pytest.mark.parametrize(("filters", "expected"), FILTER_CASES)
def test_each_filter(search_api, corpus, filters, expected):
    body = search_api(**filters)
    assert set(ids(body)) == {corpus[k].id for k in expected}
    assert body["total"] == len(expected)


def test_filter_with_text(search_api, corpus):
    # 电池 also finds "batteries" (cross-language, issue 18)
    assert set(ids(search_api(q="电池", kind="patent"))) == {corpus["lithium"].id, corpus["pack"].id,
                                                           corpus["english"].id}
    assert ids(search_api(q="电池", grade="B", kind="trademark")) == [corpus["mark"].id]


# --- facets -------------------------------------------------------------------------

def _db_facets(listings):
    """Facet counts computed straight from the database rows."""
    facets = {"kind": {}, "grade": {}, "nice_class": {}, "ipc_section": {}, "deal_type": {}}

    def bump(name, key):
        facets[name][key] = facets[name].get(key, 0) + 1

    for listing in listings:
        bump("kind", listing.kind)
        if listing.grade:
            bump("grade", listing.grade)
        for deal_type in listing.deal_types:
            bump("deal_type", deal_type)
        sections = {code[0] for r in listing.rights for code in (r.ipc_codes or [])}
        for section in sections:
            bump("ipc_section", section)
        classes = {int(c) for r in listing.rights for c in (r.nice_classes or [])}
        for cls in classes:
            bump("nice_class", str(cls))
    return facets


@pytest.mark.parametrize("params", [{}, {"q": "电池"}, {"q": "识别"}, {"kind": "trademark"}, {"region": "shenzhen"},
                                    {"q": "电池", "grade": "A,B"}])
def test_facet_counts_equal_the_database(search_api, corpus, params):
    body = search_api(**params)
    hits = db.session.query(Listing).filter(Listing.id.in_(ids(search_api(per_page=100, **params)))).all()
    assert all(h.status == "published" for h in hits)
    assert body["facets"] == _db_facets(hits)
    assert body["total"] == len(hits)


def test_facet_count_for_the_whole_catalogue_matches_sql(search_api, corpus):
    facets = search_api()["facets"]
    published = db.session.query(Listing).filter_by(status="published")
    assert facets["kind"]["patent"] == published.filter_by(kind="patent").count()
    assert facets["kind"]["trademark"] == published.filter_by(kind="trademark").count()
    assert facets["grade"]["A"] == published.filter_by(grade="A").count()


# --- sorting and paging ---------------------------------------------------------------

def test_sort_by_price(search_api, corpus):
    asc = search_api(sort="price_asc")["results"]
    prices = [r["price"] for r in asc]
    priced = [p for p in prices if p is not None]
    assert priced == sorted(priced)
    assert prices[-1] is None  # 面议 without a price comes last
    desc = [r["price"] for r in search_api(sort="price_desc")["results"]]
    assert [p for p in desc if p is not None] == sorted(priced, reverse=True)
    assert desc[-1] is None


def _priced_apart(seller=None):
    """Offered for assignment at ¥2,600,000 and for a non-exclusive licence at ¥500,000 (deal_prices)."""
    listing = make_search_listing(seller, title="一种储能电池热管理方法", price=260_0000_00,
                                  deal_types=["assignment", "non_exclusive_license"])
    listing.deal_prices = {"non_exclusive_license": 50_0000_00}
    db.session.commit()
    return listing


def test_price_filter_reads_the_price_of_the_chosen_deal_type(search_api, corpus):
    both = _priced_apart()
    licence = {"deal_type": "non_exclusive_license"}
    # the licence is in the range, the assignment (the listing's price) is not
    assert both.id in ids(search_api(**licence, price_max=str(60_0000_00)))
    assert both.id not in ids(search_api(deal_type="assignment", price_max=str(60_0000_00)))
    assert both.id not in ids(search_api(price_max=str(60_0000_00)))  # no deal type: the listing's price
    assert both.id in ids(search_api(deal_type="assignment", price_min=str(200_0000_00)))
    assert both.id not in ids(search_api(**licence, price_min=str(200_0000_00)))
    # a listing without a price of its own for the type is filtered by its price; 面议 never meets a range
    found = set(ids(search_api(**licence, price_min="1")))
    assert found == {both.id, corpus["pack"].id}
    assert corpus["face"].id not in ids(search_api(deal_type="sole_license", price_min="1"))


def test_sort_by_price_reads_the_price_of_the_chosen_deal_type(search_api, corpus):
    both = _priced_apart()
    order = ids(search_api(deal_type="non_exclusive_license", sort="price_desc"))
    assert order == [both.id, corpus["pack"].id]  # ¥500,000 before ¥80,000
    order = ids(search_api(deal_type="assignment", sort="price_asc"))
    assert order.index(corpus["lithium"].id) < order.index(both.id)  # ¥500,000 before ¥2,600,000
    result = search_api(deal_type="non_exclusive_license")["results"]
    prices = next(r for r in result if r["id"] == both.id)["prices"]
    assert {p["deal_type"]: p["price"] for p in prices} == {"assignment": 260_0000_00,
                                                             "non_exclusive_license": 50_0000_00}


def test_sort_newest_and_grade(search_api, corpus):
    newest = ids(search_api(sort="newest"))
    assert newest[0] == corpus["image"].id and newest[-1] == corpus["face"].id
    grades = [r["grade"] for r in search_api(sort="grade")["results"]]
    graded = [g for g in grades if g]
    assert graded == sorted(graded)
    assert grades[-1] is None


def test_relevance_puts_title_matches_first(app, search_api):
    title_hit = make_search_listing(title="石墨烯导热膜", description="")
    body_hit = make_search_listing(title="一种散热装置", description="其中使用石墨烯材料")
    db.session.commit()
    assert ids(search_api(q="石墨烯")) == [title_hit.id, body_hit.id]


def test_paging(search_api, corpus):
    everything = ids(search_api(per_page=100))
    first = search_api(per_page=3, page=1)
    second = search_api(per_page=3, page=2)
    assert first["total"] == second["total"] == len(everything)
    assert ids(first) + ids(second) == everything[:6]
    beyond = search_api(per_page=3, page=50)
    assert beyond["results"] == [] and beyond["total"] == len(everything) and beyond["page"] == 50


# --- bad input ----------------------------------------------------------------------------

@pytest.mark.parametrize(("params", "field"), [
    ({"q": "电" * 201}, "q"),
    ({"kind": "software"}, "kind"),
    ({"grade": "E"}, "grade"),
    ({"nice_class": "46"}, "nice_class"),
    ({"nice_class": "nine"}, "nice_class"),
    ({"ipc": "Z99"}, "ipc"),
    ({"deal_type": "rent"}, "deal_type"),
    ({"region": "atlantis"}, "region"),
    ({"sort": "random"}, "sort"),
    ({"page": "0"}, "page"),
    ({"page": "abc"}, "page"),
    ({"page": "100000"}, "page"),
    ({"per_page": "1000"}, "per_page"),
    ({"price_min": "-5"}, "price_min"),
    ({"price_min": "100", "price_max": "50"}, "price_max"),
])
def test_bad_input_is_a_clear_422(client, corpus, params, field):
    response = client.get("/api/v1/search", query_string=params)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"]


@pytest.mark.parametrize("q", ['"', '""', '"""', "「", "***", "()", "AND OR NOT", "\\", "%", "电池\x00", "   ",
                               "a" * 200, "-电池", "电池*", "title:电池"])
def test_odd_queries_never_fail(client, corpus, q):
    response = client.get("/api/v1/search", query_string={"q": q})
    assert response.status_code == 200
    assert "results" in response.get_json()


def test_search_on_an_empty_index(search_api, app):
    body = search_api(q="电池")
    assert body == {"total": 0, "page": 1, "per_page": 20, "results": [],
                    "facets": {"kind": {}, "grade": {}, "nice_class": {}, "ipc_section": {}, "deal_type": {}},
                    "also_searched": ["battery"], "partial": False, "notice": None}


def test_snippets_show_words_not_markdown():
    from search.service import plain_text

    text = plain_text("## 技术优势\n- 能量密度**提升 30%**\n* 循环寿命长\n1. 成本低\n2) 易量产\n区间 3-5 年")
    assert text == "技术优势\n能量密度提升 30%\n循环寿命长\n成本低\n易量产\n区间 3-5 年"


def test_each_result_says_when_its_right_ends_as_the_register_does(search_api, corpus):
    """Issue 18 (session 8): the search row computes the term from the row's values, not a transient ``Right``;
    a patent (by filing date and type), a trademark (by registration) and a pending application (none)."""
    lithium, mark = corpus["lithium"], corpus["mark"]
    pending = make_search_listing(title="一种待审的钠电池隔膜", number="202310005555.1")
    pending.rights[0].legal_status = "pending"
    db.session.commit()
    by_id = {r["id"]: r for r in search_api(q="电池")["results"] + search_api(q="星河")["results"]}
    assert by_id[lithium.id]["term_end"] == lithium.rights[0].term_end().isoformat()
    assert by_id[mark.id]["term_end"] == mark.rights[0].term_end().isoformat()
    assert lithium.rights[0].term_end().year == lithium.rights[0].filing_date.year + 20  # an invention: 20 years
    assert by_id[pending.id]["term_end"] is None and by_id[pending.id]["right_status"] == "pending"


def test_json_columns_decoded_once_are_never_shared_between_results():
    """Issue 18 (session 8): a search row's JSON texts (SQLite) are decoded through a small cache; what one result
    does with its list cannot change the next result's, and unreadable text reads as nothing, as before."""
    from search.service import _as_list, _json_value

    first = _as_list('["H01M 4/36", "G06F"]')
    first.append("changed")
    assert _as_list('["H01M 4/36", "G06F"]') == ["H01M 4/36", "G06F"]
    prices = _json_value('{"assignment": 26000000}')
    with pytest.raises(TypeError):
        prices["assignment"] = 1
    assert _json_value('{"assignment": 26000000}')["assignment"] == 26000000
    assert _as_list("not json") == [] and _json_value("not json") is None and _as_list("null") == []
    assert _as_list(["H01M"]) == ["H01M"] and _json_value({"a": 1}) == {"a": 1}  # PostgreSQL: already decoded


def test_a_bundle_shows_every_holder_once_its_first_right_and_every_right_text(search_api, app):
    """Issue 18 (session 8): the rights, their texts and their holders come from one read; co-owners in register
    order, a holder of two rights once, the first right's spec line, every right counted, a right without holders."""
    from listings.models import Right, RightHolder

    bundle = make_search_listing(title="一种钠离子电池负极材料", age_days=1)
    first = bundle.rights[0]
    first.holders = [RightHolder(holder_type="outside", name="甲公司", position=0),
                     RightHolder(holder_type="outside", name="乙公司", position=1)]
    second = Right(kind="patent", number=factories.unique_patent_number(9_100_001), title="钠电池集流体",
                   patent_type="utility_model", legal_status="granted", abstract="一种铝箔集流体，用于钠离子电池。",
                   holders=[RightHolder(holder_type="outside", name="乙公司", position=0),
                            RightHolder(holder_type="outside", name="丙公司", position=1)])
    bundle.rights.append(second)
    lone = make_search_listing(title="一种钠离子电池电解液", age_days=2)
    lone.rights[0].holders = []
    db.session.commit()
    by_id = {r["id"]: r for r in search_api(q="钠离子电池")["results"]}
    assert by_id[bundle.id]["holders"] == ["甲公司", "乙公司", "丙公司"]
    assert by_id[bundle.id]["rights_count"] == 2 and by_id[bundle.id]["number"] == first.number
    assert by_id[lone.id]["holders"] == [] and by_id[lone.id]["rights_count"] == 1
    found = search_api(q="铝箔")["results"]
    assert [r["id"] for r in found] == [bundle.id]
    assert "<mark>铝箔</mark>集流体" in found[0]["snippet"]  # the second right's abstract
