"""Hard values: what valid JSON lets Zoho send that breaks careless readers and loaders.

`Org.seed_hard_values(module)` writes them into the first records of a module (one variant per
record, by field data type): integers near 2**63 and above 2**53, decimals with more digits than
a double keeps, booleans sent as the strings "true"/"false", datetimes in several offsets, emoji,
NUL, right-to-left text, a lone UTF-16 surrogate (sent as the JSON escape `\\ud800`) and a
60 KB text area.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import msgspec

# Record i gets variant i of each list (so a test knows which record holds what).
TEXT = [
    "emoji 😀👍🏽 🇯🇵 👨‍👩‍👧 end",
    "NUL \u0000 inside",
    "שלום עולם — مرحبا بالعالم",
    "lone \ud800 surrogate",
]
BIGINT = ["9223372036854775807", "9007199254740993", "-9223372036854775808",
          "9223372036854775806"]  # Zoho sends bigint values as strings
LONG = [2**63 - 1, 2**53 + 1, -(2**63), 2**63 - 2]  # sent as JSON numbers
INTEGER = [2147483647, -2147483648, 0, 1]  # Zoho: up to 9 digits; the int32 limits
DOUBLE = [Decimal("12345678901234.567891"), Decimal("0.1000000000000000055511151231257827"),
          Decimal("3.14159265358979323846264338327950288"), Decimal("-98765432109876.54321")]
CURRENCY = [Decimal("9999999999999999.99"), Decimal("12345678901234.56"), Decimal("0.01"),
            Decimal("100000000000000000000.5")]
PERCENT = [Decimal("33.333333333333333333"), 100, 0, Decimal("99.99")]
BOOLEAN = ["true", "false", "true", "false"]  # booleans sent as strings
DATETIME = ["2025-03-04T17:15:02+05:30", "2025-03-04T17:15:02-08:00",
            "2025-03-04T23:59:59+14:00", "2025-03-04T00:00:00-03:30"]
LINE = "Lorem ipsum dolor sit amet, café naïve 😀 שלום مرحبا.\n"
LONG_TEXT = (LINE * (61_440 // len(LINE.encode()) + 1))  # a 60 KB text area (UTF-8 bytes)

BY_TYPE: dict[str, list[Any]] = {
    "text": TEXT, "mediumtext": TEXT, "bigint": BIGINT, "long": LONG, "integer": INTEGER,
    "double": DOUBLE, "currency": CURRENCY, "percent": PERCENT, "boolean": BOOLEAN,
    "datetime": DATETIME,
}


def hard_value(data_type: str, textarea_type: str | None, index: int) -> tuple[bool, Any]:
    """(whether the field gets one, the value) for record `index` of the hard records."""
    if data_type == "textarea":
        if textarea_type == "rich_text":
            return True, TEXT[index % len(TEXT)]
        return True, LONG_TEXT if index == 0 else TEXT[index % len(TEXT)]
    variants = BY_TYPE.get(data_type)
    if variants is None:
        return False, None
    return True, variants[index % len(variants)]


def escaped_surrogates(value: Any) -> Any:
    """`value` with each string that holds a lone surrogate as its JSON text (`"\\ud800"`, the
    escape json.dumps writes), which msgspec copies into its output as it is."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return msgspec.Raw(json.dumps(value).encode("ascii"))
        return value
    if isinstance(value, dict):
        return {k: escaped_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escaped_surrogates(v) for v in value]
    return value
