"""Identifiers and classification codes: real-world valid and invalid examples."""
from datetime import date

import pytest

from listings import identifiers as ids
from listings.classifications import ipc_label, nice_classes, similar_groups


@pytest.mark.parametrize("raw, canonical, patent_type", [
    ("201710601862.3", "201710601862.3", "invention"),          # docs/design.md's example
    ("ZL201710601862.3", "201710601862.3", "invention"),
    ("CN 2017 1 0601862.3", "201710601862.3", "invention"),
    ("cn2017106018623", "201710601862.3", "invention"),         # no dot, lower case prefix
    ("ZL 201320123456.8", "201320123456.8", "utility_model"),   # hand-checked: 129 mod 11 = 8
    ("202230012345.4", "202230012345.4", "design"),
    ("202210100008.X", "202210100008.X", "invention"),          # hand-checked: 76 mod 11 = 10 -> X
    ("202210100008.x", "202210100008.X", "invention"),
    ("202180000001.4", "202180000001.4", "invention"),          # PCT national phase, invention
    ("99100001.3", "99100001.3", "invention"),                  # 1989-2003 format, hand-checked: 58 mod 11 = 3
    ("ZL93200002.9", "93200002.9", "utility_model"),
])
def test_valid_application_numbers(raw, canonical, patent_type):
    assert ids.normalize_application_number(raw, today=date(2026, 5, 1)) == (canonical, patent_type)


@pytest.mark.parametrize("raw, reason", [
    ("201710601862.4", "校验位错误：应为 3，实际为 4"),
    ("202210100008.1", "应为 X"),
    ("99100001.4", "应为 3"),
    ("201710601862", "缺少校验位：应为 201710601862.3"),
    ("201740601862.3", "专利类型"),                 # type digit 4 does not exist
    ("199910601862.3", "申请年份"),                 # 12-digit numbers start in 2003
    ("204010601862.3", "申请年份"),                 # the future
    ("05100001.1", "1989–2003"),                   # 8 digits after 2003
    ("2017106018.3", "格式应为"),
    ("", "必填"),
    ("201710601862.33", "一位校验位"),
    ("2017106018A2.3", "格式应为"),
])
def test_invalid_application_numbers(raw, reason):
    with pytest.raises(ids.InvalidIdentifier) as exc:
        ids.normalize_application_number(raw, today=date(2026, 5, 1))
    assert reason in str(exc.value)


def test_check_char_matches_the_published_weights():
    # weights 2,3,4,5,6,7,8,9,2,3,4,5; sum mod 11; 10 -> X
    assert ids.patent_check_char("201710601862") == "3"
    assert ids.patent_check_char("202210100008") == "X"
    assert ids.patent_check_char("98123456") == "9"


@pytest.mark.parametrize("raw, expected", [("91440300MA5F7YRE78", "91440300MA5F7YRE78"),
                                           ("9144 0300 MA5F 7YRE 78", "91440300MA5F7YRE78")])
def test_uscc_is_re_exported(raw, expected):
    assert ids.normalize_uscc(raw) == expected
    with pytest.raises(ids.InvalidUSCC, match="应为 8"):
        ids.normalize_uscc("91440300MA5F7YRE79")


@pytest.mark.parametrize("raw, expected", [("12345678", "12345678"), ("第 1234567 号", "1234567"),
                                           ("123,456", "123456")])
def test_registration_numbers(raw, expected):
    assert ids.normalize_registration_number(raw) == expected


@pytest.mark.parametrize("raw", ["", "ABC123", "0123456", "1234567890", "12-34"])
def test_bad_registration_numbers(raw):
    with pytest.raises(ids.InvalidIdentifier):
        ids.normalize_registration_number(raw)


def test_nice_classes_have_both_headings():
    table = nice_classes()
    assert sorted(table) == list(range(1, 46))
    assert table[9].kind == "goods" and table[42].kind == "services"
    assert "科学" in table[9].heading_zh and "Scientific" in table[9].heading_en
    assert ids.normalize_nice_class("09") == 9
    assert ids.normalize_nice_class("第35类") == 35
    for bad in (0, 46, "九", None, True, 9.5):
        with pytest.raises(ids.InvalidIdentifier):
            ids.normalize_nice_class(bad)


def test_similar_groups_belong_to_their_class():
    assert similar_groups()["0901"].nice_class == 9
    assert ids.normalize_similar_group("0901", [9, 42]) == "0901"
    assert ids.normalize_similar_group("4220", [42]) == "4220"
    with pytest.raises(ids.InvalidIdentifier, match="属于第9类"):
        ids.normalize_similar_group("0901", [35])
    with pytest.raises(ids.InvalidIdentifier, match="不存在"):
        ids.normalize_similar_group("0999", [9])
    with pytest.raises(ids.InvalidIdentifier, match="4位数字"):
        ids.normalize_similar_group("901", [9])


@pytest.mark.parametrize("raw, expected", [
    ("H04L 9/32", "H04L 9/32"), ("H04N1/21", "H04N 1/21"), ("h04l  9 / 32", "H04L 9/32"), ("G06F", "G06F"),
    ("G06F 16/3329", "G06F 16/3329"), ("A61K 31/00", "A61K 31/00"),
])
def test_ipc_codes(raw, expected):
    assert ids.normalize_ipc(raw) == expected


@pytest.mark.parametrize("raw, reason", [("H04", "格式"), ("I01B 1/00", "格式"), ("H04Z 9/32", "小类 H04Z 不存在"),
                                         ("H98L 1/00", "大类 H98 不存在"), ("H04L 9", "格式")])
def test_bad_ipc_codes(raw, reason):
    with pytest.raises(ids.InvalidIdentifier, match=reason):
        ids.normalize_ipc(raw)


def test_ipc_names():
    assert ipc_label("H04L 9/32").startswith("H04L — 电通信技术")
    assert "Electric communication" in ipc_label("H04L 9/32", "en")


@pytest.mark.parametrize("raw, expected", [("14-02", "14-02"), ("14.2", "14-02"), ("1402", "14-02"), ("99-00", "99-00")])
def test_locarno(raw, expected):
    assert ids.normalize_locarno(raw) == expected


@pytest.mark.parametrize("raw", ["33-01", "14-00", "14", "abc"])
def test_bad_locarno(raw):
    with pytest.raises(ids.InvalidIdentifier):
        ids.normalize_locarno(raw)


def test_terms():
    assert ids.expiry_date("patent", patent_type="invention", filing_date=date(2017, 7, 21)) == date(2037, 7, 21)
    assert ids.expiry_date("patent", patent_type="utility_model", filing_date=date(2020, 2, 29)) == date(2030, 2, 28)
    # designs: 10 years if filed before 2021-06-01, 15 from then on
    assert ids.expiry_date("patent", patent_type="design", filing_date=date(2021, 5, 31)) == date(2031, 5, 31)
    assert ids.expiry_date("patent", patent_type="design", filing_date=date(2021, 6, 1)) == date(2036, 6, 1)
    assert ids.expiry_date("trademark", registration_date=date(2018, 5, 7)) == date(2028, 5, 7)
