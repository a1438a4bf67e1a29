"""Pure rules of what we write for people (python_enrich/safe_output.py) and of the loader's cells
and tables (python_enrich/load/cells.py, load/tables.py), without the database.  ./run mutate
runs these."""

from __future__ import annotations

import pytest

from python_enrich.load import cells, tables
from python_enrich.load.tables import INCOME, PERFORMANCE, MappingError, is_sample_source, map_headers
from python_enrich.safe_output import BIDI_CONTROLS, for_csv, for_terminal, is_unsafe_char
from tests.test_raw_parsing import MONTH_CASES


# -- terminal and CSV -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("平安保险", "平安保险"),
        ("a\x1b[31mb", "a\\x1b[31mb"),
        ("a\nb\tc\r", "a\\nb\\tc\\r"),
        ("\x00\x7f\x85", "\\x00\\x7f\\x85"),
        ("evil\u202egnp.exe", "evil\\u202egnp.exe"),
        ("\u200e\u200f\u2066\u2069", "\\u200e\\u200f\\u2066\\u2069"),
        ("bad-\udc80.xlsx", "bad-\\udc80.xlsx"),  # an undecodable file name (surrogateescape)
        ("名\udc80称.xlsx", "名\\udc80称.xlsx"),  # only the unsafe character is escaped
        ("平安\x1b[31m保险", "平安\\x1b[31m保险"),
        ("\ud800", "\\ud800"),  # a lone high surrogate
        ("\u200b\u00a0x", "\u200b\u00a0x"),  # format and space characters are not controls
        (12, "12"),
        (None, "None"),
    ],
)
def test_terminal_text_carries_no_control_characters(text: object, shown: str) -> None:
    assert for_terminal(text) == shown
    assert for_terminal(text).isprintable() or "\u200b" in shown or "\u00a0" in shown


def test_lone_surrogates_are_escaped() -> None:
    """argv and file names that are not valid UTF-8 reach us as lone surrogates."""
    for ch in ("\udc80", "\udcff", "\ud800", "\udfff"):
        assert is_unsafe_char(ch)
        assert for_terminal(f"x{ch}y") == "x" + ch.encode("unicode_escape").decode("ascii") + "y"
        for_terminal(f"x{ch}y").encode("utf-8")  # printable anywhere


def test_unsafe_characters_are_controls_surrogates_and_bidi_only() -> None:
    unsafe = [ch for ch in map(chr, range(0x10000)) if is_unsafe_char(ch)]
    controls = [ch for ch in unsafe if ord(ch) < 0xA0]
    assert len(controls) == 65  # C0, DEL and C1
    assert set(BIDI_CONTROLS) <= set(unsafe) and len(BIDI_CONTROLS) == 11
    assert len(unsafe) == 65 + 2048 + 11  # controls, surrogates, bidirectional controls
    assert not any(is_unsafe_char(ch) for ch in "aZ0 平安（）\u00a0\u3000\u200b\ufeff")


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
        ("a=1", "a=1"), (" =1", " =1"), ("", ""), ("平安", "平安"), (5, 5), (-5, -5), (None, None),
    ],
)  # fmt: skip
def test_csv_cells_cannot_start_a_formula(value: object, written: object) -> None:
    assert for_csv(value) == written


# -- cells ---------------------------------------------------------------------------------------------------
def test_months_by_the_reference_cases() -> None:
    right = sum(cells.parse_month(raw) == month for raw, month in MONTH_CASES)
    print(f"months: {right} right, {len(MONTH_CASES) - right} wrong of {len(MONTH_CASES)}")
    assert [(raw, cells.parse_month(raw), month) for raw, month in MONTH_CASES if cells.parse_month(raw) != month] == []


@pytest.mark.parametrize(
    ("raw", "placeholder"),
    [
        (None, True), ("", True), (" \t", True), ("-", True), ("--", True), ("—", True), ("n/a", True), ("NA", True),
        ("null", True), ("None", True), ("nan", True), ("无", True), ("/", True), ("\u3000N/A\ufeff", True),
        ("0", False), ("平安", False), ("N/A2", False), ("---", False), ("－", True), ("／", True),
    ],
)  # fmt: skip
def test_placeholders(raw: str | None, placeholder: bool) -> None:
    assert cells.is_placeholder(raw) is placeholder


def test_clean_cell_turns_full_width_to_ascii_and_trims() -> None:
    assert cells.clean_cell(None) is None
    assert cells.clean_cell("\ufeff\u00a0 ２０２４，１２．５（１）－＋／：\u3000\r\n") == "2024,12.5(1)-+/:"
    assert cells.clean_cell("a b") == "a b"
    assert len(cells.FULL_WIDTH) == len(cells.HALF_WIDTH) == 18


