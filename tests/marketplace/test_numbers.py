"""marketplace.kernel.numbers: the one bounded parser for amounts, counts, ids and page numbers (issue 14)."""
import pytest

from marketplace.kernel import numbers
from marketplace.kernel.money import parse_yuan
from marketplace.kernel.numbers import NumberError

REFUSED_TEXT = ["", " ", "abc", "１２３", "٣", "²", "1_000", "1e3", "1E3", "0x10", "nan", "NaN", "inf", "-inf",
                "Infinity", "-Infinity", "1e999", "12.5", "1,000", "+-1", "9" * 19, "9" * 10_000, "1" * 100_000,
                "\u0661\u0662", "1\u00a0000", "--1"]


@pytest.mark.parametrize("text,value", [("0", 0), ("12", 12), (" 7 ", 7), ("-3", -3), ("+4", 4), ("007", 7),
                                        ("9" * 18, 10**18 - 1)])
def test_parse_int_takes_ascii_digits(app, text, value):
    assert numbers.parse_int(text) == value


@pytest.mark.parametrize("text", REFUSED_TEXT)
def test_parse_int_refuses_everything_else(app, text):
    with pytest.raises(NumberError):
        numbers.parse_int(text)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), 1.5, 1e300, True, None, [1], {"a": 1},
                                   10**400])
def test_parse_int_refuses_odd_json_values(app, value):
    with pytest.raises(NumberError):
        numbers.parse_int(value)


def test_parse_int_takes_json_numbers_and_bounds(app):
    assert numbers.parse_int(5.0) == 5 and numbers.parse_int(12) == 12
    assert numbers.parse_int("5", minimum=1, maximum=5) == 5
    with pytest.raises(NumberError, match="不能小于"):
        numbers.parse_int("0", minimum=1)
    with pytest.raises(NumberError, match="不能大于"):
        numbers.parse_int("6", maximum=5)


@pytest.mark.parametrize("text,fen", [("12,000.50", 1_200_050), ("¥500", 50_000), ("￥5", 500), ("1.500", 150),
                                      (".5", 50), ("5.", 500), ("-3", -300), ("1，000", 100_000), ("0.01", 1)])
def test_parse_yuan_takes_what_people_type(app, text, fen):
    assert parse_yuan(text) == fen


@pytest.mark.parametrize("text", ["", ".", "1.234", "Infinity", "-Infinity", "NaN", "nan", "inf", "1e5", "1E-2",
                                  "８", "٣", "9" * 16, "1" * 10_000, "1e999999999", "1.2.3", "¥", "12 元"])
def test_parse_yuan_refuses_everything_else(app, text):
    with pytest.raises(ValueError):
        parse_yuan(text)


def test_query_int_falls_back_to_the_default(app):
    args = {"page": "٣", "big": "9" * 10_000, "ok": "3"}
    assert numbers.query_int(args, "page", 1) == 1
    assert numbers.query_int(args, "big", 1) == 1
    assert numbers.query_int(args, "ok", 1, maximum=2) == 1
    assert numbers.query_int(args, "ok", 1) == 3
    assert numbers.query_int(args, "missing", 7) == 7


def test_int_field_collects_the_reason(app):
    fields = {}
    assert numbers.int_field("１２", fields, "claims_count") is None
    assert numbers.int_field("", fields, "price", required=True) is None
    assert numbers.int_field("12", fields, "ok") == 12
    assert set(fields) == {"claims_count", "price"}


@pytest.mark.parametrize("text", ['{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}', '{"a": 1e999}',
                                  '{"a": %s}' % ("9" * 30), '{"a": [1, 2, %s]}' % ("1" * 5000)])
def test_json_bodies_refuse_nan_infinity_and_long_numbers(app, text):
    with pytest.raises(numbers.JSONNumberError):
        app.json.loads(text)


def test_json_bodies_take_ordinary_numbers(app):
    assert app.json.loads('{"a": 1.5, "b": -7, "c": 123456789012345678, "d": 0.000001}') == {
        "a": 1.5, "b": -7, "c": 123456789012345678, "d": 0.000001}


def test_parse_decimal(app):
    assert str(numbers.parse_decimal("7.25")) == "7.25"
    for text in ["1e999999999", "NaN", "Infinity", "７", "1.1234567", "9" * 19]:
        with pytest.raises(NumberError):
            numbers.parse_decimal(text)
