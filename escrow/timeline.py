"""What a deal page shows: the steps done and to come, who must act next and by when."""
from dataclasses import dataclass, field
from datetime import datetime

from marketplace.kernel.i18n import N_
from marketplace.kernel.messages import label, msg

from .machine import ACTION_LABELS, STATE_LABELS

MAIN_PATH = ("awaiting_payment", "funded", "transfer_filed", "recordal_submitted", "transfer_recorded", "released",
             "completed")

APPROVAL_NOTICE = {
    ("patent", "assignment"): N_("著录项目变更手续合格通知书"),
    ("patent", "license"): N_("专利实施许可合同备案通知书"),
    ("trademark", "assignment"): N_("商标转让核准公告"),
    ("trademark", "license"): N_("商标使用许可备案公告"),
}
DOCUMENT_KINDS = {"filing_receipt": N_("国家知识产权局受理回执"), "approval_notice": N_("登记核准文件")}


def deal_title(deal, text):
    """A deal notification's title, "交易 #42：" and ``text`` (a msgid marked with ``N_``), as a stored message."""
    return msg(N_("交易 #%(id)s：%(text)s"), id=deal.id, text=label(text))


def approval_notice_name(deal):
    kind = deal.listing.kind if deal.listing is not None else "patent"
    return APPROVAL_NOTICE[(kind, "assignment" if deal.deal_type == "assignment" else "license")]


@dataclass
class NextStep:
    actor: str | None  # buyer | seller | operator | system | None (nothing left)
    text: str  # a Chinese msgid with %(name)s placeholders, translated by the page
    deadline: datetime | None = None
    params: dict = field(default_factory=dict)

    @property
    def label(self):
        return self.text % self.params if self.params else self.text


def next_step(deal):
    """Who must act next on ``deal``, what they do, and the deadline (if any)."""
    state = deal.state
    unsigned = _unsigned(deal) if state == "awaiting_payment" else []
    if unsigned:  # issue 15: the contract comes first
        return NextStep(unsigned[0], N_("买方与卖方审阅并签署合同（签署后方可付款）"), deal.payment_due_at)
    if state == "recordal_submitted":
        return NextStep("operator", N_("平台核对卖方填写的登记信息与文件是否一致"))
    if state == "awaiting_payment":
        if deal.gateway == "offline":
            return NextStep("buyer", N_("买方转账付款（附言填写 %(reference)s），平台核对到账"), deal.payment_due_at,
                            {"reference": deal.payment_reference})
        return NextStep("buyer", N_("买方在线付款"), deal.payment_due_at)
    if state == "funded":
        return NextStep("seller", N_("卖方向国家知识产权局提交变更申请并上传受理回执"), deal.transfer_due_at)
    if state == "transfer_filed":
        return NextStep("seller", N_("卖方在登记完成后上传%(document)s"), None, {"document": approval_notice_name(deal)})
    if state == "transfer_recorded":
        return NextStep("buyer", N_("买方核对登记结果并确认验收（期满自动放款）"), deal.inspection_ends_at)
    if state == "disputed":
        return NextStep("operator", N_("平台处理争议：放款、退款或按比例分配"))
    if state == "released":
        if deal.payout_status == "failed" and deal.gateway != "offline":
            return NextStep("system", "向卖方转账结果待核实：系统按转账组对账后重试，不会重复付款")
        if deal.payout_status == "failed":
            return NextStep("operator", N_("付款失败，平台人工向卖方付款"))
        if deal.gateway == "offline" or deal.payout_status == "pending":
            return NextStep("operator", N_("平台向卖方付款并登记银行流水号"))
        return NextStep("system", N_("支付通道向卖方付款"))
    return NextStep(None, STATE_LABELS[state])


def steps(deal):
    """The main path as rows: label, when it happened, and done / current / pending."""
    reached = {e.to_state: e.created_at for e in deal.events if e.to_state != e.from_state}
    labels = {
        "awaiting_payment": N_("下单"),
        "funded": N_("付款到账，资金托管"),
        "transfer_filed": N_("提交变更申请"),
        "recordal_submitted": N_("卖方上传登记核准文件，平台核对"),
        "transfer_recorded": N_("变更登记完成，开始验收"),
        "released": N_("放款"),
        "completed": N_("卖方收款，交易完成"),
    }
    rows = []
    current = deal.state if deal.state in MAIN_PATH else None
    for state in MAIN_PATH:
        at = reached.get(state)
        if state == current and not deal.is_terminal:
            status = "current"
        elif at is not None:
            status = "done"
        else:
            status = "pending"
        rows.append({"state": state, "label": labels[state], "at": at, "status": status})
    if deal.state in ("disputed", "cancelled", "refunded") or deal.dispute_reason:
        for event in deal.events:
            if event.to_state in ("disputed", "cancelled", "refunded") and event.from_state != event.to_state:
                rows.append({"state": event.to_state, "label": ACTION_LABELS.get(event.action, event.action),
                             "at": event.created_at,
                             "status": "current" if event.to_state == deal.state == "disputed" else "done"})
        rows.sort(key=lambda r: (r["at"] is None, r["at"] or datetime.max))
    return rows


def _unsigned(deal):
    """The parties yet to sign the deal's contract (buyer first)."""
    from .contracts import SIGNING_ROLES, signed_roles

    signed = signed_roles(deal)
    return [role for role in SIGNING_ROLES if role not in signed]
