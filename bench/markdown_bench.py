"""Markdown rendering time against input size, for the patterns known to be super-linear in
Markdown renderers: the renderer in use (``listings.markup.render_markdown``, markdown-it-py + nh3)
side by side with the one it replaced (Python-Markdown 3 + nh3, reproduced below as the baseline).

    python bench/markdown_bench.py                  # sizes 1k, 2k, 5k, 10k, 20k characters (20k = MAX_DESCRIPTION)
    python bench/markdown_bench.py --sizes 1000,4000 --repeat 5

Each figure is the best of ``--repeat`` runs of one render, in milliseconds. "ERR" means the renderer
raised (RecursionError: a 500 on the listing page); "skip" means a smaller size already took more than
``--budget`` seconds, so the larger would only confirm the trend at a high cost. The last column is
the growth of the new renderer from the smallest to the largest size, divided by the growth of the
input (about 1.0 is linear). Needs ``Markdown`` (requirements-dev.txt) for the baseline.
"""
import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.setrecursionlimit(1000)  # the interpreter's default, as under gunicorn

import markdown as markdown_lib  # noqa: E402
import nh3  # noqa: E402

from listings.markup import _ALLOWED_TAGS, render_markdown  # noqa: E402


def old_render(text):
    """listings/markup.py render_markdown before issue 14 (Python-Markdown, tables + sane_lists)."""
    html = markdown_lib.markdown(text or "", extensions=["tables", "sane_lists"])
    html = re.sub(r"<(/?)h[12]\b", r"<\1h3", html)
    return nh3.clean(html, tags=_ALLOWED_TAGS, attributes={"a": {"href", "title"}},
                     url_schemes={"http", "https", "mailto"}, link_rel="nofollow noopener noreferrer")


def _repeat_to(unit, size):
    return (unit * (size // len(unit) + 1))[:size]


def _nested_list(size):
    lines, depth = [], 0
    while sum(len(x) + 1 for x in lines) < size:
        lines.append("  " * depth + "- x")
        depth += 1
    return "\n".join(lines)


PATTERNS = {
    "nested lists": _nested_list,
    "nested blockquotes": lambda n: ">" * (n - 2) + " x",
    "'* ' list markers on one line": lambda n: _repeat_to("* ", n - 1) + "a",
    "many [": lambda n: "[" * n,
    "many [a](": lambda n: _repeat_to("[a](", n),
    "nested [[[a](b)](b)](b)": lambda n: "[" * (n // 5) + "a" + "](b)" * (n // 5),
    "many *a": lambda n: _repeat_to("*a", n),
    "many _a": lambda n: _repeat_to("_a", n),
    "nested emphasis *_…_*": lambda n: "*_" * (n // 4) + "x" + "_*" * (n // 4),
    "long line of <": lambda n: "<" * n,
    "many '<a '": lambda n: _repeat_to("<a ", n),
    "many <!--": lambda n: _repeat_to("<!--", n),
    "many backticks": lambda n: "`" * (n // 3) + "a" + "``" * (n // 3),
    "many &#": lambda n: _repeat_to("&#", n),
    "link reference defs": lambda n: _repeat_to("[a]: <", n),
    "wide table": lambda n: _repeat_to("|a", n // 12) + "\n" + _repeat_to("|-", n // 12) + "\n"
                            + (_repeat_to("|b", n // 12) + "\n") * 10,
    "ordinary prose (zh + en)": lambda n: _repeat_to("本发明涉及**锂电池**正极材料，能量密度提升 30%。 A *cathode* [link](https://e.cn).\n\n", n),
}


def _time(fn, text, repeat):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            fn(text)
        except RecursionError:
            return None
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,2000,5000,10000,20000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--budget", type=float, default=3.0, help="seconds; larger sizes are skipped for a renderer")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    head = "".join(f"{s:>16,}" for s in sizes)
    print("render time, ms (old Python-Markdown / new markdown-it-py), by input size in characters\n")
    print(f"{'pattern':<32}{head}   new growth ÷ size growth")
    worst_new = 0.0
    for name, make in PATTERNS.items():
        cells, news, old_slow = [], [], False
        for size in sizes:
            text = make(size)
            old = None if old_slow else _time(old_render, text, 1 if size > sizes[0] else args.repeat)
            new = _time(render_markdown, text, args.repeat)
            news.append(new)
            worst_new = max(worst_new, new)
            if old is not None and old > args.budget * 1000:
                old_slow = True
            old_cell = "skip" if (old is None and old_slow) else ("ERR" if old is None else f"{old:.1f}")
            cells.append(f"{old_cell:>8}/{new:<7.1f}")
        ratio = (news[-1] / max(news[0], 0.001)) / (sizes[-1] / sizes[0])
        print(f"{name:<32}{''.join(cells)}   {ratio:.2f}")
    print(f"\nslowest single render with the new renderer: {worst_new:.1f} ms")


if __name__ == "__main__":
    main()