@pytest.mark.parametrize(
    ("raw", "month"),
    [
        ("1900-01", (1900, 1)), ("2099-12", (2099, 12)), ("1899-12", None), ("2100-01", None), ("00年1月", (2000, 1)),
        ("2024-02-29", (2024, 2)), ("2023-02-29", None), ("2024-04-30", (2024, 4)), ("2024-04-31", None),
        ("2024-01-00", None), ("2024-12", (2024, 12)), ("2024-13", None), ("2024-0", None), ("2024年1月1日", (2024, 1)),
        ("２０２４－０２－２９", (2024, 2)), ("2024.1.31 23:59:59.5", (2024, 1)),
    ],
)  # fmt: skip
def test_month_boundaries(raw: str, month: tuple[int, int] | None) -> None:
    parsed = cells.parse_month(raw)
    assert (None if parsed is None else (parsed.year, parsed.month)) == month
    assert parsed is None or parsed.day == 1


# -- tables --------------------------------------------------------------------------------------------------
def test_performance_files_must_name_the_customer() -> None:
    """Without 客户名称 every name would load as NULL: the file is refused, naming the column."""
    headers = ["月度", "计划代码", "年金账户名", "公司代码"]
    with pytest.raises(MappingError) as raised:
        map_headers(PERFORMANCE, headers)
    assert str(raised.value) == "missing required column 客户名称 (the file has: 月度, 计划代码, 年金账户名, 公司代码)"
    with pytest.raises(MappingError, match=r"^missing required column 客户名称 "):
        map_headers(INCOME, ["月度", "计划代码", "收入金额"])


@pytest.mark.parametrize("table", [PERFORMANCE, INCOME])
@pytest.mark.parametrize("dropped", ["月度", "计划代码", "客户名称"])
def test_every_required_column_is_required(table: tables.RawTable, dropped: str) -> None:
    headers = [h for h in ("月度", "计划代码", "客户名称") if h != dropped]
    with pytest.raises(MappingError, match=f"^missing required column {dropped} "):
        map_headers(table, headers)


def test_two_missing_columns_are_both_named() -> None:
    with pytest.raises(MappingError, match=r"^missing required column 月度, 客户名称 \(the file has: 计划号\)$"):
        map_headers(PERFORMANCE, ["计划号"])


def test_headers_map_old_names_brackets_and_blanks() -> None:
    mapping = map_headers(PERFORMANCE, [" 月 度", "计划号", "客户名称", "流失（含待遇支付）", "机构", "备注", 7])  # type: ignore[list-item]
    assert mapping.mapped == {
        " 月 度": "月度", "计划号": "计划代码", "客户名称": "客户名称", "流失（含待遇支付）": "流失(含待遇支付)",
        "机构": "机构名称",
    }  # fmt: skip
    assert mapping.ignored == ["备注", "7"]
    assert mapping.missing_optional == [
        "计划类型", "年金账户名", "年金账户号", "集团企业客户号", "公司代码", "期初资产规模", "期末资产规模",
        "供款", "业务类型",
    ]  # fmt: skip


def test_two_headers_for_one_column_are_refused() -> None:
    with pytest.raises(MappingError, match=r"^the columns '计划代码' and '计划号' both mean 计划代码: keep one$"):
        map_headers(INCOME, ["月度", "计划代码", "计划号", "客户名称"])


def test_canonical_headers() -> None:
    assert tables.canonical_header("流失（含待遇支付）") == "流失(含待遇支付)"
    assert tables.canonical_header(" 计 划\t号\u3000") == "计划代码"
    assert tables.canonical_header("机构") == "机构名称"
    assert tables.canonical_header("Other") == "Other"
    assert tables.canonical_header(2024) == "2024"  # type: ignore[arg-type]


def test_the_tables_and_their_loader_columns() -> None:
    assert tables.TABLES == {"annuity_performance": PERFORMANCE, "annuity_income": INCOME}
    assert PERFORMANCE.required == INCOME.required == ("月度", "计划代码", "客户名称")
    loader = ("_source_file", "_row_key", "_batch_id", "_loaded_at")  # the batch columns: incremental builds
    assert PERFORMANCE.all_columns[-4:] == INCOME.all_columns[-4:] == tables.LOADER_COLUMNS == loader
    assert PERFORMANCE.all_columns[:-4] == tables.PERFORMANCE_COLUMNS and len(tables.PERFORMANCE_COLUMNS) == 14
    assert INCOME.columns == ("月度", "计划代码", "客户名称", "公司代码", "收入金额", "业务类型", "机构名称")
    assert (PERFORMANCE.default_sheet, INCOME.default_sheet) == ("规模明细", "收入明细")
    assert tables.MONTH == "月度" and tables.ROW_KEY == "_row_key" and tables.SOURCE_FILE == "_source_file"
    assert (tables.BATCH_ID, tables.LOADED_AT) == ("_batch_id", "_loaded_at")


def test_only_the_sample_generators_sources_count_as_sample_data() -> None:
    sources = {
        "sample": True,
        "规模明细_sample_42.xlsx!规模明细": True,
        "收入明细_sample_7.csv": True,
        "规模明细_2025.xlsx!规模明细": False,
        "my_sample_notes.csv": False,
        "sample_2025.csv": False,
        "": False,
        None: False,
    }
    decided = {source: is_sample_source(source) for source in sources}
    right = sum(decided[s] == truth for s, truth in sources.items())
    print(f"sample-source decisions: {right} right, {len(sources) - right} wrong")
    assert decided == sources
