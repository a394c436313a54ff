"""Quality grades (docs/design.md "Quality grades"): the rubric, the system's pre-score, operator assessments.

One rubric table per kind of right. Patents follow the three dimensions of the
CNIPA patent value index and GB/T 42748-2023 (legal, technical, economic value);
trademarks have their own indicators (registration status, remaining term,
class and goods coverage, distinctiveness, evidence of use, dispute history),
arranged in three dimensions too so that every listing's breakdown reads alike.

Each indicator is scored 0–10 by an operator. Weights are integer percentages:
dimension weights sum to 100 per kind, indicator weights sum to 100 inside
each dimension, so

    dimension score (0–100) = Σ indicator weight × indicator score / 10
    total score     (0–100) = Σ dimension weight × dimension score / 100

and the letter comes from ``score_to_grade`` — the only place letters are computed.

``propose`` pre-scores the indicators that objective data can decide (remaining
term, legal status, pledges and exclusive licences, claims, family countries,
classes and goods covered, disputes, evidence of use, listing completeness) and
gives each a one-line reason; indicators that need a person's judgement come
back with ``score=None`` and ``needs_judgement=True`` instead of a guess.

For a portfolio (several rights in one listing) the proposal reads the rights
together: the longest remaining term, the weakest legal status, any pledge or
exclusive licence, the union of family countries and Nice classes.

``assess`` records an operator's assessment. Every assessment is kept; the
latest one is the listing's grade. A ``before_flush`` hook marks a graded
listing 待复核 (``grade_needs_review``) whenever its material facts change, which
puts it back in the operators' grading queue.
"""
import math
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from flask import has_request_context
from flask_babel import gettext
from sqlalchemy import case, event, func, inspect, select
from sqlalchemy.orm import Session

from marketplace.kernel import labels
from marketplace.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationError
from marketplace.kernel.extensions import db
from marketplace.kernel.messages import msg
from marketplace.kernel.models import AuditLog, User
from marketplace.kernel.notify import notify
from marketplace.kernel.timeutil import utcnow

from .models import Encumbrance, GradeAssessment, Listing, ListingRight, Right


def N_(message):
    """Mark a rubric text for translation; it is translated where it is shown (``tr``)."""
    return message


def _(message, **variables):
    """gettext in a request; outside one (CLI, cron) the Chinese original, so services work anywhere."""
    if has_request_context():
        return gettext(message, **variables)
    return message % variables if variables else message


def tr(message):
    """Translate a text marked with ``N_``."""
    return _(message) if message else message


# --- the rubric -------------------------------------------------------------

GRADE_LETTERS = ("A", "B", "C", "D")
GRADE_THRESHOLDS = (("A", 85), ("B", 70), ("C", 55))  # below the last: D
MIN_RATIONALE = 20
MAX_RATIONALE = 4000


@dataclass(frozen=True)
class Dimension:
    key: str
    label: str
    weight: int  # percent of the total score


@dataclass(frozen=True)
class Indicator:
    key: str
    dimension: str
    label: str
    weight: int  # percent of its dimension
    measures: str  # what it measures (shown on the public rubric page)
    auto: str | None  # how the system pre-scores it; None: always needs judgement
    improve: str  # what a seller can do about it


PATENT_DIMENSIONS = (
    Dimension("legal", N_("法律价值"), 40),
    Dimension("technical", N_("技术价值"), 30),
    Dimension("economic", N_("经济价值"), 30),
)
TRADEMARK_DIMENSIONS = (
    Dimension("legal", N_("法律状态"), 40),
    Dimension("brand", N_("显著性与保护范围"), 30),
    Dimension("economic", N_("商业价值"), 30),
)

