"""The one label registry: what people read for each code the system stores.

Each enum's labels live here once, in Chinese (the msgid), marked with ``N_`` for extraction. A
label is translated where it is shown: ``_(labels.DEAL_STATE[code])`` in a view or template, or
``labels.lazy(labels.DEAL_STATE)`` for a mapping of lazily translated strings (statistics, form
choices). Text that is stored (a notification, a ledger memo) keeps the Chinese label as a parameter
(``marketplace.kernel.messages.label``) and is translated when it is read. This module imports nothing from the domain
packages.
"""
from flask_babel import gettext, lazy_gettext

from .i18n import N_

KIND = {"patent": N_("专利"), "trademark": N_("商标")}
PATENT_TYPE = {"invention": N_("发明"), "utility_model": N_("实用新型"), "design": N_("外观设计")}
# the type as a noun in a sentence or a contract: 发明专利, 实用新型专利
PATENT_TYPE_NOUN = {"invention": N_("发明专利"), "utility_model": N_("实用新型专利"), "design": N_("外观设计专利")}
DEAL_TYPE = {"assignment": N_("转让"), "exclusive_license": N_("独占许可"), "sole_license": N_("排他许可"),
             "non_exclusive_license": N_("普通许可")}
PRICE_MODE = {"fixed": N_("一口价"), "negotiable": N_("面议"), "auction": N_("竞拍")}
LISTING_STATUS = {"draft": N_("草稿"), "pending_review": N_("待审核"), "published": N_("已发布"),
                  "reserved": N_("交易中"), "sold": N_("已成交"), "rejected": N_("已驳回"),
                  "withdrawn": N_("已撤回"), "expired": N_("已过期")}
# a right's legal status on the register (patents, trademarks)
PATENT_STATUS = {"pending": N_("审查中"), "granted": N_("已授权"), "lapsed": N_("未缴年费失效"),
                 "invalidated": N_("已宣告无效"), "expired": N_("保护期届满")}
TM_STATUS = {"registered": N_("已注册"), "pending": N_("申请中"), "opposed": N_("异议中"), "cancelled": N_("已撤销"),
             "invalidated": N_("已宣告无效")}
# licences on the register (encumbrances) by kind
LICENCE_TYPE = {"exclusive": N_("独占许可"), "sole": N_("排他许可"), "non_exclusive": N_("普通许可")}
GRADE = {"A": "A", "B": "B", "C": "C", "D": "D"}
CREDIT_LEVEL = {"good": N_("良好"), "warned": N_("警示"), "restricted": N_("受限"), "blacklisted": N_("黑名单")}
# who acts on a deal (escrow/machine.py's roles)
ROLE = {"buyer": N_("买方"), "seller": N_("卖方"), "operator": N_("平台运营"), "system": N_("系统")}
# payment gateways, where a deal record or a ledger account names one; the code stays the key
GATEWAY = {"offline": N_("银行转账"), "stripe": N_("在线支付"), "fake_stripe": N_("在线支付（测试）")}
DEAL_STATE = {
    "awaiting_payment": N_("待付款"),
    "funded": N_("资金已托管"),
    "transfer_filed": N_("变更已提交"),
    "recordal_submitted": N_("登记待平台核对"),
    "transfer_recorded": N_("变更已登记"),
    "released": N_("已放款"),
    "completed": N_("已完成"),
    "disputed": N_("争议处理中"),
    "cancelled": N_("已取消"),
    "refunded": N_("已退款"),
    "transfer_back": N_("回转登记中"),
}
# what an innovation voucher (finance.vouchers) may pay: the platform's fees in general, a valuation report's
# review, the platform fee on a deal (docs/finance.md "Innovation vouchers")
VOUCHER_SERVICE = {"valuation_review": N_("估值报告复核费"), "platform_fee": N_("平台服务费"),
                   "deal_fee": N_("交易服务费")}
# a loan application's status (finance.lending)
LOAN_STATUS = {"open": N_("征集报价中"), "accepted": N_("已接受报价"), "registration_submitted": N_("质押登记待核验"),
               "pledged": N_("质押已登记"), "release_pending": N_("已还款·待注销登记"),
               "release_submitted": N_("注销登记待核验"), "released": N_("质押已注销"), "withdrawn": N_("已撤回")}
# the finance desk's roles (finance.access)
FINANCE_ROLE = {"bank": N_("银行"), "valuer": N_("注册评估师"), "voucher_issuer": N_("创新券发放机构")}


def label(mapping, code):
    """``code``'s label in the current language (the code itself when it has none)."""
    text = mapping.get(code)
    return gettext(text) if text else code


def lazy(mapping):
    """The mapping with lazily translated labels: safe to build at import time."""
    return {code: lazy_gettext(text) if text != code else text for code, text in mapping.items()}


def role_names(codes):
    """A user's roles as words: ``["seller", "bank"]`` → "卖方、银行" (a finance role too; an unknown code as it is)."""
    return "、".join(label({**ROLE, **FINANCE_ROLE}, code) for code in codes or [])
