"""The deal state machine, as ONE table: (state, action) → next state, who may do it, and a guard.

Roles are relative to the deal: ``buyer``, ``seller``, ``operator`` (platform staff)
and ``system`` (deadlines, gateway webhooks). A row whose ``to`` is ``IGNORED``
marks a duplicate (a payment confirmation replayed after the deal was funded): it
is accepted and changes nothing, as Indico treats a repeated provider callback.

``check(state, action, roles)`` is the only place the table is read: it returns the
row, or raises PermissionDenied (403: that role may not do this action here) or
IllegalTransition (409: not in this state). Guards (deadlines) are named here and
evaluated by ``escrow.deals``.
"""
from dataclasses import dataclass

from flask_babel import gettext as _

from marketplace.kernel import labels
from marketplace.kernel.errors import IllegalTransition, PermissionDenied
from marketplace.kernel.i18n import N_

from .models import DEAL_STATES

IGNORED = "ignored"
ROLES = ("buyer", "seller", "operator", "system")

STATE_LABELS = labels.DEAL_STATE
ACTION_LABELS = {
    "open": N_("下单"),
    "pay": N_("发起付款"),
    "confirm_payment": N_("确认到账"),
    "cancel": N_("取消交易"),
    "expire_payment": N_("付款逾期取消"),
    "file_transfer": N_("提交变更申请"),
    "record_transfer": N_("上传登记核准文件"),
    "accept": N_("确认验收"),
    "lapse_inspection": N_("验收期满放款"),
    "dispute": N_("提出争议"),
    "resolve_release": N_("裁决：放款"),
    "resolve_refund": N_("裁决：退款"),
    "resolve_split": N_("裁决：按比例分配"),
    "payout_paid": N_("卖方款项已支付"),
    "transfer_overdue": N_("卖方办理逾期"),
    "payment_mismatch": N_("到账异常"),
    "refund_confirmed": N_("退款已到账"),
    "payout_failed": N_("付款失败"),
    "transfer_back": N_("裁决退款，待回转登记"),
    "confirm_reversal": N_("回转登记已完成"),
    "acknowledge_licences": N_("确认知悉在先许可"),
    "claim_upheld": N_("权属异议成立，交易中止"),
    # issue 15: the contract and the checked recordal (escrow.contracts, escrow.recordal)
    "sign_contract": N_("签署合同"),
    "confirm_filing": N_("买方确认已共同提交转让申请"),
    "verify_recordal": N_("平台核对登记无误"),
    "reject_recordal": N_("登记信息退回卖方"),
    "invoice_requested": N_("申请发票"),
    "invoice_issued": N_("登记发票号码"),
    "tech_contract_registered": N_("登记技术合同"),
    # issue 16: the licensor wrote a licence deal's royalty structure into the unsigned contract (escrow.royalties)
    "royalty_terms": N_("约定许可费条款"),
}
ROLE_LABELS = labels.ROLE


@dataclass(frozen=True)
class Transition:
    to: str  # next state, or IGNORED
    roles: frozenset
    guard: str | None = None  # payment_overdue | transfer_overdue | inspection_over


def _t(to, *roles, guard=None):
    return Transition(to, frozenset(roles), guard)


_PAYMENT_DUPLICATE = _t(IGNORED, "operator", "system")

