"""Amounts typed in 万元 ("26万", "26.5 万") as well as yuan: one parser (marketplace.kernel.money.parse_yuan)."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.kernel.money import format_yuan, parse_yuan
from marketplace.kernel.numbers import NumberError


@pytest.mark.parametrize("text,fen", [("26万", 26_000_000), ("26.5 万", 26_500_000), ("26.5万元", 26_500_000),
                                      ("￥1,200万", 1_200_000_000), (" 0.0001万 ", 100), ("0.000001万", 1),
                                      ("3.14159万", 3_141_590), ("26万元", 26_000_000), ("260000", 26_000_000)])
def test_wan_and_yuan_both_read(app, text, fen):
    assert parse_yuan(text) == fen


@pytest.mark.parametrize("text,reason", [
    ("0.0000001万", "六位小数"), ("万", "不是有效的金额"), ("abc万", "不是有效的金额"), ("1e3万", "不是有效的金额"),
    ("２６万", "不是有效的金额"), ("9" * 12 + "万", "金额过大"), ("26万万", "不是有效的金额"), ("26.555", "两位小数"),
    ("12 元", "不是有效的金额"), ("1" * 100 + "万", "数字过长"),
])
def test_refusals_name_one_reason(app, text, reason):
    with pytest.raises(NumberError) as exc:
        parse_yuan(text)
    message = str(exc.value)
    assert reason in message
    assert message.count("不是有效的金额") <= 1  # never "不是有效的金额：不是有效的金额"


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])  # the app only gives gettext a context
@given(fen=st.integers(min_value=0, max_value=10**17 - 1))
def test_wan_text_round_trips_to_the_fen(app, fen):
    wan, rest = divmod(fen, 1_000_000)
    text = f"{wan}.{rest:06d}万" if rest else f"{wan}万"
    assert parse_yuan(text) == fen
    assert parse_yuan(text.replace("万", " 万元")) == fen


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])  # the app only gives gettext a context
@given(fen=st.integers(min_value=0, max_value=10**17 - 1))
def test_yuan_and_wan_agree(app, fen):
    yuan, cents = divmod(fen, 100)
    assert parse_yuan(f"{yuan}.{cents:02d}") == fen
    if fen % 1_000_000 == 0:
        assert parse_yuan(f"{fen // 1_000_000}万") == parse_yuan(str(yuan))


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])  # the app only gives gettext a context
@given(text=st.text(max_size=60))
def test_anything_typed_is_fen_or_one_number_error(app, text):
    try:
        value = parse_yuan(text + "万")
    except NumberError as exc:
        assert str(exc)
    else:
        assert isinstance(value, int)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])  # the app only gives gettext a context
@given(fen=st.integers(min_value=1_000_000, max_value=10**16))
def test_shown_wan_price_is_read_back_within_half_a_hundredth(app, fen):
    """What format_yuan shows ("¥26.5万") typed back in gives the shown amount (rounded to 0.01万)."""
    shown = format_yuan(fen).removeprefix("¥")
    if shown.endswith("万"):
        assert abs(parse_yuan(shown) - fen) <= 5_000


def test_english_pages_show_plain_thousands(app):
    from marketplace.kernel.money import display_yuan

    assert display_yuan(22_000_000, locale="en") == "¥220,000"
    assert display_yuan(22_000_050, locale="en") == "¥220,000.50"
    assert display_yuan(22_000_000, locale="zh_CN") == "¥22万"
    assert display_yuan(-150, "USD", locale="en") == "-USD 1.50"
