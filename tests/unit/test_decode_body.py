"""decode_body: every JSON body RFC 8259 allows is read; what UTF-8 cannot carry becomes U+FFFD."""

from __future__ import annotations

import json
from decimal import Decimal

import msgspec
import pytest

from tap_zohocrm.responses import decode_body, lone_surrogates_replaced
from tap_zohocrm.schema.values import ValueMismatch, json_number, to_integer, to_number


def test_a_plain_body_takes_the_fast_path_and_reports_nothing() -> None:
    body = decode_body(b'{"data":[{"a":"caf\xc3\xa9 \\ud83d\\ude00","n":1.5,'
                       b'"i":9223372036854775807}]}')
    assert body == {"data": [{"a": "café 😀", "n": 1.5, "i": 2**63 - 1}]}
    assert type(body) is dict and lone_surrogates_replaced(body) == 0


def test_lone_surrogates_become_u_fffd_and_are_counted() -> None:
    raw = (b'{"data":[{"a":"x\\ud800y","b":"\\udfff","c":"\\ud83d\\ude00",'
           b'"\\udc00k":["\\ud800\\ud800"]}]}')
    with pytest.raises(msgspec.DecodeError):  # what the fast path alone did: no page at all
        msgspec.json.decode(raw)
    body = decode_body(raw)
    assert body == {"data": [{"a": "x\ufffdy", "b": "\ufffd", "c": "😀",
                              "\ufffdk": ["\ufffd\ufffd"]}]}
    assert lone_surrogates_replaced(body) == 4  # strings changed: three values and one key
    msgspec.json.encode(body)  # UTF-8 output takes it


def test_a_pair_sent_as_raw_cesu_bytes_is_one_character_again() -> None:
    body = decode_body('{"a":"\ud83d\ude00 \ud800"}'.encode("utf-8", "surrogatepass"))
    assert body == {"a": "😀 \ufffd"}
    assert lone_surrogates_replaced(body) == 1


def test_a_body_neither_reader_takes_is_a_value_error() -> None:
    for bad in (b'{"data":[{"a":"x\\ud800', b'{"data":', b"\xff\xfe", b"<html>"):
        with pytest.raises(ValueError):
            decode_body(bad)


def test_a_non_object_body_is_read_too() -> None:
    assert decode_body(b'["\\ud800", 1]') == ["\ufffd", 1]


@pytest.mark.parametrize("text", ["12345678901234.567891", "9999999999999999.99",
                                  "0.1000000000000000055511151231257827", "1.2345678901234567E+30"])
def test_numbers_past_a_doubles_digits_keep_them(text: str) -> None:
    assert json_number(text) == Decimal(text)
    assert decode_body(f'{{"v":{text}}}'.encode())["v"] == Decimal(text)
    slow = decode_body(f'{{"v":{text},"s":"\\ud800"}}'.encode())
    assert slow["v"] == Decimal(text)
    # The Singer output writes the digits as a JSON number.
    encoded = msgspec.json.Encoder(decimal_format="number").encode(slow["v"])
    assert json.loads(encoded, parse_float=Decimal) == Decimal(text)


@pytest.mark.parametrize("text", ["1.5", "-0.25", "12345678901234.5", "0.000123", "1e-7",
                                  "100.00"])
def test_numbers_a_double_holds_stay_floats(text: str) -> None:
    assert type(json_number(text)) is float and json_number(text) == float(text)


def test_number_and_integer_fields_take_decimals() -> None:
    assert to_number(Decimal("1.25")) == Decimal("1.25")
    assert to_number("12345678901234.567891") == Decimal("12345678901234.567891")
    assert to_number("9223372036854775807") == 2**63 - 1
    assert to_integer(Decimal("9223372036854775807.000")) == 2**63 - 1
    with pytest.raises(ValueMismatch):
        to_integer(Decimal("1.5"))
    with pytest.raises(ValueError):
        to_number("not a number 1.5")
