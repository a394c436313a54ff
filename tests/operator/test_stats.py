"""Market statistics: the numbers equal what the database holds, and nothing private leaks."""
import csv
import io
import re
from datetime import datetime, timedelta

import pytest

from listings.models import Listing
from marketplace.kernel.extensions import db
from marketplace.web import stats
from tests import factories
from tests.operator.conftest import make_deal

PRIVATE_PRICE = 987_654_32  # ¥98.77万: a negotiated price nobody else may read off the page


@pytest.fixture
def market(app, operator):
    seller = factories.make_user("seller", org=factories.make_org(name="广州隐秘科技有限公司", region="guangzhou"))
    seller2 = factories.make_user("seller", org=factories.make_org(region="foshan"))
    buyer = factories.make_user("buyer", name="买家张三", email="zhangsan@buyer.example")
    make = factories.make_listing
    a = make(seller, grade="A", grade_score=88.0)
    a.rights[0].ipc_codes = ["H01M 4/36", "H01M 10/05", "C01B 32/05"]  # counts once for H, once for C
    b = make(seller, status="reserved", grade="B", grade_score=75.0)
    b.rights[0].patent_type = "utility_model"
    b.rights[0].ipc_codes = ["A61B 5/00"]
    c = make(seller2, status="sold")
    c.rights[0].patent_type = "design"
    c.rights[0].ipc_codes = None
    c.rights[0].locarno_class = "14-02"
    t = make(seller2, kind="trademark", number="23456789")
    t.rights[0].nice_classes = [9, 42]
    t2 = make(seller2, kind="trademark", number="34567890")
    t2.rights[0].nice_classes = [9]
    make(seller, status="draft", title="草稿挂牌不应出现在公开统计")
    make(seller, status="pending_review")
    make(seller, status="rejected")
    # deals: March 2026 has one (value hidden), April three (value shown)
    march = datetime(2026, 3, 10, 4, 0)
    april = datetime(2026, 4, 2, 4, 0)
    make_deal(b, buyer, state="funded", price=PRIVATE_PRICE, created_at=march, funded_after=timedelta(days=1))
    make_deal(c, buyer, state="completed", price=300_000_00, created_at=april, deal_type="non_exclusive_license",
              funded_after=timedelta(days=1), recorded_after=timedelta(days=41))
    make_deal(c, buyer, state="completed", price=200_000_00, created_at=april + timedelta(days=3),
              funded_after=timedelta(days=2), recorded_after=timedelta(days=22))
    make_deal(c, buyer, state="transfer_filed", price=100_000_00, created_at=april + timedelta(days=5))
    make_deal(c, buyer, state="awaiting_payment", price=555_555_55, created_at=april)  # not paid: not counted
    make_deal(c, buyer, state="cancelled", price=444_444_44, created_at=april)
    make_deal(c, buyer, state="refunded", price=333_333_33, created_at=april)
    db.session.commit()
    return {"seller": seller, "buyer": buyer, "listings": [a, b, c, t, t2]}


def _db_count(**filters):
    q = db.session.query(Listing).filter(Listing.status.in_(stats.PUBLIC_LISTING_STATUSES))
    return q.filter_by(**filters).count()


def test_listing_numbers_equal_database_counts(market):
    data = stats.public_stats()
    listings = data["listings"]
    assert data["listings_total"] == db.session.query(Listing).filter(
        Listing.status.in_(("published", "reserved", "sold"))).count() == 5
    assert dict(listings["kind"]) == {"patent": _db_count(kind="patent"), "trademark": _db_count(kind="trademark")}
    assert dict(listings["kind"]) == {"patent": 3, "trademark": 2}
    assert dict(listings["patent_type"]) == {"invention": 1, "utility_model": 1, "design": 1}
    assert dict(listings["ipc_section"]) == {"A": 1, "C": 1, "H": 1}
    assert dict(listings["nice_class"]) == {9: 2, 42: 1}
    assert dict(listings["region"]) == {"guangzhou": _db_count(region="guangzhou"),
                                        "foshan": _db_count(region="foshan")}
    assert dict(listings["grade"]) == {"A": 1, "B": 1, None: 3}


def test_deal_numbers(market):
    deals = stats.public_stats()["deals"]
    assert deals["count"] == 4  # paid deals only
    assert deals["by_month"] == [
        {"month": "2026-03", "count": 1, "value": None},  # one deal: its price stays private
        {"month": "2026-04", "count": 3, "value": 600_000_00},
    ]
    assert deals["value_shown"] == 600_000_00 and deals["months_suppressed"] == 1
    assert {t["deal_type"]: t["count"] for t in deals["by_type"]} == {"assignment": 3, "non_exclusive_license": 1}
    assert all(t["value"] is None for t in deals["by_type"])


def test_recordal_time_from_events(market):
    recordal = stats.public_stats()["recordal"]
    assert recordal["count"] == 2
    assert recordal["median_days"] == 30.0  # (40 + 20) / 2
    assert recordal["mean_days"] == 30.0
    assert dict(recordal["buckets"])["≤30"] == 1 and dict(recordal["buckets"])["31–60"] == 1


