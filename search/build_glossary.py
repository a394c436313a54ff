"""Derive zh↔en term pairs from the IPC scheme headings (``listings/data/ipc_scheme_subclass.csv``).

Run ``python -m search.build_glossary`` after the scheme file changes; it rewrites
``search/data/glossary_ipc.tsv`` (committed, so nothing is derived at start-up).

A heading is not paired whole: the Chinese and English titles are cut the same way on both
sides and paired piece by piece only where both sides cut into the same number of pieces:

1. notes in brackets and cross-references (…入 C12P …) are dropped;
2. the title is cut on semicolons (农业；林业；畜牧业 / AGRICULTURE; FORESTRY; ANIMAL HUSBANDRY);
3. a piece's examples are cut off (混合，例如，溶解、乳化或分散 / MIXING, e.g. DISSOLVING,
   EMULSIFYING, DISPERSING): the head pairs with the head, the examples one by one;
4. a head or example list is cut on 、/或/和 and ,/OR/AND (放电管或放电灯 / DISCHARGE TUBES OR
   DISCHARGE LAMPS), unless its items carry 的 or of/for/in …, which the two languages order
   differently (一般机器或发动机的冷却 / COOLING OF MACHINES OR ENGINES IN GENERAL).

Only short terms are kept (2–8 Chinese characters, 1–4 English words), and not the generic ones
(一般, 其他, 零部件, 方法, 装置 …), which would pair with anything.
"""
import csv
import re
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "listings" / "data" / "ipc_scheme_subclass.csv"
TARGET = Path(__file__).resolve().parent / "data" / "glossary_ipc.tsv"

_BRACKETS = re.compile(r"[（(][^（）()]*[）)]")
_XREF = re.compile(r"[入见按]\s*[A-H]\d.*$")
_ZH_EXAMPLE = re.compile(r"[，,]?\s*(?:例如|如|诸如|比如)[，,：:]?\s*")
_EN_EXAMPLE = re.compile(r",?\s*(?:e\.g\.|such as|i\.e\.)\s*,?\s*", re.I)
_ZH_LIST = re.compile(r"[、，,]|或|和|与|及")
_EN_LIST = re.compile(r",\s*|\s+(?:or|and)\s+", re.I)
_ZH_TERM = re.compile(r"[\u4e00-\u9fff]{2,8}")
_EN_TERM = re.compile(r"[A-Za-z][A-Za-z\- ]{1,40}")
GENERIC_ZH = {
    "一般", "其他", "零部件", "附件", "方法", "装置", "设备", "其制备", "制备", "应用", "使用", "处理", "其他类目不包括的",
    "本部其他类目不包括的技术主题", "类似物", "部件", "附属设备", "专用", "组合", "测试", "其零部件", "其附件",
}
GENERIC_EN = {"general", "details", "methods", "method", "apparatus", "devices", "device", "accessories",
              "processes", "process", "the like", "like", "other", "thereof", "preparation thereof", "making thereof",
              "use", "uses", "means", "parts", "systems", "treatment", "in general", "or the like", "machines",
              "machine", "vehicles", "components", "elements", "materials", "products", "compounds", "equipment",
              "installations", "plants", "tools", "instruments", "arrangements", "units", "articles", "substances"}


def _clean(text):
    previous = None
    while previous != text:
        previous, text = text, _BRACKETS.sub("", text)
    return _XREF.sub("", text).strip(" ，,。.;；")


def _pieces(text, pattern):
    return [p.strip(" ，,。.;；:：") for p in pattern.split(text) if p and p.strip(" ，,。.;；:：")]


def _keep(zh, en):
    en = " ".join(en.lower().split())
    en = re.sub(r"^(?:in general|general)\s+", "", en)
    en = re.sub(r"\s+in general$", "", en)
    if not _ZH_TERM.fullmatch(zh) or zh in GENERIC_ZH or zh.startswith(("一般", "其他", "用于", "专门")) or "的" in zh:
        return None
    if not _EN_TERM.fullmatch(en) or en in GENERIC_EN or len(en.split()) > 4:
        return None
    if en.split()[0] in ("or", "and", "processing", "other") or "therefor" in en:
        return None
    if any(w in en.split() for w in ("for", "of", "not", "otherwise", "specially", "with", "by", "to", "from")):
        return None
    return zh, en


_REORDERING = re.compile(r"的|\b(?:of|for|in|by|with|to|on)\b", re.I)


def _pair_lists(zh_items, en_items, out, code):
    """Pair items one to one. A list whose items carry 的 or of/for/in … is skipped: the two languages order
    such phrases differently (发动机的冷却 / COOLING OF ENGINES), so item n need not translate item n."""
    if len(zh_items) > 1 and any(_REORDERING.search(item) for item in zh_items + en_items):
        return
    if len(zh_items) == len(en_items):
        for zh, en in zip(zh_items, en_items, strict=True):
            kept = _keep(zh, en)
            if kept:
                out.setdefault(kept, code)


def derive(rows):
    """{(zh, en): first IPC code it came from}."""
    out = {}
    for row in rows:
        zh_title, en_title = _clean(row["title_zh"] or ""), _clean(row["title_en"] or "")
        if not zh_title or not en_title:
            continue
        zh_parts = _pieces(zh_title, re.compile("[；;]"))
        en_parts = _pieces(en_title, re.compile(";"))
        if len(zh_parts) != len(en_parts):
            continue
        for zh, en in zip(zh_parts, en_parts, strict=True):
            zh_head, *zh_ex = _ZH_EXAMPLE.split(zh, maxsplit=1)
            en_head, *en_ex = _EN_EXAMPLE.split(en, maxsplit=1)
            if bool(zh_ex) != bool(en_ex):
                continue
            _pair_lists([zh_head.strip(" ，,")], [en_head.strip(" ,")], out, row["code"])
            _pair_lists(_pieces(zh_head, _ZH_LIST), _pieces(en_head, _EN_LIST), out, row["code"])
            if zh_ex:
                _pair_lists(_pieces(zh_ex[0], _ZH_LIST), _pieces(en_ex[0], _EN_LIST), out, row["code"])
    return out


def main():
    with SOURCE.open(encoding="utf-8", newline="") as fh:
        pairs = derive(csv.DictReader(fh))
    with TARGET.open("w", encoding="utf-8") as fh:
        fh.write("# zh\ten\tIPC code — generated by `python -m search.build_glossary` from listings/data/"
                 "ipc_scheme_subclass.csv (CNIPA IPC 2026.01 zh, WIPO IPC 8th ed. en); do not edit by hand,\n"
                 "# put corrections into glossary.tsv (curated, wins over this file).\n")
        for (zh, en), code in sorted(pairs.items(), key=lambda kv: (kv[1], kv[0])):
            fh.write(f"{zh}\t{en}\t{code}\n")
    print(f"{len(pairs)} pairs written to {TARGET}")


if __name__ == "__main__":
    main()