TABLE = {
    ("awaiting_payment", "pay"): _t("awaiting_payment", "buyer"),
    ("awaiting_payment", "confirm_payment"): _t("funded", "operator", "system"),
    ("awaiting_payment", "cancel"): _t("cancelled", "buyer", "operator"),
    ("awaiting_payment", "expire_payment"): _t("cancelled", "system", guard="payment_overdue"),
    # Both parties sign the contract before paying (escrow.contracts: pay and confirm_payment check it).
    ("awaiting_payment", "sign_contract"): _t("awaiting_payment", "buyer", "seller"),

    ("funded", "file_transfer"): _t("transfer_filed", "seller"),
    ("funded", "cancel"): _t("refunded", "buyer", "operator", guard="transfer_overdue"),
    ("funded", "dispute"): _t("disputed", "buyer", "seller"),
    ("funded", "confirm_payment"): _PAYMENT_DUPLICATE,

    # Recordal that is checked (escrow.recordal): the seller uploads CNIPA's notice with its details
    # (record_transfer), an operator verifies them against the document, and only then is the transfer
    # recorded and the inspection window open; or rejects them back to the seller with a reason.
    # A trademark assignment is filed jointly: the buyer confirms the filing before the notice counts.
    ("transfer_filed", "confirm_filing"): _t("transfer_filed", "buyer"),
    ("transfer_filed", "record_transfer"): _t("recordal_submitted", "seller"),
    ("transfer_filed", "dispute"): _t("disputed", "buyer", "seller"),
    ("transfer_filed", "confirm_payment"): _PAYMENT_DUPLICATE,

    ("recordal_submitted", "verify_recordal"): _t("transfer_recorded", "operator"),
    ("recordal_submitted", "reject_recordal"): _t("transfer_filed", "operator"),
    ("recordal_submitted", "confirm_payment"): _PAYMENT_DUPLICATE,

    ("transfer_recorded", "accept"): _t("released", "buyer"),
    ("transfer_recorded", "lapse_inspection"): _t("released", "system", guard="inspection_over"),
    ("transfer_recorded", "dispute"): _t("disputed", "buyer", "seller"),
    ("transfer_recorded", "confirm_payment"): _PAYMENT_DUPLICATE,

    ("disputed", "resolve_release"): _t("released", "operator"),
    ("disputed", "resolve_refund"): _t("refunded", "operator"),
    ("disputed", "resolve_split"): _t("released", "operator"),
    ("disputed", "confirm_payment"): _PAYMENT_DUPLICATE,

    # A refund or split decided after CNIPA recorded the transfer (resolve_refund / resolve_split on a
    # deal with ``recorded_at``) moves to transfer_back instead: the escrow holds the money until the
    # transfer back (回转登记) is recorded and an operator confirms it (refunded, or released for a
    # split), or decides otherwise (resolve_release: the buyer keeps the right, the seller is paid).
    ("transfer_back", "confirm_reversal"): _t("refunded", "operator"),
    ("transfer_back", "resolve_release"): _t("released", "operator"),
    ("transfer_back", "confirm_payment"): _PAYMENT_DUPLICATE,

    # An operator upheld a claim to a right the deal trades (listings.register.decide_claim): the system
    # stops the deal. Unpaid: cancelled. Paid (the money is in escrow): disputed, so the escrow holds the
    # money until an operator resolves the dispute (release, refund, split). Already disputed: noted.
    ("awaiting_payment", "claim_upheld"): _t("cancelled", "system"),
    ("funded", "claim_upheld"): _t("disputed", "system"),
    ("transfer_filed", "claim_upheld"): _t("disputed", "system"),
    ("transfer_recorded", "claim_upheld"): _t("disputed", "system"),
    ("transfer_back", "claim_upheld"): _t("disputed", "system"),
    ("disputed", "claim_upheld"): _t("disputed", "system"),
    # Released but the seller not paid yet: the release is reversed (the money back in escrow) and the deal
    # disputed, the payout blocked until an operator decides (released after a split an operator decided:
    # flagged, stays). A completed deal is no transition: it is only flagged for operators
    # (escrow.deals.flag_completed_for_upheld_claim).
    ("released", "claim_upheld"): _t("disputed", "system"),

    ("released", "payout_paid"): _t("completed", "operator", "system"),
    ("released", "confirm_payment"): _PAYMENT_DUPLICATE,

    ("completed", "payout_paid"): _t(IGNORED, "operator", "system"),
    ("completed", "confirm_payment"): _PAYMENT_DUPLICATE,
    ("refunded", "confirm_payment"): _PAYMENT_DUPLICATE,  # a refunded deal was funded: a repeat is that payment
}
ACTIONS = tuple(dict.fromkeys(action for _state, action in TABLE))

assert all(state in DEAL_STATES for state, _action in TABLE)
assert all(t.to in DEAL_STATES + (IGNORED,) for t in TABLE.values())


def roles_for_action(action):
    """Every role that may do ``action`` in some state."""
    return frozenset().union(*(t.roles for (_s, a), t in TABLE.items() if a == action))


def allowed(state, action, roles):
    """The row if one of ``roles`` may do ``action`` in ``state`` (guards aside), else None."""
    row = TABLE.get((state, action))
    if row is not None and row.roles & set(roles):
        return row
    return None


def check(state, action, roles):
    """Return the table row for ``action`` in ``state`` by an actor holding ``roles``, or raise.

    403 when none of the actor's roles may do the action in this state; 409 when
    they could in some other state but not in this one.
    """
    roles = set(roles)
    label = _(ACTION_LABELS[action]) if action in ACTION_LABELS else action
    row = TABLE.get((state, action))
    if row is None:
        if not roles & roles_for_action(action):
            raise PermissionDenied(_("您无权执行“%(action)s”", action=label), action=action)
        raise IllegalTransition(_("交易当前状态为“%(state)s”，不能执行“%(action)s”", state=_(STATE_LABELS[state]),
                                  action=label),
                                state=state, action=action)
    if not roles & row.roles:
        who = "、".join(_(ROLE_LABELS[r]) for r in ROLES if r in row.roles)
        raise PermissionDenied(_("只有%(who)s可以执行“%(action)s”", who=who, action=label), action=action)
    return row


def actions_for(state, roles):
    """Actions ``roles`` may take in ``state`` (excluding ignored duplicates), in table order."""
    return [action for (s, action), row in TABLE.items()
            if s == state and row.to != IGNORED and row.roles & set(roles)]