PATENT_INDICATORS = (
    Indicator("stability", "legal", N_("权利稳定性"), 25,
              N_("专利权被宣告无效的风险：是否经过实质审查、是否已授权、是否仍然有效。"),
              N_("按法律状态和专利类型预评：已授权发明 8 分，已授权实用新型/外观设计 5 分，审查中 3 分，失效 0 分。"),
              N_("实用新型和外观设计可提供专利权评价报告；有无效宣告请求被驳回的记录也请写入描述。")),
    Indicator("remaining_term", "legal", N_("剩余保护期"), 25,
              N_("自申请日起算的法定保护期（发明 20 年、实用新型 10 年、外观设计 15 年）还剩多少年。"),
              N_("按剩余年数预评：15 年以上 10 分，逐级递减，不足 1 年 1 分，已届满 0 分。"),
              N_("准确填写申请日；保护期无法延长，但可与同族或后续改进专利打包挂牌。")),
    Indicator("encumbrance", "legal", N_("权利负担与许可状况"), 20,
              N_("是否质押、是否有仍在有效期内的独占许可，这些都会限制买方取得的权利。"),
              N_("无质押、无在先独占许可 10 分；质押且已上传质权人同意书 6 分，未上传 3 分；独占许可在有效期内 4 分。"),
              N_("质押专利转让前取得并上传质权人同意书；如实填写在先许可的期限。")),
    Indicator("family", "legal", N_("同族与海外布局"), 15,
              N_("同一发明在中国以外国家或地区的申请或授权情况。"),
              N_("按同族国家/地区数预评：无 4 分，1 个 6 分，2 个 7 分，3–4 个 8 分，5 个及以上 10 分。"),
              N_("在挂牌中列出同族专利所在的国家或地区（如 US、EP、JP）。")),
    Indicator("design_around", "legal", N_("规避设计难度"), 15,
              N_("竞争者绕开权利要求实现同样效果的难易程度。"),
              N_("以权利要求项数作初步参考：15 项及以上 7 分，10–14 项 6 分，5–9 项 5 分，少于 5 项 3 分；需结合独立权利要求范围复核。"),
              N_("填写权利要求项数，并在描述中说明独立权利要求的保护范围。")),
    Indicator("advancement", "technical", N_("技术先进性"), 25,
              N_("与现有技术相比的改进程度和技术领先性。"), None,
              N_("在描述中说明相对现有技术解决了什么问题、性能提升多少，附检测数据更好。")),
    Indicator("maturity", "technical", N_("技术成熟度"), 20,
              N_("从实验室到量产的距离：原理验证、样机、小试、中试还是已量产。"), None,
              N_("说明技术所处阶段（如样机、中试、已量产）和实施条件。")),
    Indicator("breadth", "technical", N_("应用范围"), 20,
              N_("技术可应用的产品、行业和场景有多广。"), None,
              N_("列出可应用的产品和行业。")),
    Indicator("substitutability", "technical", N_("不可替代性"), 20,
              N_("是否存在成本更低或效果更好的替代技术。"), None,
              N_("说明与主要替代方案的比较。")),
    Indicator("independence", "technical", N_("技术独立性"), 15,
              N_("实施时对他人专利或其他技术的依赖程度；依赖越少越好。"), None,
              N_("说明实施是否需要他人专利许可或特定配套技术。")),
    Indicator("market_application", "economic", N_("市场应用情况"), 30,
              N_("是否已经实施、产生销售收入或许可收入。"), None,
              N_("提供实施产品、销售或许可收入等证明。")),
    Indicator("market_size", "economic", N_("市场规模"), 25,
              N_("相关产品市场的规模和增长前景。"), None,
              N_("在描述中引用可靠的市场规模数据。")),
    Indicator("competition", "economic", N_("市场竞争情况"), 20,
              N_("相关市场的竞争者数量和该专利带来的竞争优势。"), None,
              N_("说明主要竞争者以及本专利带来的差异化优势。")),
    Indicator("policy_fit", "economic", N_("政策适应性"), 15,
              N_("与国家和广东省产业政策（如战略性新兴产业）的契合程度。"), None,
              N_("说明所属产业领域及相关扶持政策。")),
    Indicator("completeness", "economic", N_("挂牌信息完整度"), 10,
              N_("买方做出决定所需的信息是否齐全：描述、摘要、分类号、权利要求数、许可条件等。"),
              N_("按已填写的必要信息所占比例预评，并列出缺少的项目。"),
              N_("补全缺少的项目：详细描述、摘要、IPC 分类号、权利要求项数、许可地域/领域/年限。")),
)