def test_public_page_shows_the_numbers_and_nothing_private(client, market):
    r = client.get("/stats")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert 'id="stat-listings-total">5<' in html and 'id="stat-deals-total">4<' in html
    assert "¥60万" in html  # April's value
    for secret in ("98.77万", "987,654.32", "987654.32", "55.56万", "广州隐秘科技有限公司", "买家张三", "zhangsan",
                   "草稿挂牌", market["listings"][0].title):
        assert secret not in html, secret
    assert "<script" not in html.split("<main", 1)[1].split("</main>", 1)[0]
    assert "不公开" in html


def test_public_csv_has_aggregates_only(client, market):
    r = client.get("/stats.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    text = r.get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text)))
    by = {(row["dimension"], row["key"]): row for row in rows}
    assert by[("kind", "patent")]["count"] == "3"
    assert by[("nice_class", "9")]["count"] == "2"
    assert by[("deal_month", "2026-03")]["value_cny"] == ""
    assert by[("deal_month", "2026-04")]["value_cny"] == "600000.00"
    for secret in ("987654.32", "广州隐秘科技有限公司", "买家张三", "organization"):
        assert secret not in text


def test_operator_view_has_more(client, as_user, operator, market):
    as_user(operator)
    html = client.get("/operator/stats").get_data(as_text=True)
    assert "广州隐秘科技有限公司" in html and "¥98.77万" in html
    data = stats.operator_stats()
    assert data["listings_total"] == db.session.query(Listing).count() == 8
    assert dict(data["listings"]["status"])["draft"] == 1
    assert dict(data["deal_states"]) == {"funded": 1, "transfer_filed": 1, "completed": 2, "awaiting_payment": 1,
                                         "cancelled": 1, "refunded": 1}
    org = next(o for o in data["organizations"] if o["name"] == "广州隐秘科技有限公司")
    assert org["deals_sold"] == 1 and org["value_sold"] == PRIVATE_PRICE and org["listings_other"] == 3
    text = client.get("/operator/stats.csv").get_data(as_text=True)
    assert "广州隐秘科技有限公司" in text and "987654.32" in text


def test_charts_are_inline_svg_without_script_or_inline_style(client, market):
    r = client.get("/stats")
    html = r.get_data(as_text=True)
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" id="chart-stats-') >= 6
    assert ('role="img" aria-labelledby="chart-stats-kind-title" aria-describedby="chart-stats-kind-desc"' in html
            and '<title id="chart-stats-kind-title">挂牌类型</title>' in html)
    body = html.split("<main", 1)[1].split("</main>")[0]
    assert "<style" not in body and " style=" not in body and "<script" not in body
    assert "style-src 'self'" in r.headers["Content-Security-Policy"]
    assert "charts.css" not in html  # the look comes from the site's own stylesheet
    assert client.get("/stats/charts.css").status_code == 404


def test_charts_show_the_numbers_of_their_tables(client, market):
    """Each chart says its values in words (<desc>) and on its bars; they are the data table's numbers."""
    html = client.get("/stats").get_data(as_text=True)
    month = _svg(html, "chart-stats-deal-month")
    assert '<desc id="chart-stats-deal-month-desc">2026-03: 1；2026-04: 3</desc>' in month
    assert "<title>2026-03: 1</title>" in month and "<title>2026-04: 3</title>" in month
    # the month with one deal shows no value; April's three make ¥60万
    value = _svg(html, "chart-stats-deal-value")
    assert "2026-03" not in value and '<desc id="chart-stats-deal-value-desc">2026-04: 60.00</desc>' in value
    assert ">60.00</text>" in value and "98.77" not in value
    kind = _svg(html, "chart-stats-kind")
    assert "<title>专利: 3</title>" in kind and "<title>商标: 2</title>" in kind
    heights = [float(h) for h in re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"', kind)]
    assert heights[0] == pytest.approx(heights[1] * 3 / 2, abs=0.2)  # bars in proportion to the counts
    recordal = _svg(html, "chart-stats-recordal")  # a zero bar is drawn flat and unlabelled
    assert "<title>≤30 天: 1</title>" in recordal and "<title>&gt;180 天: 0</title>" in recordal


def test_charts_in_english(client, market):
    html = client.get("/stats?lang=en").get_data(as_text=True)
    assert '<title id="chart-stats-kind-title">Listing kind</title>' in html
    assert "<title>Patent: 3</title>" in _svg(html, "chart-stats-kind")


def _svg(html, chart_id):
    return html.split(f'id="{chart_id}"', 1)[1].split("</svg>", 1)[0]


def test_empty_market(client):
    r = client.get("/stats")
    assert r.status_code == 200 and "暂无数据" in r.get_data(as_text=True)
    assert client.get("/stats.csv").status_code == 200


def test_csv_cells_cannot_become_formulas(client, as_user, operator):
    seller = factories.make_user("seller", org=factories.make_org(name="=HYPERLINK(\"http://x\")有限公司"))
    factories.make_listing(seller)
    db.session.commit()
    as_user(operator)
    text = client.get("/operator/stats.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in text


def test_a_market_with_too_few_deals_says_the_value_is_withheld_not_zero(client, app):
    seller = factories.make_user("seller")
    buyer = factories.make_user("buyer")
    listing = factories.make_listing(seller, status="reserved")
    make_deal(listing, buyer, state="funded", price=PRIVATE_PRICE, created_at=datetime(2026, 3, 10, 4, 0),
              funded_after=timedelta(days=1))
    db.session.commit()
    page = client.get("/stats").get_data(as_text=True)
    assert "成交笔数过少，暂不公开" in page and "¥0" not in page
    assert "98.77" not in page and "987,654" not in page
