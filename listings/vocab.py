"""The listings' vocabulary: labels shown to people and the fixed sets the rules use (one place)."""
from marketplace.i18n import N_

from . import identifiers as ids

STATUS_LABELS = {
    "draft": N_("草稿"), "pending_review": N_("待审核"), "published": N_("已发布"), "reserved": N_("交易中"), "sold": N_("已成交"),
    "rejected": N_("已驳回"), "withdrawn": N_("已撤回"), "expired": N_("已过期"),
}
DEAL_TYPE_LABELS = {
    "assignment": N_("转让"), "exclusive_license": N_("独占许可"), "sole_license": N_("排他许可"),
    "non_exclusive_license": N_("普通许可"),
}
PRICE_MODE_LABELS = {"fixed": N_("一口价"), "negotiable": N_("面议"), "auction": N_("竞拍")}
KIND_LABELS = {"patent": N_("专利"), "trademark": N_("商标")}
PATENT_TYPE_LABELS = ids.PATENT_TYPE_LABELS
LEGAL_STATUSES = {"pending": N_("审查中"), "granted": N_("已授权"), "lapsed": N_("未缴年费失效"), "invalidated": N_("已宣告无效"),
                  "expired": N_("保护期届满")}
TM_STATUSES = {"registered": N_("已注册"), "pending": N_("申请中"), "opposed": N_("异议中"), "cancelled": N_("已撤销"),
               "invalidated": N_("已宣告无效")}
DEAD_LEGAL_STATUSES = {"lapsed", "invalidated", "expired"}
DEAD_TM_STATUSES = {"cancelled", "invalidated"}
EXCLUSIVE_DEAL_TYPES = {"exclusive_license", "sole_license"}
LICENSE_DEAL_TYPES = {"exclusive_license", "sole_license", "non_exclusive_license"}

MAX_RIGHTS = 100
MAX_DESCRIPTION = 20_000
MAX_PRICE = 10**14  # fen: 1万亿元, far beyond any real deal, keeps BIGINT arithmetic safe
MAX_AUCTION_DAYS = 90
RELIST_AUCTION_DAYS = 7  # a relisted auction's default close, from the moment of relisting
