"""The raw tables the loader fills: their columns, which a file must have, and the header variants.

Every raw column is text; staging parses it. `_row_key`, `_source_file`, `_batch_id` and
`_loaded_at` are the loader's own columns: where each row came from (the file's hash and row number,
and the file's name) and which load wrote it (one batch id per load, and when). Staging builds
incrementally by batch: it parses only the batches it has not seen whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ROW_KEY = "_row_key"
SOURCE_FILE = "_source_file"
BATCH_ID = "_batch_id"
LOADED_AT = "_loaded_at"
MONTH = "月度"
# The source names of the demo's sample data (python -m python_enrich.sample writes "sample" rows and
# files named *_sample_<seed>.xlsx/.csv): a load that would replace them says so.
SAMPLE_SOURCE = re.compile(r"^sample$|_sample_[0-9]+\.(?:xlsx|csv)(?:!.*)?$")


def is_sample_source(source_file: str | None) -> bool:
    return bool(source_file) and SAMPLE_SOURCE.search(source_file) is not None


LOADER_COLUMNS = (SOURCE_FILE, ROW_KEY, BATCH_ID, LOADED_AT)


@dataclass(frozen=True)
class RawTable:
    name: str
    columns: tuple[str, ...]  # the data columns, in the table's order
    required: tuple[str, ...]  # a file without one of these is refused
    default_sheet: str  # the sheet the old warehouse read

    @property
    def all_columns(self) -> tuple[str, ...]:
        return (*self.columns, *LOADER_COLUMNS)


PERFORMANCE_COLUMNS = (
    "月度", "计划代码", "计划类型", "客户名称", "年金账户名", "年金账户号", "集团企业客户号", "公司代码",
    "期初资产规模", "期末资产规模", "供款", "业务类型", "机构名称", "流失(含待遇支付)",
)  # fmt: skip
PERFORMANCE = RawTable(
    name="annuity_performance",
    columns=PERFORMANCE_COLUMNS,
    required=("月度", "计划代码", "客户名称"),
    default_sheet="规模明细",
)
INCOME = RawTable(
    name="annuity_income",
    columns=("月度", "计划代码", "客户名称", "公司代码", "收入金额", "业务类型", "机构名称"),
    required=("月度", "计划代码", "客户名称"),
    default_sheet="收入明细",
)
TABLES = {table.name: table for table in (PERFORMANCE, INCOME)}

# Old exports' names for the same columns (after brackets and blanks are made uniform).
HEADER_ALIASES = {"计划号": "计划代码", "机构": "机构名称"}
_HEADER_WIDTHS = str.maketrans("（）", "()")


def canonical_header(header: str) -> str:
    """The raw column a file's header means: half-width brackets, no blanks, old names mapped."""
    text = "".join(str(header).translate(_HEADER_WIDTHS).split())
    return HEADER_ALIASES.get(text, text)


@dataclass
class ColumnMapping:
    mapped: dict[str, str]  # file header -> raw column
    ignored: list[str]  # file headers that are no column of the table
    missing_optional: list[str]  # raw columns the file lacks (loaded as NULL)


class MappingError(ValueError):
    pass


def map_headers(table: RawTable, headers: list[str]) -> ColumnMapping:
    """Which file column fills which raw column; raises MappingError naming what is wrong."""
    mapped: dict[str, str] = {}
    ignored: list[str] = []
    for header in headers:
        column = canonical_header(header)
        if column not in table.columns:
            ignored.append(str(header))
            continue
        twin = next((h for h, c in mapped.items() if c == column), None)
        if twin is not None:
            raise MappingError(f"the columns {twin!r} and {header!r} both mean {column}: keep one")
        mapped[str(header)] = column
    missing = [column for column in table.required if column not in mapped.values()]
    if missing:
        found = ", ".join(map(str, headers))
        raise MappingError(f"missing required column {', '.join(missing)} (the file has: {found})")
    optional = [column for column in table.columns if column not in mapped.values()]
    return ColumnMapping(mapped, ignored, optional)
