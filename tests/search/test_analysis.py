"""The tokenizer: real word positions, sub-words at their word's position, Latin stemming, number spellings."""
import pytest

from search.analysis import ChineseEnglishTokenizer, number_key, number_variants, query_words, split_numbers


def tokens(text, mode="index"):
    return [(t.text, t.pos, t.startchar, t.endchar)
            for t in ChineseEnglishTokenizer()(text, positions=True, chars=True, mode=mode)]


def test_index_mode_gives_sub_words_the_position_of_their_word():
    toks = tokens("一种锂电池正极材料")
    by_text = {t[0]: t for t in toks}
    assert by_text["锂电池"][1] == by_text["电池"][1] == 1
    assert by_text["正极"][1] == 2  # the next word: positions count words, not characters
    assert by_text["电池"][2:] == (3, 5)  # character offsets stay exact (for highlighting)


def test_query_mode_is_precise_only():
    assert [t[0] for t in tokens("锂电池", mode="query")] == ["锂电池"]
    assert query_words("图像识别方法") == ["图像识别", "方法"]


def test_phrase_positions_are_consecutive():
    toks = tokens("一种基于深度学习的图像识别方法")
    positions = {t[0]: t[1] for t in toks}
    assert positions["方法"] == positions["图像识别"] + 1
    assert positions["识别"] == positions["图像识别"]


def test_latin_is_lower_cased_and_stemmed():
    assert query_words("Lithium-ion Batteries") == ["lithium", "ion", "batteri"]
    assert query_words("battery") == ["batteri"]


def test_full_width_latin_is_folded():
    assert query_words("ＢＡＴＴＥＲＹ") == ["batteri"]


@pytest.mark.parametrize("spelling", ["201710601862.3", "ZL201710601862.3", "CN 2017 1 0601862.3",
                                      "zl 201710601862.3", "CN201710601862.3", "2017106018623"])
def test_number_spellings_share_one_key(spelling):
    keys, rest = split_numbers(spelling)
    assert keys == ["2017106018623"]
    assert rest.strip() == ""


def test_numbers_are_pulled_out_of_mixed_text():
    keys, rest = split_numbers("电池 ZL201710601862.3 方法")
    assert keys == ["2017106018623"]
    assert query_words(rest) == ["电池", "方法"]


def test_short_numbers_stay_words():
    keys, rest = split_numbers("5G 2019 H04L 9/32")
    assert keys == []


def test_patent_number_also_indexed_without_check_digit():
    assert number_variants("201710601862.3") == ["2017106018623", "201710601862"]
    assert number_variants("12345678", "trademark") == ["12345678"]
    assert number_key("200410012345.X") == "200410012345x"


def _spans_folding_first(text, terms):
    """match_spans as it was before issue 18's session 8: the whole text folded first, every occurrence found."""
    import re

    from search.analysis import _CJK_WORD, _latin, normalise_text

    text = normalise_text(text)
    spans = []
    for term in terms:
        if _CJK_WORD.fullmatch(term):
            at = text.find(term)
            while at >= 0:
                spans.append((at, at + len(term)))
                at = text.find(term, at + 1)
    if any(not _CJK_WORD.fullmatch(t) for t in terms):
        spans += [m.span() for m in re.finditer(r"[A-Za-z0-9]+", text) if _latin(m.group()) in terms]
    merged = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


@pytest.mark.parametrize("text", [
    "一种锂电池正极材料，及其制备方法；锂电池（ＬＥＤ）用于电池", "ＬＥＤ灯　Batteries，battery 锂电池", "无匹配的文字。", "",
    "电池电池电池", "锂电 池", "The LITHIUM battery（锂电池）and ＢＡＴＴＥＲＩＥＳ"])
@pytest.mark.parametrize("terms", [{"锂电池"}, {"电池", "锂电池"}, {"batteri"}, {"led", "电池"}, {"lithium", "锂电"}, set()])
def test_highlight_spans_and_first_match_are_what_folding_everything_gave(text, terms):
    """Issue 18 (session 8): the text is folded only for Latin terms and a snippet asks for the first match only;
    what is marked, and where a snippet starts, is unchanged (full-width punctuation, letters, overlaps)."""
    from search.analysis import first_match, match_spans

    expected = _spans_folding_first(text, terms)
    assert match_spans(text, terms) == expected
    assert first_match(text, terms) == (expected[0][0] if expected else None)


def test_first_match_finds_a_full_width_latin_word_before_a_later_chinese_one():
    from search.analysis import first_match

    assert first_match("新型ＬＥＤ照明灯具", {"led", "灯具"}) == 2
    assert first_match("新型照明灯具", {"led"}) is None
