"""The packages' one-way dependencies (issue 20, docs/architecture.md "Packages"): the kernel
(marketplace.kernel) imports no domain package and nothing of the shell (marketplace.web); the domain packages
import the kernel, never the shell. Checked twice: by what importing the kernel loads in a fresh interpreter, and
by every import statement in the source (those inside functions too)."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOMAINS = ("listings", "escrow", "search", "demand", "finance", "messaging")
KERNEL = ROOT / "marketplace" / "kernel"


def kernel_modules():
    return sorted("marketplace.kernel" + ("" if path.stem == "__init__" else f".{path.stem}")
                  for path in KERNEL.glob("*.py"))


def loaded_after_import(modules):
    """The domain and shell modules in sys.modules after importing ``modules`` in a fresh interpreter."""
    code = (f"import importlib, sys\nfor name in {modules!r}: importlib.import_module(name)\n"
            f"print('\\n'.join(sorted(m for m in sys.modules if m.split('.')[0] in {DOMAINS!r} "
            f"or m.startswith('marketplace.web'))))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_importing_the_kernel_loads_no_domain_package_and_not_the_shell():
    modules = kernel_modules()
    assert len(modules) > 20
    loaded = loaded_after_import(modules)
    if loaded:  # name the module that pulls them in
        culprits = {name: found for name in modules if (found := loaded_after_import([name]))}
        raise AssertionError(f"the kernel loads {loaded}: {culprits}")


def imports_of(path):
    """(line, imported module) of every import statement in the file, relative ones resolved."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}" if not node.module or node.level else base


def forbidden(paths, refuse):
    return [f"{path.relative_to(ROOT)}:{line}: {name}" for path in paths for line, name in imports_of(path)
            if refuse(name)]


def test_no_import_in_the_kernel_names_a_domain_package_or_the_shell():
    def refuse(name):
        return name.split(".")[0] in DOMAINS or name.startswith("marketplace.web")

    assert forbidden(sorted(KERNEL.rglob("*.py")), refuse) == []


def test_domain_packages_import_the_kernel_never_the_shell():
    paths = sorted(path for domain in DOMAINS for path in (ROOT / domain).rglob("*.py"))
    assert len(paths) > 50
    assert forbidden(paths, lambda name: name.startswith("marketplace.web")) == []


def test_the_check_sees_what_it_should():
    """The checker resolves relative imports and imports inside functions (so the tests above can fail)."""
    jobs = KERNEL / "jobs.py"
    names = [name for _line, name in imports_of(jobs)]
    assert "marketplace.kernel.observability.current_request_id" in names
    assert "marketplace.create_app" in names  # inside _worker_app: the package's factory, looked up by name
    sample = ROOT / "marketplace" / "web" / "app.py"
    assert any(name.startswith("escrow.") for _line, name in imports_of(sample))


def test_trading_acts_live_in_escrow_trading_and_the_bidding_rules_write_nothing():
    """One place for trading (docs/architecture.md "Where each rule lives"): every act is defined in
    escrow/trading.py, none is an alias of another module's function, and listings/bidding.py (the rules and
    the reads a listing page needs) changes no row and tells nobody."""
    acts = {"place_bid", "make_offer", "counter_offer", "decline_offer", "accept_offer", "buy_now",
            "close_auction", "close_due_auctions", "expire_offers", "run_market_deadlines"}
    trading = ast.parse((ROOT / "escrow" / "trading.py").read_text())
    defined = {node.name for node in trading.body if isinstance(node, ast.FunctionDef)}
    assert acts <= defined
    assert [ast.unparse(node) for node in trading.body if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Attribute)] == []
    bidding = ast.parse((ROOT / "listings" / "bidding.py").read_text())
    assert acts & {node.name for node in bidding.body if isinstance(node, ast.FunctionDef)} == set()
    writes = [ast.unparse(node) for node in ast.walk(bidding)
              if isinstance(node, (ast.Assign, ast.AugAssign)) and any(
                  isinstance(target, ast.Attribute) for target in getattr(node, "targets", [getattr(node, "target", None)]))]
    calls = [ast.unparse(node) for node in ast.walk(bidding) if isinstance(node, ast.Call) and (
        getattr(node.func, "attr", None) in {"add", "delete", "flush", "commit"}
        or getattr(node.func, "id", None) == "notify")]
    assert writes == [] and calls == []
