"""The company-name normalizer (contract: docs/normalization.md).

This is the compatible rule set of the warehouse we replace: every cache key, queue entry and
temporary id depends on it, so it must agree with the SQL version (macros/normalize_company_name.sql)
character for character.  Quirks are kept on purpose; see the spec before "fixing" anything.
"""

from __future__ import annotations

import re
from typing import Any

PROTECTED_NAMES: tuple[str, ...] = ("保留账户管理",)
PLACEHOLDERS: frozenset[str] = frozenset(
    ["null", "NULL", "空白", "无", "N/A", "n/a", "-", "--", "\u2014", "\u2014\u2014"]
)
STATUS_MARKERS: tuple[str, ...] = (
    "已转出", "待转出", "待转移", "终止", "转出", "转移", "保留", "暂停", "注销", "清算", "解散",
    "吊销", "撤销", "停业", "歇业", "关闭", "迁出", "迁入", "变更", "合并", "分立", "破产", "重整",
    "托管", "接管", "整顿", "清盘", "退出", "终结", "结束", "完结", "已作废", "作废", "存量", "原",
    "转移终止", "已终止", "保留账户", "已转移终止", "本部", "未使用", "集合", "企业年金计划",
)  # fmt: skip
# Longest first; sorted() is stable, so equal lengths keep the list order.
STATUS_MARKERS_BY_LENGTH: tuple[str, ...] = tuple(sorted(STATUS_MARKERS, key=len, reverse=True))
LEGAL_FORM_WORDS: tuple[str, ...] = (
    "特殊普通合伙", "普通合伙", "有限合伙", "有限公司", "个人独资", "全民所有制", "集体所有制",
    "股份合作", "个体工商户",
)  # fmt: skip
DECORATIVE_CHARS = '「」『』"'

_WHITESPACE = re.compile(r"\s+")
_LEADING_BRACKET_GROUP = re.compile(r"^[(（][^)）]*[)）]")
# \d is Unicode-wide in Python, as it was in the old warehouse (full-width digits count).
_BUSINESS_SUFFIX = re.compile(r"(?:\(团托\)|（团托）|-[A-Za-z][A-Za-z0-9]*|-\d+|-养老|-福利)$")
_TRAILING_GROUP = re.compile(r"[(（][^)）]+[)）]$")
_TRAILING_PUNCTUATION = re.compile(r"[—\-.。]+$")
_TRAILING_DASHES = re.compile(r"[—\-]+$")
_FULL_TO_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}


def _marker_patterns(marker: str) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    m = re.escape(marker)
    return (
        re.compile(rf"^[(（]?{m}[)）]?-?"),
        re.compile(rf"[—\-(（]{m}[)）]?$"),
        re.compile(rf"[(（]{m}[)）]$"),
    )


_MARKER_PATTERNS = [(marker, _marker_patterns(marker)) for marker in STATUS_MARKERS_BY_LENGTH]


def normalize_company_name(name: Any) -> str:
    """Normalize a company name; returns "" for NULL, non-text and placeholders."""
    if not isinstance(name, str):
        return ""
    trimmed = name.strip()
    if trimmed.upper() in PROTECTED_NAMES:
        return trimmed.upper()
    if trimmed in PLACEHOLDERS:
        return ""

    s = _WHITESPACE.sub("", name.replace("\u3000", " "))
    for char in DECORATIVE_CHARS:
        s = s.replace(char, "")
    s = _LEADING_BRACKET_GROUP.sub("", s, count=1)
    s = s.replace("及下属子企业", "")
    s = _BUSINESS_SUFFIX.sub("", s, count=1)

    for marker, (at_start, at_end, bracketed_end) in _MARKER_PATTERNS:
        if marker not in s:  # cheap guard; the patterns all need the marker
            continue
        s = at_start.sub("", s, count=1)
        s = at_end.sub("", s, count=1)
        s = bracketed_end.sub("", s, count=1)

    group = _TRAILING_GROUP.search(s)
    if group and not any(word in group.group(0) for word in LEGAL_FORM_WORDS):
        s = s[: group.start()]

    s = s.translate(_FULL_TO_HALF_WIDTH)
    s = s.replace("(", "（").replace(")", "）")
    s = _TRAILING_PUNCTUATION.sub("", s)
    if s.endswith("（）"):
        s = s[:-2]
    s = _TRAILING_DASHES.sub("", s)
    return s.upper()
