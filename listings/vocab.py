"""The listings' vocabulary: labels shown to people and the fixed sets the rules use (one place)."""
from . import identifiers as ids

STATUS_LABELS = {
    "draft": "草稿", "pending_review": "待审核", "published": "已发布", "reserved": "交易中", "sold": "已成交",
    "rejected": "已驳回", "withdrawn": "已撤回", "expired": "已过期",
}
DEAL_TYPE_LABELS = {
    "assignment": "转让", "exclusive_license": "独占许可", "sole_license": "排他许可",
    "non_exclusive_license": "普通许可",
}
PRICE_MODE_LABELS = {"fixed": "一口价", "negotiable": "面议", "auction": "竞拍"}
KIND_LABELS = {"patent": "专利", "trademark": "商标"}
PATENT_TYPE_LABELS = ids.PATENT_TYPE_LABELS
LEGAL_STATUSES = {"pending": "审查中", "granted": "已授权", "lapsed": "未缴年费失效", "invalidated": "已宣告无效",
                  "expired": "保护期届满"}
TM_STATUSES = {"registered": "已注册", "pending": "申请中", "opposed": "异议中", "cancelled": "已撤销",
               "invalidated": "已宣告无效"}
DEAD_LEGAL_STATUSES = {"lapsed", "invalidated", "expired"}
DEAD_TM_STATUSES = {"cancelled", "invalidated"}
EXCLUSIVE_DEAL_TYPES = {"exclusive_license", "sole_license"}
LICENSE_DEAL_TYPES = {"exclusive_license", "sole_license", "non_exclusive_license"}

MAX_RIGHTS = 100
MAX_DESCRIPTION = 20_000
MAX_PRICE = 10**14  # fen: 1万亿元, far beyond any real deal, keeps BIGINT arithmetic safe
MAX_AUCTION_DAYS = 90
RELIST_AUCTION_DAYS = 7  # a relisted auction's default close, from the moment of relisting
