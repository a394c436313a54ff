"""The system's pre-score: concrete listings, concrete reasons."""
from datetime import timedelta

from listings import grading
from listings.models import Encumbrance
from marketplace.kernel.extensions import db
from tests import factories
from tests.grading.conftest import add_years


def by_key(items):
    return {item["key"]: item for item in items}


def test_every_indicator_once_in_rubric_order(patent_listing, trademark_listing):
    for listing in (patent_listing, trademark_listing):
        items = grading.propose(listing)
        assert [i["key"] for i in items] == grading.indicator_keys(listing.kind)
        for item in items:
            assert set(item) == {"key", "dimension", "label", "score", "reason", "needs_judgement"}
            assert item["reason"]
            assert item["needs_judgement"] is (item["score"] is None)
            assert item["score"] is None or 0 <= item["score"] <= 10


def test_patent_with_three_years_left(app, seller, today):
    listing = factories.make_listing(seller)
    right = listing.rights[0]
    right.filing_date = add_years(today, -17) + timedelta(days=10)  # invention: 20 years from filing
    db.session.flush()
    item = by_key(grading.propose(listing, today))["remaining_term"]
    assert item["score"] == 4
    assert "剩余保护期约 3.0 年" in item["reason"]
    assert "发明专利保护期 20 年" in item["reason"]


def test_lapsed_patent_scores_zero_for_term_and_stability(app, seller, today):
    listing = factories.make_listing(seller)
    listing.rights[0].legal_status = "lapsed"
    db.session.flush()
    items = by_key(grading.propose(listing, today))
    assert items["remaining_term"]["score"] == 0
    assert items["stability"]["score"] == 0 and "未缴年费失效" in items["stability"]["reason"]


def test_utility_model_stability_and_term(app, seller, today):
    listing = factories.make_listing(seller)
    right = listing.rights[0]
    right.patent_type = "utility_model"
    right.filing_date = add_years(today, -4)
    db.session.flush()
    items = by_key(grading.propose(listing, today))
    assert items["stability"]["score"] == 5 and "实用新型" in items["stability"]["reason"]
    assert items["remaining_term"]["score"] == 6  # 6 years left of 10
    assert "实用新型专利保护期 10 年" in items["remaining_term"]["reason"]


def test_pledged_patent(app, seller, today):
    listing = factories.make_listing(seller)
    listing.rights[0].encumbrances.append(Encumbrance(kind="pledge", party_name="某银行", source="operator"))
    db.session.flush()
    item = by_key(grading.propose(listing, today))["encumbrance"]
    assert item["score"] == 3
    assert "已质押" in item["reason"] and "质权人同意书" in item["reason"]
    listing.pledge_consent = "consent.pdf"
    db.session.flush()
    assert by_key(grading.propose(listing, today))["encumbrance"]["score"] == 6


def test_exclusive_licence_in_force(app, seller, today):
    listing = factories.make_listing(seller)
    listing.rights[0].encumbrances.append(Encumbrance(kind="licence", licence_type="exclusive", party_name="甲",
                                                      ends_on=today + timedelta(days=400), source="declared"))
    db.session.flush()
    item = by_key(grading.propose(listing, today))["encumbrance"]
    assert item["score"] == 4 and "独占许可有效至" in item["reason"]
    listing.rights[0].encumbrances[-1].ends_on = today - timedelta(days=1)  # expired licence is no burden
    db.session.flush()
    assert by_key(grading.propose(listing, today))["encumbrance"]["score"] == 10


def test_unencumbered_patent_family_and_claims(app, seller, today):
    listing = factories.make_listing(seller)
    listing.rights[0].family_countries = ["US", "ep", "CN"]
    listing.rights[0].claims_count = 16
    db.session.flush()
    items = by_key(grading.propose(listing, today))
    assert items["encumbrance"]["score"] == 10 and items["encumbrance"]["reason"] == "无质押，无在先独占许可"
    assert items["family"]["score"] == 7 and "EP、US" in items["family"]["reason"]
    assert items["design_around"]["score"] == 7 and "权利要求 16 项" in items["design_around"]["reason"]


def test_judgement_indicators_are_not_guessed(patent_listing):
    items = by_key(grading.propose(patent_listing))
    for key in ("advancement", "maturity", "breadth", "substitutability", "independence",
                "market_application", "market_size", "competition", "policy_fit"):
        assert items[key]["score"] is None and items[key]["needs_judgement"] is True
        assert items[key]["reason"].startswith("需人工判断")