TRADEMARK_INDICATORS = (
    Indicator("registration_status", "legal", N_("注册状态"), 35,
              N_("商标是否已核准注册并处于有效状态。"),
              N_("已注册 10 分，申请中 3 分，异议中 2 分，已撤销或无效 0 分。"),
              N_("申请中的商标待核准注册后再挂牌转让更易成交。")),
    Indicator("remaining_term", "legal", N_("剩余有效期"), 30,
              N_("当前十年有效期还剩多久；商标可续展，临近到期需尽快续展。"),
              N_("按当前有效期剩余年数预评：5 年以上 10 分，3–5 年 8 分，1–3 年 6 分，不足 1 年 4 分。"),
              N_("有效期不足一年的商标请先办理续展。")),
    Indicator("dispute_history", "legal", N_("争议记录"), 35,
              N_("异议、无效宣告、撤三等争议的记录。"),
              N_("无争议 10 分，1 起 6 分，2 起 4 分，3 起及以上 2 分；未填写则需人工核查。"),
              N_("如实填写争议记录，并说明已结案争议的结果。")),
    Indicator("distinctiveness", "brand", N_("显著性"), 50,
              N_("标志本身的识别力：臆造词高于暗示性词，描述性标志最弱。"), None,
              N_("上传清晰的商标图样，并说明商标的含义与来源。")),
    Indicator("coverage", "brand", N_("类别与商品覆盖"), 50,
              N_("核定使用的尼斯类别、类似群和商品/服务项目的覆盖范围。"),
              N_("按类别数预评（1 类 4 分，2 类 6 分，3–4 类 7 分，5 类及以上 8 分），覆盖 3 个以上类似群、10 项以上商品各加 1 分。"),
              N_("完整填写核定使用的类似群和商品/服务项目；同一主体在相关类别的近似商标可一并打包。")),
    Indicator("use_evidence", "economic", N_("使用证据"), 60,
              N_("是否有实际使用的证据；注册满三年不使用可能被撤销（《商标法》第四十九条）。"),
              N_("有使用证据 8 分（证据质量需复核）；无使用证据 2 分，注册满三年者 1 分；未填写则需人工核查。"),
              N_("提供近三年的使用证据，如销售合同、发票、广告宣传材料。")),
    Indicator("completeness", "economic", N_("挂牌信息完整度"), 40,
              N_("买方做出决定所需的信息是否齐全：描述、商标图样、类似群、商品项目、许可条件等。"),
              N_("按已填写的必要信息所占比例预评，并列出缺少的项目。"),
              N_("补全缺少的项目：详细描述、商标图样、类似群、商品/服务项目、许可地域/领域/年限。")),
)

RUBRICS = {
    "patent": (PATENT_DIMENSIONS, PATENT_INDICATORS),
    "trademark": (TRADEMARK_DIMENSIONS, TRADEMARK_INDICATORS),
}


def dimensions_for(kind):
    return RUBRICS[kind][0]


def indicators_for(kind):
    return RUBRICS[kind][1]


def indicator_keys(kind):
    return [i.key for i in indicators_for(kind)]


def effective_weights(kind):
    """{indicator key: its share of the 0–100 total, in points} (dimension weight × indicator weight)."""
    dims = {d.key: d.weight for d in dimensions_for(kind)}
    return {i.key: Decimal(dims[i.dimension] * i.weight) / 100 for i in indicators_for(kind)}


# --- scoring ----------------------------------------------------------------

