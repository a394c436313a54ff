"""Issue 18's relevance rules, each allowed and refused, through the API and the page: synonyms and
abbreviations, zh↔en glossary, jieba's domain words, bounded expansion, exact matches first, partial
matches only when every word together finds nothing, stop-word queries."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.kernel.extensions import db
from search import analysis, synonyms
from search.build_glossary import derive
from search.service import parse_query
from tests import factories
from tests.search.conftest import ids, make_search_listing


@pytest.fixture
def corpus(app):
    seller = factories.make_user("seller")
    make = make_search_listing
    rows = {
        "li": make(seller, title="一种锂电池正极材料及其制备方法", number="201710600001.1"),
        "li_ion": make(seller, title="锂离子电池负极片", number="201710600002.1"),
        "graphene": make(seller, title="石墨烯散热膜及其制备方法", number="201710600003.1"),
        "graphene_en": make(seller, title="Graphene heat spreader for phones", number="201710600004.1"),
        "drone": make(seller, title="无人驾驶飞行器的折叠机臂", number="201710600005.1"),
        "pv": make(seller, title="太阳能电池板清洗装置", number="201710600006.1"),
        "kettle": make(seller, title="一种不锈钢水壶", number="201710600007.1"),
    }
    db.session.commit()
    return rows


# --- synonyms and abbreviations --------------------------------------------------------------------

def test_abbreviation_finds_the_full_form_and_says_so(search_api, client, corpus):
    body = search_api(q="锂电")
    assert set(ids(body)) == {corpus["li"].id, corpus["li_ion"].id}
    assert "锂离子电池" in body["also_searched"] and body["partial"] is False
    html = client.get("/search?q=锂电").get_data(as_text=True)
    assert "也搜索了：" in html and "<mark>锂离子电池</mark>负极片" in html and "<mark>锂电池</mark>正极" in html
    client.get("/lang/en")
    assert "Also searched: " in client.get("/search?q=锂电").get_data(as_text=True)


def test_unrelated_word_finds_nothing_and_expands_to_nothing(search_api, client, corpus):
    body = search_api(q="火星")
    assert body["total"] == 0 and body["also_searched"] == [] and body["partial"] is False
    html = client.get("/search?q=火星").get_data(as_text=True)
    assert "没有找到符合条件的挂牌" in html and "也搜索了" not in html and "部分匹配" not in html


def test_synonym_of_a_word_the_title_does_not_contain(search_api, corpus):
    assert ids(search_api(q="无人机")) == [corpus["drone"].id]
    assert ids(search_api(q="光伏")) == [corpus["pv"].id]
    assert ids(search_api(q="茶壶")) == []  # no table links 茶壶 and 水壶 (see the editing test below)


def test_exact_matches_rank_before_synonym_matches(search_api, corpus):
    assert ids(search_api(q="锂离子电池")) == [corpus["li_ion"].id, corpus["li"].id]
    assert ids(search_api(q="锂电池")) == [corpus["li"].id, corpus["li_ion"].id]


def test_quoted_phrase_is_not_expanded(search_api, corpus):
    body = search_api(q='"锂离子电池"')
    assert ids(body) == [corpus["li_ion"].id] and body["also_searched"] == []


def test_editing_the_table_needs_no_reindex(search_api, corpus, tmp_path, monkeypatch):
    assert analysis.query_words("茶壶") == ["茶壶"] and analysis.query_words("水壶") == ["水壶"]
    table = tmp_path / "synonyms.tsv"
    table.write_text("# test\n茶壶\t水壶\n", encoding="utf-8")
    monkeypatch.setattr(synonyms, "SYNONYMS", table)
    body = search_api(q="茶壶")
    assert ids(body) == [corpus["kettle"].id] and body["also_searched"] == ["水壶"]


# --- both languages ---------------------------------------------------------------------------------

def test_english_finds_chinese_and_the_reverse(search_api, client, corpus):
    body = search_api(q="graphene")
    assert ids(body)[0] == corpus["graphene_en"].id  # the exact word first
    assert set(ids(body)) == {corpus["graphene"].id, corpus["graphene_en"].id}
    assert "石墨烯" in body["also_searched"]
    assert set(ids(search_api(q="石墨烯"))) == {corpus["graphene"].id, corpus["graphene_en"].id}
    assert set(ids(search_api(q="Lithium batteries"))) == {corpus["li"].id, corpus["li_ion"].id}
    assert set(ids(search_api(q="drone"))) == {corpus["drone"].id}
    html = client.get("/search?q=graphene").get_data(as_text=True)
    assert "<mark>石墨烯</mark>散热膜" in html


def test_english_word_without_a_translation_stays_english(search_api, corpus):
    body = search_api(q="spreader")
    assert ids(body) == [corpus["graphene_en"].id] and body["also_searched"] == []


def test_jieba_knows_the_domain_words():
    assert analysis.query_words("石墨烯") == ["石墨烯"]
    assert analysis.query_words("无人驾驶飞行器") == ["无人驾驶飞行器"]
    assert analysis.query_words("锂离子电池") == ["锂离子电池"]
    assert analysis.query_words("一种的方法") == ["一种", "的", "方法"]  # ordinary text cut as before


def test_glossary_pairs_terms_not_whole_headings():
    rows = [{"code": "B01F", "title_zh": "混合，例如，溶解、乳化或分散", "title_en": "MIXING, e.g. DISSOLVING, EMULSIFYING, DISPERSING"},
            {"code": "A01", "title_zh": "农业；林业；畜牧业；狩猎", "title_en": "AGRICULTURE; FORESTRY; ANIMAL HUSBANDRY; HUNTING"},
            {"code": "X99", "title_zh": "一种；两种", "title_en": "ONE; TWO; THREE"}]  # pieces do not line up: nothing
    pairs = set(derive(rows))
    assert {("混合", "mixing"), ("溶解", "dissolving"), ("乳化", "emulsifying"), ("分散", "dispersing"),
            ("农业", "agriculture"), ("畜牧业", "animal husbandry")} <= pairs
    assert not any("；" in zh or ";" in en or "，" in zh for zh, en in pairs)
    assert not any(zh in ("一种", "两种") for zh, _en in pairs)


# --- bounds -------------------------------------------------------------------------------------------

def test_expansion_is_bounded(app, search_api, corpus):
    q = "锂电 光伏 无人机 石墨烯 机器人 区块链 人工智能 芯片"
    clauses, also = synonyms.expand(parse_query(q))
    assert len(also) <= synonyms.MAX_EXPANSIONS
    assert sum(len(c.alternatives) for c in clauses) <= synonyms.MAX_EXPANSIONS
    assert all(len(c.alternatives) <= synonyms.MAX_PER_TERM for c in clauses)
    app.config["SEARCH_MAX_EXPANSIONS"] = 1
    body = search_api(q="锂电")
    assert len(body["also_searched"]) == 1
    app.config["SEARCH_MAX_EXPANSIONS"] = 0
    body = search_api(q="锂电")
    # 锂电 itself is inside 锂电池 (a sub-word in the index), not inside 锂离子电池
    assert body["also_searched"] == [] and ids(body) == [corpus["li"].id]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.sampled_from(list("锂电池光伏无人机石墨烯 ab\"「」的一种 lithium")), max_size=200))
def test_any_query_expands_within_the_bound(app, q):
    clauses, also = synonyms.expand(parse_query(q), limit=synonyms.MAX_EXPANSIONS)
    assert len(also) <= synonyms.MAX_EXPANSIONS
    assert sum(len(c.alternatives) for c in clauses) <= synonyms.MAX_EXPANSIONS
    assert all(not c.alternatives for c in clauses if c.exact or c.number)


# --- partial matches -----------------------------------------------------------------------------------

def test_partial_matches_only_when_all_words_together_find_nothing(search_api, client, corpus):
    body = search_api(q="石墨烯 散热")  # one listing has both: no partial heading
    assert ids(body) == [corpus["graphene"].id] and body["partial"] is False
    assert "部分匹配" not in client.get("/search?q=石墨烯 散热").get_data(as_text=True)
    body = search_api(q="石墨烯 正极")  # none has both: the best partial matches, the flag set
    assert body["partial"] is True
    assert set(ids(body)) == {corpus["graphene"].id, corpus["graphene_en"].id, corpus["li"].id}
    html = client.get("/search?q=石墨烯 正极").get_data(as_text=True)
    assert "部分匹配" in html and "<mark>石墨烯</mark>散热膜" in html and "只搜“石墨烯”" in html
    client.get("/lang/en")
    assert "Partial matches" in client.get("/search?q=石墨烯 正极").get_data(as_text=True)


def test_partial_matches_rank_listings_with_more_words_first(search_api, corpus):
    body = search_api(q="锂离子电池 负极片 火星")
    assert body["partial"] is True
    assert ids(body)[0] == corpus["li_ion"].id  # two of three words, and the exact ones


def test_a_single_unmatched_word_gets_no_partial_matches(search_api, corpus):
    body = search_api(q="火星探测")  # 火星/探测: neither word matches, so there is nothing partial to show
    assert body["total"] == 0 and body["partial"] is False


# --- stop words ----------------------------------------------------------------------------------------

def test_only_stop_words_get_a_message(search_api, client, corpus):
    for q in ("的", "一种 的", "the of", "，。！"):
        body = search_api(q=q)
        assert body["total"] == 0 and body["results"] == [] and body["notice"], q
    html = client.get("/search?q=的").get_data(as_text=True)
    assert "只有常用词或标点" in html


def test_stop_words_beside_real_words_are_ignored(search_api, corpus):
    body = search_api(q="一种 石墨烯")  # the listing "石墨烯散热膜…" does not say 一种
    assert corpus["graphene"].id in ids(body) and body["partial"] is False and body["notice"] is None


# --- sort: auction ending soon ---------------------------------------------------------------------------

def test_sort_by_auction_ending_soon(app, search_api, client):
    from datetime import timedelta

    from marketplace.kernel.timeutil import utcnow

    seller = factories.make_user("seller")
    later = make_search_listing(seller, title="锂电池拍卖二", price_mode="auction", price=10_0000_00, age_days=3)
    sooner = make_search_listing(seller, title="锂电池拍卖一", price_mode="auction", price=10_0000_00, age_days=2)
    closed = make_search_listing(seller, title="锂电池拍卖已截止", price_mode="auction", price=10_0000_00, age_days=9)
    fixed = make_search_listing(seller, title="锂电池一口价", age_days=0)
    later.auction.ends_at = utcnow() + timedelta(days=3)
    sooner.auction.ends_at = utcnow() + timedelta(hours=5)
    closed.auction.ends_at = utcnow() - timedelta(hours=1)  # not yet closed by the deadline job: still published
    db.session.commit()
    assert ids(search_api(q="锂电池", sort="ending_soon")) == [sooner.id, later.id, fixed.id, closed.id]
    assert ids(search_api(sort="ending_soon"))[:2] == [sooner.id, later.id]
    html = client.get("/search?q=锂电池&sort=ending_soon").get_data(as_text=True)
    assert '<option value="ending_soon" selected>拍卖即将结束</option>' in html


def test_partial_matching_of_a_long_query_is_bounded(search_api, corpus, monkeypatch):
    from search import service

    seen = []
    original = service.query_index
    monkeypatch.setattr(service, "query_index", lambda handle, iq, **kw: seen.append(iq) or original(handle, iq, **kw))
    q = "石墨烯 " + " ".join(f"火星{i}" for i in range(40))  # 41 parts, only the first matches anything
    body = search_api(q=q[:service.MAX_QUERY_CHARS])
    assert body["partial"] is True and ids(body) == [corpus["graphene"].id, corpus["graphene_en"].id]
    partial = [iq for iq in seen if iq.match_any]
    assert len(partial) == 1 and len(partial[0].clauses) == service.MAX_PARTIAL_CLAUSES


def test_an_index_without_the_new_column_keeps_its_documents(app, search_api, corpus, tmp_path):
    """Adding the ``ends`` column must not empty an existing index (it used to be replaced by an empty one)."""
    from whoosh import index as whoosh_index

    from search import index as search_index
    from search.outbox import reindex

    path = tmp_path / "old-index"
    path.mkdir()
    old_schema = search_index.build_schema()
    old_schema.remove("ends")
    ix = whoosh_index.create_in(str(path), old_schema)
    writer = ix.writer()
    doc = search_index.listing_document(corpus["li"])
    doc.pop("ends")
    writer.add_document(**doc)
    writer.commit()
    handle = search_index.IndexHandle(str(path))
    snap = handle.snapshot()
    assert snap.doc_count == 1 and "ends" in handle.open().schema.names()
    with app.app_context():
        assert reindex(handle) == len(corpus)  # and it is writable with the new column
    assert handle.snapshot().doc_count == len(corpus)
