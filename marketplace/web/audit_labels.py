"""The operators' audit log in words (issue 17): actions, object types, changed fields and their values as
Chinese (or English) labels, never codes such as ``grade.assess`` or ``business_licence False → True``.

Template globals (``register(bp)``, the operator blueprint): ``audit_action``, ``audit_object``, ``audit_field``,
``audit_value``. Labels of deal states and acts come from the escrow state machine, of listing acts from the
listing lifecycle, of credit levels from ``marketplace.kernel.credit``: each label lives once. An unknown code is shown as
it is, so a new action never disappears from the log.
"""
from flask_babel import gettext as _

from escrow import machine as deal_machine
from escrow.machine import STATE_LABELS
from listings import lifecycle

from ..kernel.credit import LEVEL_LABELS
from ..kernel.i18n import N_

ACTIONS = {
    "grade.assess": "质量分级评定", "organization.verify": "单位核验通过", "organization.unverify": "撤销单位核验",
    "organization.licence_upload": "上传营业执照", "credit.record": "记录信用信息", "credit.appeal_decide": "处理信用申诉",
    "deposit.confirm": "确认保证金到账", "deposit.return": "退还保证金", "deposit.payout": "保证金罚没付给卖方",
    "payout_account.create": "添加收款账户", "payout_account.change": "修改收款账户", "payout_account.verify": "收款账户核验通过",
    "payout_account.reject": "驳回收款账户", "payout_account.micro_sent": "已发出小额打款",
    "payout_account.micro_failed": "小额打款核对失败", "right.correct": "更正权利登记信息", "right.holders": "更正权利人",
    "right.pledge": "登记质押", "right.pledge_end": "质押解除", "right.licence": "登记许可", "right.licence_end": "许可终止",
    "right.claim_upheld": "权属异议成立", "right.claim_dismissed": "权属异议驳回", "listing.relist": "重新发布挂牌",
    "deal.refund_confirmed": "确认退款到账",
    # issue 17: a published listing edited, messages read by operators in a dispute
    "listing.price_change": N_("修改价格"), "listing.description_change": N_("修改挂牌描述"),
    "listing.image_change": N_("更换商标图样"), "thread.read": N_("查看争议中的对话"),
    "thread.disclose": N_("在争议中出示对话"),
    # issues 16, 20, 22, 23 (the page walk found them as codes)
    "wanted.approve": N_("求购审核通过"), "wanted.reject": N_("驳回求购"), "account.delete": N_("注销账号"),
    "open_licence.declare": N_("声明开放许可"), "open_licence.withdraw": N_("撤回开放许可"),
    "royalty.confirm_payment": N_("确认许可费到账"), "royalty.payout": N_("许可费付给许可方"),
    "charge.transfer": N_("确认服务费到账"), "loan.pledge_verified": N_("核验质押登记"),
    "loan.pledge_released": N_("核验质押注销"), "user.finance_role": N_("变更融资角色"),
    "voucher.batch": N_("发放创新券"), "voucher.settle": N_("创新券兑付结清"), "valuation.sign_off": N_("估值复核签发"),
}
OBJECTS = {"listing": "挂牌", "organization": "单位", "user": "用户", "deal": "交易", "right": "权利",
           "credit_record": "信用记录", "auction_deposit": "保证金", "payout_account": "收款账户",
           "message_thread": N_("对话"), "wanted_ad": N_("求购"), "royalty_period": N_("许可费账期"),
           "service_charge": N_("服务费"), "loan_application": N_("融资申请"), "valuation": N_("估值"),
           "voucher_batch": N_("创新券批次")}
FIELDS = {
    "grade": "质量等级", "grade_score": "综合得分", "grade_needs_review": "待复核", "assessment_id": "评定编号",
    "business_licence": "营业执照", "verified": "核验状态", "state": "交易状态", "status": "状态", "note": "说明",
    "reason": "理由", "credit_level": "信用等级", "record_id": "记录编号", "violation": "违规类型", "evidence": "证据",
    "system": "系统自动", "refund_status": "退款状态", "payout_status": "付款状态", "amount": "金额", "roles": "角色",
    "decision": "决定", "claim_id": "异议编号", "encumbrance_id": "登记编号", "holders": "权利人", "legal_status": "法律状态",
    "tm_status": "商标状态", "annuity_paid_until": "年费缴至", "bank": "开户行", "account_number": "账号",
    "account_name": "户名", "relisted_as": "新挂牌编号",
    "price": N_("价格"), "description_chars": N_("描述字数"), "changed": N_("修改项"), "deal_id": N_("交易编号"),
    "image": N_("商标图样"), "deleted_at": N_("注销时间"), "reference": N_("流水号"), "number": N_("登记号"),
    "open_licence_id": N_("开放许可编号"), "programme": N_("项目"), "face_value": N_("面值"),
}
VALUES = {
    "status": {"draft": "草稿", "pending_review": "待审核", "published": "已发布", "rejected": "已驳回", "withdrawn": "已撤回",
               "reserved": "交易中", "sold": "已成交", "expired": "已过期", "awaiting_payment": "待付款", "held": "托管中",
               "returning": "退还中", "returned": "已退还", "forfeited": "已罚没", "pending": "处理中", "paid": "已支付",
               "verified": "已核验", "due": N_("待付"), "review_requested": N_("待复核"), "signed_off": N_("已签发"),
               "paid_out": N_("已付给许可方"), "pledged": N_("质押已登记"), "registration_submitted": N_("质押登记待核验")},
    "refund_status": {"pending": "处理中", "confirmed": "已到账"},
    "payout_status": {"pending": "处理中", "paid": "已支付"},
}


def audit_action(code):
    if code in ACTIONS:
        return _(ACTIONS[code])
    area, _sep, act = (code or "").partition(".")
    if area == "deal":
        label = deal_machine.ACTION_LABELS.get(act)
        return _("交易：%(act)s", act=_(label)) if label else code
    if area == "listing":
        label = lifecycle.ACTION_LABELS.get(act)
        return _("挂牌：%(act)s", act=_(label)) if label else code
    return code


def audit_object(kind):
    return _(OBJECTS[kind]) if kind in OBJECTS else kind


def audit_field(key):
    return _(FIELDS[key]) if key in FIELDS else key


def audit_value(key, value):
    """A changed value as words: 是/否, a state or level label, or the value itself."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        if key == "business_licence":
            return _("已上传") if value else _("未上传")
        if key == "verified":
            return _("已核验") if value else _("未核验")
        return _("是") if value else _("否")
    if key == "state":
        return _(STATE_LABELS[value]) if value in STATE_LABELS else value
    if key == "credit_level":
        return _(LEVEL_LABELS[value]) if value in LEVEL_LABELS else value
    if key == "roles" and isinstance(value, (list, tuple)):
        from ..kernel.labels import role_names

        return role_names(value)
    if key in VALUES and isinstance(value, str) and value in VALUES[key]:
        return _(VALUES[key][value])
    if isinstance(value, (list, tuple)):
        return "、".join(str(v) for v in value)
    return value


def register(bp):
    for fn in (audit_action, audit_object, audit_field, audit_value):
        bp.add_app_template_global(fn)