def _round2(value):
    return float(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def score_to_grade(score):
    """The letter for a 0–100 score: A ≥ 85, B ≥ 70, C ≥ 55, else D. The only place letters are computed."""
    for letter, floor in GRADE_THRESHOLDS:
        if score >= floor:
            return letter
    return "D"


def compute(kind, scores):
    """(dimension scores {key: 0–100}, total 0–100) for complete, valid indicator ``scores``.

    Decimal arithmetic, so that a score exactly on a boundary is not pushed under it by float error.
    """
    per_dim = {d.key: Decimal(0) for d in dimensions_for(kind)}
    for ind in indicators_for(kind):
        per_dim[ind.dimension] += Decimal(ind.weight) * Decimal(str(scores[ind.key])) / 10
    total = sum((Decimal(d.weight) * per_dim[d.key] / 100 for d in dimensions_for(kind)), Decimal(0))
    return {k: _round2(v) for k, v in per_dim.items()}, _round2(total)


# --- the system's proposal ----------------------------------------------------

STATUTORY_YEARS = {"invention": 20, "utility_model": 10, "design": 15}
DEAD_PATENT = ("lapsed", "invalidated", "expired")
STATUS_LABELS = labels.PATENT_STATUS
TYPE_LABELS = labels.PATENT_TYPE_NOUN
TM_STATUS_SCORES = {"registered": 10, "pending": 3, "opposed": 2, "cancelled": 0, "invalidated": 0}
TM_STATUS_LABELS = labels.TM_STATUS
LICENCE_DEALS = ("exclusive_license", "sole_license", "non_exclusive_license")


def _add_years(day, years):
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def patent_term_end(right):
    """The day the statutory term ends (counted from filing), or None when the filing date is unknown."""
    if right.filing_date is None:
        return None
    years = STATUTORY_YEARS.get(right.patent_type or "invention", 20)
    if right.patent_type == "design" and right.filing_date < date(2021, 6, 1):
        years = 10  # designs filed before the 2021 amendment keep the old 10-year term
    return _add_years(right.filing_date, years)


def trademark_period_end(right, today):
    """End of the current ten-year registration period (renewals assumed while the mark is registered)."""
    if right.registration_date is None:
        return None
    end = _add_years(right.registration_date, 10)
    while end <= today and right.tm_status == "registered":
        end = _add_years(end, 10)
    return end


def _years_between(start, end):
    return (end - start).days / 365.25


def _item(ind, score, reason):
    return {"key": ind.key, "dimension": ind.dimension, "label": tr(ind.label), "score": score,
            "reason": reason, "needs_judgement": score is None}


def _patent_stability(rights):
    statuses = [r.legal_status or "pending" for r in rights]
    if any(s in DEAD_PATENT for s in statuses):
        dead = next(s for s in statuses if s in DEAD_PATENT)
        return 0, _("专利%(status)s，不再受保护", status=tr(STATUS_LABELS[dead]))
    if any(s == "pending" for s in statuses):
        return 3, _("专利尚在审查中，能否授权及授权范围未定")
    types = {r.patent_type or "invention" for r in rights}
    if types == {"invention"}:
        return 8, _("已授权发明专利，经过实质审查，稳定性较好")
    label = "、".join(tr(TYPE_LABELS[t]) for t in sorted(types - {"invention"}))
    return 5, _("已授权%(type)s，未经实质审查，建议以专利权评价报告确认稳定性", type=label)


def _term_score(years):
    for floor, score in ((15, 10), (12, 9), (10, 8), (8, 7), (6, 6), (4, 5), (3, 4), (2, 3), (1, 2)):
        if years >= floor:
            return score
    return 1 if years > 0 else 0


def _patent_remaining_term(rights, today):
    live = [r for r in rights if (r.legal_status or "") not in DEAD_PATENT]
    if not live:
        return 0, _("专利已失效，剩余保护期为零")
    ends = [(patent_term_end(r), r) for r in live]
    ends = [(end, r) for end, r in ends if end is not None]
    if not ends:
        return None, _("未填写申请日，无法计算剩余保护期")
    end, right = max(ends, key=lambda pair: pair[0])
    years = _years_between(today, end)
    if years <= 0:
        return 0, _("保护期已于 %(end)s 届满", end=end.isoformat())
    total = (end.year - right.filing_date.year)
    return _term_score(years), _("剩余保护期约 %(years).1f 年（%(type)s保护期 %(total)d 年，自申请日 %(filed)s 起算，"
                                 "至 %(end)s 届满）", years=years, type=tr(TYPE_LABELS[right.patent_type or "invention"]),
                                 total=total, filed=right.filing_date.isoformat(), end=end.isoformat())


def _patent_encumbrance(listing, rights, today):
    pledged = any(r.pledged for r in rights)
    exclusive = [r.exclusive_license_until for r in rights
                 if r.exclusive_license_until is not None and r.exclusive_license_until >= today]
    if pledged and exclusive:
        return 2, _("已质押，且独占许可有效至 %(until)s", until=max(exclusive).isoformat())
    if pledged:
        if listing.pledge_consent:
            return 6, _("已质押，已上传质权人同意书")
        return 3, _("已质押，未上传质权人同意书，转让须经质权人同意")
    if exclusive:
        return 4, _("独占许可有效至 %(until)s，期间买方权利受限", until=max(exclusive).isoformat())
    return 10, _("无质押，无在先独占许可")


def _patent_family(rights):
    countries = sorted({c.upper() for r in rights for c in (r.family_countries or []) if c and c.upper() != "CN"})
    n = len(countries)
    if n == 0:
        return 4, _("未登记中国以外的同族专利")
    score = 6 if n == 1 else 7 if n == 2 else 8 if n <= 4 else 10
    return score, _("同族覆盖 %(n)d 个国家/地区：%(list)s", n=n, list="、".join(countries))


def _patent_design_around(rights):
    counts = [r.claims_count for r in rights if r.claims_count]
    if not counts:
        if all(r.patent_type == "design" for r in rights):
            return None, _("外观设计无权利要求项数可参考，需对比设计要点人工判断")
        return None, _("未填写权利要求项数，需人工判断")
    n = max(counts)
    score = 7 if n >= 15 else 6 if n >= 10 else 5 if n >= 5 else 3
    return score, _("权利要求 %(n)d 项（仅作初步参考，需结合独立权利要求范围复核）", n=n)


def _completeness(listing, rights):
    """(score, reason): the share of the facts a buyer needs that the listing gives."""
    checks = [(len((listing.description or "").strip()) >= 100, _("详细描述（至少 100 字）")),
              (bool(listing.deal_types), _("交易方式"))]
    if listing.kind == "patent":
        checks += [(all(r.abstract for r in rights), _("摘要")),
                   (all(r.ipc_codes or r.locarno_class for r in rights), _("分类号")),
                   (all(r.claims_count or r.patent_type == "design" for r in rights), _("权利要求项数"))]
    else:
        checks += [(bool(listing.image), _("商标图样")),
                   (all(r.similar_groups for r in rights), _("类似群")),
                   (all(r.goods for r in rights), _("商品/服务项目"))]
    if any(t in LICENCE_DEALS for t in (listing.deal_types or [])):
        checks.append((bool(listing.license_territory and listing.license_field and listing.license_years),
                       _("许可地域、领域和年限")))
    done = sum(1 for ok, _label in checks if ok)
    score = int((Decimal(10 * done) / len(checks)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    missing = [str(label) for ok, label in checks if not ok]
    if not missing:
        return score, _("必要信息齐全（%(done)d/%(total)d）", done=done, total=len(checks))
    return score, _("已填写 %(done)d/%(total)d 项必要信息，缺少：%(missing)s", done=done, total=len(checks),
                    missing="、".join(missing))


def _tm_registration(rights):
    statuses = [r.tm_status or "pending" for r in rights]
    worst = min(statuses, key=lambda s: TM_STATUS_SCORES.get(s, 0))
    label = tr(TM_STATUS_LABELS.get(worst, worst))
    if worst == "registered":
        return 10, _("已核准注册，处于有效状态")
    return TM_STATUS_SCORES.get(worst, 0), _("商标%(status)s", status=label)


def _tm_remaining_term(rights, today):
    if any(r.tm_status in ("cancelled", "invalidated") for r in rights):
        return 0, _("商标已撤销或无效，无剩余有效期")
    ends = [trademark_period_end(r, today) for r in rights]
    ends = [e for e in ends if e is not None]
    if not ends:
        return None, _("未填写注册日期，无法计算有效期，需人工核查")
    end = min(ends)  # the first mark that needs renewal sets the pace for the bundle
    years = _years_between(today, end)
    score = 10 if years >= 5 else 8 if years >= 3 else 6 if years >= 1 else 4
    if years < 1:
        return score, _("当前有效期至 %(end)s，不足一年，需尽快续展", end=end.isoformat())
    return score, _("当前有效期至 %(end)s，剩余约 %(years).1f 年（可续展）", end=end.isoformat(), years=years)


def _tm_disputes(rights):
    if any(r.disputes is None for r in rights):
        return None, _("未填写争议记录，需人工核查商标局公告")
    n = sum(r.disputes for r in rights)
    if n == 0:
        return 10, _("无异议、无效宣告或撤销争议记录")
    score = 6 if n == 1 else 4 if n == 2 else 2
    return score, _("有 %(n)d 起异议、无效宣告或撤销争议记录", n=n)


def _tm_coverage(rights):
    classes = sorted({int(c) for r in rights for c in (r.nice_classes or [])})
    groups = {g for r in rights for g in (r.similar_groups or [])}
    goods = {g for r in rights for g in (r.goods or [])}
    if not classes:
        return None, _("未填写尼斯类别，需人工核查")
    n = len(classes)
    score = 4 if n == 1 else 6 if n == 2 else 7 if n <= 4 else 8
    score += (len(groups) >= 3) + (len(goods) >= 10)
    return min(score, 10), _("覆盖 %(n)d 个尼斯类别（第 %(classes)s 类）、%(groups)d 个类似群、%(goods)d 项商品/服务",
                             n=n, classes="、".join(str(c) for c in classes), groups=len(groups), goods=len(goods))


def _tm_use(rights, today):
    if any(r.use_evidence is None for r in rights):
        return None, _("未说明是否有使用证据，需人工核查")
    if all(r.use_evidence for r in rights):
        return 8, _("卖家声明有使用证据（证据质量需人工复核）")
    old = [r for r in rights if r.registration_date and _years_between(r.registration_date, today) >= 3]
    if old:
        return 1, _("无使用证据，且注册已满三年，存在被撤销（撤三）的风险")
    return 2, _("无使用证据")


def propose(listing, today=None):
    """The system's pre-score: one item per rubric indicator, in rubric order.

    Each item is ``{"key", "dimension", "label", "score", "reason", "needs_judgement"}``;
    ``score`` is 0–10 where objective data decides it, otherwise None with needs_judgement True.
    """
    today = today or utcnow().date()
    rights = list(listing.rights)
    auto = {}
    if listing.kind == "patent" and rights:
        auto = {
            "stability": _patent_stability(rights),
            "remaining_term": _patent_remaining_term(rights, today),
            "encumbrance": _patent_encumbrance(listing, rights, today),
            "family": _patent_family(rights),
            "design_around": _patent_design_around(rights),
            "completeness": _completeness(listing, rights),
        }
    elif listing.kind == "trademark" and rights:
        auto = {
            "registration_status": _tm_registration(rights),
            "remaining_term": _tm_remaining_term(rights, today),
            "dispute_history": _tm_disputes(rights),
            "coverage": _tm_coverage(rights),
            "use_evidence": _tm_use(rights, today),
            "completeness": _completeness(listing, rights),
        }
    items = []
    for ind in indicators_for(listing.kind):
        if ind.key in auto:
            score, reason = auto[ind.key]
        else:
            score, reason = None, _("需人工判断：%(what)s", what=tr(ind.measures))
        items.append(_item(ind, score, str(reason)))
    return items


def proposal_scores(listing, today=None):
    return {item["key"]: item["score"] for item in propose(listing, today)}


# --- operator assessment ---------------------------------------------------------

def _is_number(value):
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def score_problem(value):
    """Why ``value`` is not an indicator's score (a number 0–10), or None. The API's schema
    (``listings.grading_schemas``) and the forms read this one rule."""
    if not _is_number(value) or math.isnan(value):
        return _("评分必须是 0 到 10 之间的数字")
    if not 0 <= value <= 10:
        return _("评分必须在 0 到 10 之间")
    return None


def unknown_indicator(key, keys):
    """Why ``key`` is not one of ``keys`` (an indicator of the rubric), or None."""
    return None if key in keys else _("未知指标")


def _score_errors(kind, scores):
    """({key: clean number}, {key: why}) for an assessment's indicator scores."""
    if not isinstance(scores, dict):
        return {}, {"scores": _("必须是以指标为键的对象")}
    keys = indicator_keys(kind)
    errors = {}
    clean = {}
    for key in keys:
        if key not in scores or scores[key] is None or scores[key] == "":
            errors[key] = _("缺少此指标的评分")
            continue
        value = scores[key]
        problem = score_problem(value)
        if problem:
            errors[key] = problem
            continue
        clean[key] = int(value) if float(value).is_integer() else float(value)
    for key in scores:
        if unknown_indicator(key, keys):
            errors[str(key)] = unknown_indicator(key, keys)
    return clean, errors


def _rationale_errors(rationale):
    text = rationale.strip() if isinstance(rationale, str) else ""
    if len(text) < MIN_RATIONALE:
        return text, {"rationale": _("请填写评级理由，至少 %(n)d 个字符", n=MIN_RATIONALE)}
    if len(text) > MAX_RATIONALE:
        return text, {"rationale": _("评级理由最多 %(n)d 个字符", n=MAX_RATIONALE)}
    return text, {}


def validate_scores(kind, scores):
    """Normalised {key: int | float}, or a ValidationError naming every bad indicator."""
    clean, errors = _score_errors(kind, scores)
    if errors:
        raise ValidationError(_("评分有误，请检查标出的指标"), errors)
    return clean


def validate_assessment(kind, scores, rationale):
    """(clean scores, rationale text), or one ValidationError naming every bad indicator and the rationale."""
    clean, errors = _score_errors(kind, scores)
    text, rationale_errors = _rationale_errors(rationale)
    errors.update(rationale_errors)
    if errors:
        raise ValidationError(_("评分或评级理由有误，请检查标出的项目"), errors)
    return clean, text


def _check_operator(operator, listing):
    if operator is None or not operator.is_operator:
        raise PermissionDenied(_("只有平台运营人员可以评级"))
    if operator.organization_id is not None and operator.organization_id == listing.organization_id:
        raise PermissionDenied(_("不能为本单位的挂牌评级"))


def can_grade(operator, listing):
    """True when ``operator`` may grade ``listing`` (role and organisation; the listing's state aside)."""
    try:
        _check_operator(operator, listing)
    except PermissionDenied:
        return False
    return True


def assess(listing_id, operator, scores, rationale, now=None):
    """Record ``operator``'s assessment of a published listing and make it the listing's grade.

    Raises NotFound, PermissionDenied (not an operator, or an operator of the seller's
    organisation), Conflict (the listing is not published) or ValidationError (scores
    missing, unknown, non-numeric or outside 0–10; rationale shorter than 20 characters).
    Flushes, does not commit. Returns the new GradeAssessment.
    """
    from .locking import lock_listing

    if operator is None or not operator.is_operator:
        raise PermissionDenied(_("只有平台运营人员可以评级"))
    listing = lock_listing(_check_id(listing_id))
    _check_operator(operator, listing)
    if listing.status != "published":
        raise Conflict(_("只能为已发布的挂牌评级（当前状态：%(status)s）", status=listing.status), status=listing.status)
    clean, text = validate_assessment(listing.kind, scores, rationale)

    now = now or utcnow()
    dimensions, total = compute(listing.kind, clean)
    letter = score_to_grade(total)
    before = {"grade": listing.grade, "grade_score": listing.grade_score,
              "grade_needs_review": listing.grade_needs_review}
    row = GradeAssessment(listing_id=listing.id, operator_id=operator.id, scores=clean,
                          proposal=proposal_scores(listing, now.date()), dimensions=dimensions,
                          score=total, grade=letter, rationale=text, created_at=now)
    db.session.add(row)
    listing.grade = letter
    listing.grade_score = total
    listing.grade_needs_review = False
    db.session.flush()
    db.session.add(AuditLog(actor_id=operator.id, action="grade.assess", object_type="listing", object_id=listing.id,
                            before=before, after={"grade": letter, "grade_score": total, "grade_needs_review": False,
                                                  "assessment_id": row.id}, created_at=now))
    notify(listing.seller_id, "grade", msg(N_("挂牌「%(title)s」的质量等级：%(grade)s"), title=listing.title, grade=letter),
           msg(N_("综合得分 %(score)s。评级理由：%(rationale)s"), score=total, rationale=text), f"/listings/{listing.id}")
    return row


def latest_assessment(listing_id):
    return db.session.scalars(
        select(GradeAssessment).where(GradeAssessment.listing_id == listing_id)
        .order_by(GradeAssessment.created_at.desc(), GradeAssessment.id.desc()).limit(1)).first()


def history(listing_id):
    """Every assessment of a listing, newest first."""
    return list(db.session.scalars(
        select(GradeAssessment).where(GradeAssessment.listing_id == listing_id)
        .order_by(GradeAssessment.created_at.desc(), GradeAssessment.id.desc())))


MAX_ROW_ID = 2**31 - 1  # ids are INTEGER columns: a larger id in a URL names nothing (and must not reach PostgreSQL)


def _check_id(listing_id):
    if not isinstance(listing_id, int) or isinstance(listing_id, bool) or not 0 < listing_id <= MAX_ROW_ID:
        raise NotFound(_("挂牌不存在"))
    return listing_id


def get_listing(listing_id):
    """The listing, or NotFound (also for ids no row can have)."""
    listing = db.session.get(Listing, _check_id(listing_id))
    if listing is None:
        raise NotFound(_("挂牌不存在"))
    return listing


# --- queue, featured row, calibration -------------------------------------------

def grading_queue(limit=200):
    """Published listings that need a grade: ungraded first, then 待复核; oldest first within each."""
    ungraded = Listing.grade.is_(None)
    stmt = (select(Listing)
            .where(Listing.status == "published", ungraded | Listing.grade_needs_review.is_(True))
            .order_by(case((ungraded, 0), else_=1),
                      func.coalesce(Listing.published_at, Listing.created_at), Listing.id)
            .limit(limit))
    return list(db.session.scalars(stmt))


def featured_listings(limit=8):
    """Grade-A published listings for the home page's featured row (not those awaiting review), best first."""
    stmt = (select(Listing)
            .where(Listing.status == "published", Listing.grade == "A", Listing.grade_needs_review.is_(False))
            .order_by(Listing.grade_score.desc(), Listing.published_at.desc(), Listing.id.desc())
            .limit(limit))
    return list(db.session.scalars(stmt))


def calibration():
    """Per operator: assessments, grade distribution, mean score and deviation from the system's proposal.

    Deviation is taken over the indicators the system proposed a score for:
    ``mean_deviation`` is signed (positive: the operator scores above the proposal),
    ``mean_abs_deviation`` its magnitude. Returns a list sorted by operator name.
    """
    rows = db.session.execute(
        select(GradeAssessment, User).join(User, GradeAssessment.operator_id == User.id)
        .order_by(GradeAssessment.id)).all()
    stats = {}
    for assessment, user in rows:
        s = stats.setdefault(user.id, {"operator": user, "count": 0, "grades": dict.fromkeys(GRADE_LETTERS, 0),
                                       "score_sum": 0.0, "dev_sum": 0.0, "abs_sum": 0.0, "dev_n": 0})
        s["count"] += 1
        s["grades"][assessment.grade] = s["grades"].get(assessment.grade, 0) + 1
        s["score_sum"] += assessment.score
        for key, proposed in (assessment.proposal or {}).items():
            given = (assessment.scores or {}).get(key)
            if proposed is None or given is None:
                continue
            s["dev_sum"] += given - proposed
            s["abs_sum"] += abs(given - proposed)
            s["dev_n"] += 1
    result = []
    for s in stats.values():
        n = s["dev_n"]
        result.append({
            "operator": s["operator"], "count": s["count"], "grades": s["grades"],
            "share": {g: s["grades"][g] / s["count"] for g in GRADE_LETTERS},
            "mean_score": round(s["score_sum"] / s["count"], 2),
            "mean_deviation": round(s["dev_sum"] / n, 2) if n else None,
            "mean_abs_deviation": round(s["abs_sum"] / n, 2) if n else None,
            "compared": n,
        })
    return sorted(result, key=lambda r: (r["operator"].name, r["operator"].id))


# --- 待复核: a graded listing whose material facts change goes back to the queue ----------

LISTING_MATERIAL = ("kind", "title", "description", "deal_types", "image", "pledge_consent",
                    "license_territory", "license_field", "license_years")
RIGHT_MATERIAL = ("kind", "number", "title", "abstract", "patent_type", "ipc_codes", "locarno_class", "filing_date",
                  "grant_date", "claims_count", "legal_status", "annuity_paid_until", "family_countries",
                  "nice_classes", "similar_groups", "goods", "registration_date", "tm_status", "disputes",
                  "use_evidence")


def _changed(obj, attrs):
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in attrs)


def _needs_review(listing):
    if listing is None or listing.grade is None or listing.grade_needs_review:
        return
    if inspect(listing).pending:
        return
    listing.grade_needs_review = True


@event.listens_for(Session, "before_flush")
def _mark_for_review(session, flush_context, instances):
    for obj in list(session.dirty):
        if isinstance(obj, Listing) and _changed(obj, LISTING_MATERIAL):
            _needs_review(obj)
        elif isinstance(obj, Right) and _changed(obj, RIGHT_MATERIAL):
            for link in obj.listing_links:  # a register entry's facts are material to every listing of it
                _needs_review(link.listing)
        elif isinstance(obj, Encumbrance) and obj.right is not None:
            for link in obj.right.listing_links:
                _needs_review(link.listing)
    for obj in list(session.new) + list(session.deleted):
        if isinstance(obj, ListingRight):
            listing = obj.listing
            if listing is None and obj.listing_id is not None:
                listing = session.get(Listing, obj.listing_id)
            _needs_review(listing)
        elif isinstance(obj, Encumbrance) and obj.right is not None:
            for link in obj.right.listing_links:
                _needs_review(link.listing)
