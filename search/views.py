"""HTML pages of `search` (thin: parse, call a service, render).

``/search`` takes the same arguments as ``GET /api/v1/search``. A person is never shown
an error page for a bad argument: a too-long query is cut, and any argument that does
not validate is dropped with a note saying so.
"""
import csv
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from marketplace.kernel import labels
from marketplace.kernel.errors import ValidationError
from marketplace.kernel.money import display_yuan
from marketplace.kernel.pagecache import cached_page
from marketplace.kernel.regions import REGIONS, region_label
from marketplace.kernel.webutil import act_then_redirect

from . import service
from .outbox import search_page_vary

bp = Blueprint("search", __name__)

KIND_LABELS = labels.lazy(labels.KIND)
GRADE_LABELS = labels.GRADE
DEAL_TYPE_LABELS = labels.lazy(labels.DEAL_TYPE)
PRICE_MODE_LABELS = labels.lazy(labels.PRICE_MODE)
PATENT_TYPE_LABELS = labels.lazy(labels.PATENT_TYPE)
SORT_LABELS = {"relevance": _l("相关度"), "newest": _l("最新发布"), "price_asc": _l("价格从低到高"),
               "price_desc": _l("价格从高到低"), "grade": _l("质量等级"), "ending_soon": _l("拍卖即将结束")}
WAN = 10_000 * 100  # one 万元 in fen
PRICE_BANDS = [
    (None, 10 * WAN, _l("10 万元以下")),
    (10 * WAN, 50 * WAN, _l("10–50 万元")),
    (50 * WAN, 100 * WAN, _l("50–100 万元")),
    (100 * WAN, 500 * WAN, _l("100–500 万元")),
    (500 * WAN, None, _l("500 万元以上")),
]
DATA = Path(__file__).resolve().parent.parent / "listings" / "data"


@lru_cache(maxsize=1)
def _ipc_sections():
    out = {}
    with (DATA / "ipc_scheme_subclass.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["level"] == "section":
                out[row["code"]] = (row["title_zh"], row["title_en"].capitalize())
    return out


def section_label(code, locale):
    zh, en = _ipc_sections().get(code, (code, code))
    return f"{code} {en if str(locale).startswith('en') else zh}"


FILTER_NAMES = {"kind": _l("类型"), "grade": _l("质量等级"), "patent_type": _l("专利类型"), "ipc": _l("IPC 分类"),
                "nice_class": _l("尼斯分类"), "deal_type": _l("交易方式"), "price_mode": _l("报价方式"),
                "price_min": _l("最低价"), "price_max": _l("最高价"), "region": _l("地区"),
                "open_licence": _l("开放许可")}


def filter_label(key, value, locale):
    """'类型：商标', '最低价：¥10万' … for the active-filter list."""
    labels = {"kind": KIND_LABELS, "deal_type": DEAL_TYPE_LABELS, "price_mode": PRICE_MODE_LABELS,
              "patent_type": PATENT_TYPE_LABELS}
    if key in labels:
        shown = labels[key].get(value, value)
    elif key in ("price_min", "price_max"):
        shown = display_yuan(int(value), locale=str(locale))
    elif key == "region":
        shown = region_label(value, str(locale))
    elif key == "open_licence":
        shown = _("是")
    elif key == "nice_class":
        shown = _("第 %(n)s 类", n=value)
    else:
        shown = value
    return f"{FILTER_NAMES.get(key, key)}：{shown}"


def _parse_forgiving(args):
    """Parse, dropping what does not validate; returns (params, notes)."""
    args = {k: v for k, v in args.items()}
    notes = []
    if len(args.get("q", "")) > service.MAX_QUERY_CHARS:
        args["q"] = args["q"][: service.MAX_QUERY_CHARS]
        notes.append(_("搜索词过长，只用了前 %(n)s 个字符", n=service.MAX_QUERY_CHARS))
    for _attempt in range(3):
        try:
            return service.parse_params(args), notes
        except ValidationError as exc:
            for key, why in exc.fields.items():
                args.pop(key, None)
                notes.append(_("已忽略参数 %(key)s：%(why)s", key=key, why=why))
    return service.SearchParams(), notes


@bp.get("/search")
@cached_page(vary=search_page_vary)
def search_page():
    params, notes = _parse_forgiving(request.args)
    page = service.search(params)
    if page.results == [] and params.page > 1 and page.total:
        # Past the last page: show the last one instead of an empty page.
        params.page = min(params.page, page.pages)
        page = service.search(params)
    locale = get_locale()
    saved = None
    if current_user.is_authenticated:
        saved = any(row.q == params.q and (row.filters or {}) == params.filters()
                    for row in service.saved_searches_for(current_user))
    return render_template(
        "search/results.html", page=page, p=params, notes=notes, saved=saved,
        kind_labels=KIND_LABELS, grade_labels=GRADE_LABELS, deal_type_labels=DEAL_TYPE_LABELS,
        price_mode_labels=PRICE_MODE_LABELS, patent_type_labels=PATENT_TYPE_LABELS, sort_labels=SORT_LABELS,
        price_bands=PRICE_BANDS, regions=REGIONS, section_label=lambda c: section_label(c, locale),
        filter_label=lambda k, v: filter_label(k, v, locale),
    )


@bp.post("/search/save")
@login_required
def save_search():
    params, _notes = _parse_forgiving(request.form)
    return act_then_redirect(lambda: service.save_search(current_user, params.q, params.filters()),
                             _("已保存搜索。有新的挂牌符合条件时，我们会通知您。"),
                             url_for("search.search_page", **params.args()))


@bp.get("/search/saved")
@login_required
def saved_searches():
    rows = service.saved_searches_for(current_user)
    return render_template("search/saved.html", rows=rows, kind_labels=KIND_LABELS)


@bp.post("/search/saved/<int:saved_id>/delete")
@login_required
def delete_saved_search(saved_id):
    # someone else's (or a gone) saved search: said above the list, not a 404 page
    return act_then_redirect(lambda: service.delete_saved_search(current_user, saved_id), _("已删除保存的搜索"),
                             url_for("search.saved_searches"), error_page=())
