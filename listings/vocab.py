"""The listings' vocabulary: labels shown to people and the fixed sets the rules use (one place)."""

from marketplace.kernel import labels

from . import identifiers as ids

STATUS_LABELS = labels.LISTING_STATUS
DEAL_TYPE_LABELS = labels.DEAL_TYPE
# the register licence a licence deal grants (listings.rules, listings.register)
LICENCE_OF_DEAL = {"exclusive_license": "exclusive", "sole_license": "sole", "non_exclusive_license": "non_exclusive"}
PRICE_MODE_LABELS = labels.PRICE_MODE
KIND_LABELS = labels.KIND
PATENT_TYPE_LABELS = ids.PATENT_TYPE_LABELS
LEGAL_STATUSES = labels.PATENT_STATUS
TM_STATUSES = labels.TM_STATUS
DEAD_LEGAL_STATUSES = {"lapsed", "invalidated", "expired"}
DEAD_TM_STATUSES = {"cancelled", "invalidated"}
EXCLUSIVE_DEAL_TYPES = {"exclusive_license", "sole_license"}
LICENSE_DEAL_TYPES = {"exclusive_license", "sole_license", "non_exclusive_license"}

MAX_RIGHTS = 100
MAX_DESCRIPTION = 20_000
MAX_PRICE = 10**14  # fen: 1万亿元, far beyond any real deal, keeps BIGINT arithmetic safe
MAX_AUCTION_DAYS = 90
# text and number bounds of a listing's input (listings/schemas.py for the API, validation.py for every input)
MAX_TITLE = 200
MAX_RIGHT_TITLE = 300
MAX_ABSTRACT = 5000
MAX_MARK_TEXT = 100
MAX_LICENSE_TERRITORY = 100
MAX_LICENSE_FIELD = 200
MAX_LICENSE_YEARS = 30
MAX_LICENSE_CAP = 100_000
MAX_CLAIMS = 1000
MAX_DISPUTES = 1000
# the rights register's corrections and decisions (listings/register_schemas.py for the API, register_input.py and
# register.py for every input)
MAX_CORRECTED_COUNT = 100_000  # a corrected claims count or disputes count
MIN_REASON, MAX_REASON = 2, 2000  # an operator's reason for a correction or a decision
MAX_CLAIM_NOTE = 2000  # a claimant's note on an ownership claim
RELIST_AUCTION_DAYS = 7  # a relisted auction's default close, from the moment of relisting
# An auction's deposit (保证金) is at most 20 % of the start price (法释〔2016〕18号: 起拍价的 5 %–20 %). A bound of
# the listing's input (validation.py), so it lives here with the others rather than in bidding.py, which
# validation.py could import only inside a function (bidding -> lifecycle -> validation is a cycle).
DEPOSIT_MAX_BPS = 2_000


def max_deposit(start_price):
    """The largest deposit (fen) an auction starting at ``start_price`` fen may ask for."""
    return max(1, start_price * DEPOSIT_MAX_BPS // 10_000)