def test_completeness_names_what_is_missing(app, seller):
    listing = factories.make_listing(seller)
    item = by_key(grading.propose(listing))["completeness"]
    # factory listing: short description, no abstract, licence terms missing for non-exclusive licence
    assert "详细描述" in item["reason"] and "摘要" in item["reason"] and "许可地域" in item["reason"]
    assert item["score"] == 5  # 3 of 6 facts given: deal types, IPC codes, claims count
    assert "3/6" in item["reason"]
    listing.description = "本发明提供一种锂电池正极材料。" * 10
    listing.rights[0].abstract = "一种正极材料，包含……"
    listing.license_territory, listing.license_field, listing.license_years = "中国大陆", "动力电池", 5
    db.session.flush()
    item = by_key(grading.propose(listing))["completeness"]
    assert item["score"] == 10 and "齐全" in item["reason"]


def test_trademark_in_three_classes(app, seller, today):
    listing = factories.make_listing(seller, kind="trademark")
    right = listing.rights[0]
    right.nice_classes = [9, 35, 42]
    right.similar_groups = ["0901", "0907", "3501", "4209"]
    right.goods = ["计算机程序", "计算机软件（已录制）", "广告", "软件设计"]
    right.registration_date = add_years(today, -2)
    right.disputes = 0
    right.use_evidence = True
    db.session.flush()
    items = by_key(grading.propose(listing, today))
    assert items["coverage"]["score"] == 8  # 3 classes 7, 4 groups +1
    assert "覆盖 3 个尼斯类别（第 9、35、42 类）、4 个类似群、4 项商品/服务" == items["coverage"]["reason"]
    assert items["registration_status"]["score"] == 10
    assert items["remaining_term"]["score"] == 10 and "可续展" in items["remaining_term"]["reason"]
    assert items["dispute_history"]["score"] == 10
    assert items["use_evidence"]["score"] == 8
    assert items["distinctiveness"]["needs_judgement"] is True


def test_trademark_unknowns_need_judgement_and_non_use_risk(app, seller, today):
    listing = factories.make_listing(seller, kind="trademark")
    right = listing.rights[0]
    items = by_key(grading.propose(listing, today))
    assert items["dispute_history"]["needs_judgement"] and items["use_evidence"]["needs_judgement"]
    right.use_evidence = False
    right.registration_date = add_years(today, -4)
    right.disputes = 2
    db.session.flush()
    items = by_key(grading.propose(listing, today))
    assert items["use_evidence"]["score"] == 1 and "撤三" in items["use_evidence"]["reason"]
    assert items["dispute_history"]["score"] == 4
    # registered 4 years ago: current period ends in 6 years
    assert items["remaining_term"]["score"] == 10


def test_trademark_renewal_due(app, seller, today):
    listing = factories.make_listing(seller, kind="trademark")
    listing.rights[0].registration_date = add_years(today, -10) + timedelta(days=100)
    db.session.flush()
    item = by_key(grading.propose(listing, today))["remaining_term"]
    assert item["score"] == 4 and "续展" in item["reason"]


def test_pending_trademark(app, seller, today):
    listing = factories.make_listing(seller, kind="trademark")
    listing.rights[0].tm_status = "opposed"
    db.session.flush()
    assert by_key(grading.propose(listing, today))["registration_status"]["score"] == 2


def test_portfolio_reads_rights_together(app, seller, today):
    from listings.models import Right

    listing = factories.make_listing(seller)
    first = listing.rights[0]
    first.filing_date = add_years(today, -18)  # 2 years left
    first.family_countries = ["US"]
    listing.rights.append(Right(kind="patent", number="201910012345.6", title="改进型正极材料",
                                patent_type="invention", filing_date=add_years(today, -5), claims_count=12,
                                legal_status="granted", family_countries=["JP"],
                                encumbrances=[Encumbrance(kind="pledge", party_name="某银行", source="operator")]))
    listing.rights.append(Right(kind="patent", number="200810012345.9", title="已失效的老专利",
                                patent_type="invention", filing_date=add_years(today, -1), legal_status="lapsed"))
    db.session.flush()
    items = by_key(grading.propose(listing, today))
    assert items["remaining_term"]["score"] == 10  # the longest live term (15 years); the lapsed one is ignored
    assert items["encumbrance"]["score"] == 3  # any pledge counts
    assert "JP、US" in items["family"]["reason"]
    assert items["stability"]["score"] == 0  # the weakest legal status: one right has lapsed
