"""Generated company names built to hit every normalization rule (for parity tests and benchmarks)."""

from __future__ import annotations

import random

from python_enrich.normalization import (
    LEGAL_FORM_WORDS,
    PLACEHOLDERS,
    PROTECTED_NAMES,
    STATUS_MARKERS,
)
from python_enrich.standins.companies import CORES, FORMS, INDUSTRIES, REGIONS

WHITESPACE = [
    " ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\u00a0", "\u1680", "\u2000", "\u2005",
    "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000",
]  # fmt: skip
NOT_WHITESPACE = ["\u200b", "\u180e", "\ufeff"]
OPEN = ["(", "（"]
CLOSE = [")", "）"]
SEPARATORS = ["—", "-", "(", "（", "－", "_", ""]
BUSINESS = [
    "(团托)",
    "（团托）",
    "-BSU280",
    "-CSTC",
    "-123",
    "-１２",
    "-٣",
    "-养老",
    "-福利",
    "-养老-福利",
    "及下属子企业",
]
ODD = ["「", "」", "『", "』", '"', "《", "》", "【", "】", "“", "”", ".", "。", "—", "-", "--", "（）", "()"]
LETTERS = [
    "abc",
    "ABC",
    "Ｉｂｍ",
    "ＴＣＬ",
    "３Ｍ",
    "ｘ１２",
    "ß",
    "straße",
    "ﬁ",
    "ǰ",
    "Ω",
    "ω",
    "ΐ",
    "ı",
    "i̇",
    "Ǆ",
    "ǅ",
]


def _company(rng: random.Random) -> str:
    return rng.choice(REGIONS) + rng.choice(CORES) + rng.choice(INDUSTRIES) + rng.choice(FORMS)


def _fragment(rng: random.Random) -> str:
    kind = rng.randrange(10)
    if kind == 0:
        return rng.choice(OPEN) + rng.choice(STATUS_MARKERS) + rng.choice([*CLOSE, ""])
    if kind == 1:
        return rng.choice(SEPARATORS) + rng.choice(STATUS_MARKERS) + rng.choice([*CLOSE, ""])
    if kind == 2:
        return rng.choice(BUSINESS)
    if kind == 3:
        return rng.choice(OPEN) + rng.choice([*LEGAL_FORM_WORDS, "北京", "集团", ""]) + rng.choice([*CLOSE, ""])
    if kind == 4:
        return rng.choice(WHITESPACE + NOT_WHITESPACE)
    if kind == 5:
        return rng.choice(ODD)
    if kind == 6:
        return rng.choice(LETTERS)
    if kind == 7:
        return "".join(chr(rng.choice([rng.randrange(0xFF01, 0xFF5F), rng.randrange(0x21, 0x7F)])) for _ in range(3))
    return _company(rng)


def generated_names(count: int, seed: int = 1) -> list[str | None]:
    rng = random.Random(seed)
    names: list[str | None] = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.01:
            names.append(None)
        elif roll < 0.04:
            special = rng.choice([*sorted(PLACEHOLDERS), *PROTECTED_NAMES, "保留账户管理".lower(), "Null", "nan", "0"])
            names.append(rng.choice(["", " ", "\u3000", "\t"]) + special + rng.choice(["", " ", "\n"]))
        else:
            names.append("".join(_fragment(rng) for _ in range(rng.randint(1, 6))))
    return names
