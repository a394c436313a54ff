"""One label registry (marketplace/kernel/labels.py): each enum's labels are written once, and every page,
the API and the statistics read the same words."""
import ast
from pathlib import Path

from flask_babel import refresh

from marketplace.kernel import labels
from tests.factories import code_packages

ROOT = Path(__file__).resolve().parents[2]
ENUMS = {name: getattr(labels, name) for name in ("KIND", "PATENT_TYPE", "DEAL_TYPE", "PRICE_MODE", "LISTING_STATUS",
                                                   "PATENT_STATUS", "TM_STATUS", "LICENCE_TYPE", "CREDIT_LEVEL",
                                                   "ROLE", "GATEWAY", "DEAL_STATE", "VOUCHER_SERVICE", "LOAN_STATUS",
                                                   "FINANCE_ROLE")}


# Mappings over an enum's codes that say something else than the code's name, each kept once:
DIFFERENT_WORDS = {
    ("escrow/timeline.py", "steps"),  # what happens at each step of the deal, not the state's name
    ("escrow/contracts.py", "LICENCE_TYPES"),  # the contract's statutory terms (独占实施许可), Chinese only
    ("escrow/contracts.py", "TRADEMARK_LICENCE_TYPES"),  # likewise for trademarks (独占使用许可)
    ("escrow/contracts.py", "REGISTER_LICENCE_TYPES"),  # the same terms' stem inside a contract sentence
}


def _is_label(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return any("\u4e00" <= ch <= "\u9fff" for ch in node.value)
    return isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("N_", "_l", "_", "lazy_gettext", "gettext")


def _owner(tree, target):
    """The function a dict is written in, else the name it is bound to."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(n is target for n in ast.walk(node)):
            return node.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and node.value is target and isinstance(node.targets[0], ast.Name):
            return node.targets[0].id
    return None


def test_no_second_copy_of_an_enums_labels():
    copies = []
    for pkg in code_packages():
        for path in (ROOT / pkg).rglob("*.py"):
            if path.name == "labels.py" or "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Dict) or not node.keys:
                    continue
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
                if not all(_is_label(v) for v in node.values):
                    continue
                if (str(path.relative_to(ROOT)), _owner(tree, node)) in DIFFERENT_WORDS:
                    continue
                for name, enum in ENUMS.items():
                    if len(keys) >= 2 and keys <= set(enum):
                        copies.append(f"{path.relative_to(ROOT)}:{node.lineno} repeats labels.{name}")
    assert not copies, "\n".join(copies)


def test_a_deal_state_reads_the_same_on_the_deal_page_and_in_the_statistics(app):
    from escrow import machine
    from marketplace.web import stats

    assert machine.STATE_LABELS is labels.DEAL_STATE
    with app.test_request_context("/?lang=en"):
        assert str(stats.DEAL_STATE_LABELS["funded"]) == labels.label(labels.DEAL_STATE, "funded") == "Funded"
    with app.test_request_context("/"):
        refresh()  # the test app keeps one app context: forget the English chosen above
        assert str(stats.DEAL_STATE_LABELS["funded"]) == "资金已托管"
        assert labels.label(labels.DEAL_STATE, "no_such_state") == "no_such_state"
