{#
  Parsing raw text cells as users' exports write them. Never an error on a cell's content: what
  cannot be parsed becomes NULL, and `cell_problems` records it for marts.data_quality_issues.
  python_enrich/load/cells.py is the Python twin of these rules (a test checks they agree).

  Cleaning, for every cell: full-width digits and punctuation become ASCII, then surrounding blanks
  (space, tab, newline, no-break and ideographic spaces, BOM) are trimmed. Blank and the
  placeholders -, --, —, N/A, NA, NULL, NONE, NAN, 无, / (any case) mean "no value": NULL, no problem.
#}

{% macro _cleaned_cell(expr) %}
  {{- "btrim(translate(" ~ expr ~ ", '０１２３４５６７８９，．（）－＋／：', '0123456789,.()-+/:'), "
      ~ "E' \\t\\r\\n\\u00a0\\u3000\\ufeff')" -}}
{% endmacro %}

{# True when a cell is NULL, blank or a placeholder. #}
{% macro is_blank_or_placeholder(expr) %}
  {{- return(adapter.dispatch('is_blank_or_placeholder', 'company_enrichment')(expr)) -}}
{% endmacro %}

{% macro default__is_blank_or_placeholder(expr) %}
  {{- _postgres_only('is_blank_or_placeholder') -}}
{% endmacro %}

{% macro postgres__is_blank_or_placeholder(expr) %}
  {{- _require_sql_expression('is_blank_or_placeholder', expr) -}}
  (coalesce(upper({{ _cleaned_cell(expr) }}), '') in ('', '-', '--', '—', 'N/A', 'NA', 'NULL', 'NONE', 'NAN', '无', '/'))
{%- endmacro %}

{#
  The first day of the month a text cell names (a date), or NULL. Accepts 202411, 20241101, 2024-11,
  2024/11, 2024.11, 2024-11-01 (a time may follow, as in an Excel date cell read as text),
  2024年11月, 2024年11月1日 and 24年11月 (20xx), full-width digits too. Years 1900-2099, months
  1-12, and a day, when given, must exist (20240230 is not a month).
#}
{% macro parse_month(expr) %}
  {{- return(adapter.dispatch('parse_month', 'company_enrichment')(expr)) -}}
{% endmacro %}

{% macro default__parse_month(expr) %}
  {{- _postgres_only('parse_month') -}}
{% endmacro %}

{% macro postgres__parse_month(expr) %}
  {{- _require_sql_expression('parse_month', expr) -}}
  {#- One inline expression (no subquery: a scalar subquery per row costs far more than repeating
      the cheap cleaning); each format has its own anchored pattern and its own way to the parts. -#}
  {%- set c = _cleaned_cell(expr) -%}
  {%- set dashed = "translate(split_part(split_part(" ~ c ~ ", ' ', 1), 'T', 1), '/.', '--')" -%}
  (
    case
        when {{ c }} ~ '^[0-9]{6}$'
            then {{ _first_of_month("substr(" ~ c ~ ", 1, 4)", "substr(" ~ c ~ ", 5, 2)", none) }}
        when {{ c }} ~ '^[0-9]{8}$'
            then {{ _first_of_month("substr(" ~ c ~ ", 1, 4)", "substr(" ~ c ~ ", 5, 2)", "substr(" ~ c ~ ", 7, 2)") }}
        when {{ c }} ~ '^[0-9]{4}[-/.][0-9]{1,2}$'
            then {{ _first_of_month("split_part(" ~ dashed ~ ", '-', 1)", "split_part(" ~ dashed ~ ", '-', 2)", none) }}
        when {{ c }} ~ '^[0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}([ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?)?$'
            then {{ _first_of_month(
                "split_part(" ~ dashed ~ ", '-', 1)", "split_part(" ~ dashed ~ ", '-', 2)",
                "split_part(" ~ dashed ~ ", '-', 3)") }}
        when {{ c }} ~ '^([0-9]{2}|[0-9]{4})年[0-9]{1,2}月([0-9]{1,2}日)?$'
            then {{ _first_of_month(
                "split_part(" ~ c ~ ", '年', 1)", "split_part(split_part(" ~ c ~ ", '年', 2), '月', 1)",
                "nullif(rtrim(split_part(" ~ c ~ ", '月', 2), '日'), '')") }}
    end
  )
{%- endmacro %}

{# The first day of month m of year y (text digits; a 2-digit year is 20yy), when valid and day d exists. #}
{% macro _first_of_month(y, m, d) %}
  {%- set year = "(case when length(" ~ y ~ ") = 2 then 2000 else 0 end + cast(" ~ y ~ " as integer))" -%}
  {%- set month = "cast(" ~ m ~ " as integer)" -%}
  case
                when {{ year }} between 1900 and 2099 and {{ month }} between 1 and 12
                    then case
                        {%- if d is not none %}
                        when cast({{ d }} as integer) is null
                            or cast({{ d }} as integer) between 1
                            and extract(day from make_date({{ year }}, {{ month }}, 1) + interval '1 month - 1 day')
                        {%- else %}
                        when true
                        {%- endif %}
                            then make_date({{ year }}, {{ month }}, 1)
                    end
            end
{%- endmacro %}

{#
  An amount (numeric(20, 2)) from a text cell, or NULL. Accepts 1234.5, -12, +12, 1,234,567.89
  (thousands separators in groups of three), surrounding blanks, full-width digits, (1,000.00) for
  -1000.00, and 1.5E+07; at most 16 digits before the decimal point. Plain numbers (with or without
  separators) take a fast path that skips the cleaning.
#}
{% macro parse_amount(expr) %}
  {{- return(adapter.dispatch('parse_amount', 'company_enrichment')(expr)) -}}
{% endmacro %}

{% macro default__parse_amount(expr) %}
  {{- _postgres_only('parse_amount') -}}
{% endmacro %}

{% macro postgres__parse_amount(expr) %}
  {{- _require_sql_expression('parse_amount', expr) -}}
  {%- set number = "([0-9]{1,16}|[0-9]{1,3}(,[0-9]{3}){1,4})([.][0-9]+)?" -%}
  {%- set c = _cleaned_cell(expr) -%}
  {#- The fast path: a plain number, as most cells are. Its pattern has no counted repetition
      (PostgreSQL's regex engine pays for {1,16} on every cell); the digit bound is checked apart. -#}
  (
    case
        when {{ expr }} ~ '^-?[0-9]+([.][0-9]+)?$'
            then case
                when length(split_part(ltrim({{ expr }}, '-'), '.', 1)) <= 16 then cast({{ expr }} as numeric(20, 2))
            end
        when {{ expr }} ~ '^-?[0-9]{1,3}(,[0-9]{3})+([.][0-9]+)?$'
            then case
                when length({{ expr }}) - length(replace({{ expr }}, ',', '')) <= 4
                    then cast(replace({{ expr }}, ',', '') as numeric(20, 2))
            end
        when {{ c }} ~ '^[+-]?{{ number }}$' then cast(replace({{ c }}, ',', '') as numeric(20, 2))
        when {{ c }} ~ '^[(]{{ number }}[)]$' then -cast(replace(btrim({{ c }}, '()'), ',', '') as numeric(20, 2))
        when {{ c }} ~ '^[+-]?[0-9]{1,16}([.][0-9]+)?[eE][+-]?[0-9]{1,2}$'
            then case
                when abs(cast({{ c }} as double precision)) < 1e16 then cast(cast({{ c }} as numeric) as numeric(20, 2))
            end
    end
  )
{%- endmacro %}

{#
  One jsonb object per row listing the cells that could not be parsed, or NULL when there are none:
  {"<raw column>": {"raw": "<cell>", "problem": "<problem>"}}. checks is a list of
  [raw column, parsed column, problem]; a problem is a cell that is neither blank nor a placeholder
  but whose parsed value is NULL. marts.data_quality_issues lists them one per row.
#}
{% macro cell_problems(checks) %}
  {{- return(adapter.dispatch('cell_problems', 'company_enrichment')(checks)) -}}
{% endmacro %}

{% macro default__cell_problems(checks) %}
  {{- _postgres_only('cell_problems') -}}
{% endmacro %}

{% macro postgres__cell_problems(checks) %}
  {%- if checks is string or checks is mapping or checks | length == 0 -%}
    {{ exceptions.raise_compiler_error("cell_problems(checks): checks must be a non-empty list of [raw column, parsed column, problem]") }}
  {%- endif -%}
  {%- for check in checks -%}
    {%- if check is string or check | length != 3 -%}
      {{ exceptions.raise_compiler_error("cell_problems(checks): each check must be [raw column, parsed column, problem], got: " ~ check) }}
    {%- endif -%}
    {%- for part in check -%}{{ _require_sql_expression('cell_problems', part) }}{%- endfor -%}
  {%- endfor -%}
    case
        when
            {%- for raw, parsed, problem in checks %}
            ({{ parsed }} is null and not {{ is_blank_or_placeholder(raw) }}){{ ' or' if not loop.last }}
            {%- endfor %}
            then jsonb_strip_nulls(jsonb_build_object(
                {%- for raw, parsed, problem in checks %}
                '{{ raw | replace('"', '') }}',
                case
                    when {{ parsed }} is null and not {{ is_blank_or_placeholder(raw) }}
                        then jsonb_build_object('raw', {{ raw }}, 'problem', '{{ problem }}')
                end{{ ',' if not loop.last }}
                {%- endfor %}
            ))
    end
{%- endmacro %}

{#
  A raw column when the relation has it, else a typed NULL: lets staging read the loader's optional
  columns (机构名称, 流失(含待遇支付), _row_key, _source_file) from tables users created themselves.
  Each lookup is a catalog query, which costs dbt a macro context (about 20 ms of its Python, on
  the critical path of a build): a caller asking about several columns passes raw_columns(relation)
  as `columns`, looked up once.
#}
{% macro raw_column_or_null(relation, column, columns=none) %}
  {{- return(adapter.dispatch('raw_column_or_null', 'company_enrichment')(relation, column, columns)) -}}
{% endmacro %}

{% macro default__raw_column_or_null(relation, column, columns=none) %}
  {{- _postgres_only('raw_column_or_null') -}}
{% endmacro %}

{% macro postgres__raw_column_or_null(relation, column, columns=none) %}
  {{- _require_sql_expression('raw_column_or_null', column) -}}
  {%- if relation is string -%}
    {{ exceptions.raise_compiler_error("raw_column_or_null(relation, column): relation must be a source() or ref(), got a string") }}
  {%- endif -%}
  {%- if columns is string or (columns is not none and columns is not iterable) -%}
    {{ exceptions.raise_compiler_error("raw_column_or_null(relation, column, columns): columns must be a list of column names, as raw_columns(relation) gives") }}
  {%- endif -%}
  {%- set present = column in (raw_columns(relation) if columns is none else columns) -%}
  {{- adapter.quote(column) if present else 'cast(null as text)' -}}
{%- endmacro %}

{# The names of a raw table's columns ([] while dbt parses), for raw_column_or_null(columns=...). #}
{% macro raw_columns(relation) %}
  {{- return(adapter.dispatch('raw_columns', 'company_enrichment')(relation)) -}}
{% endmacro %}

{% macro default__raw_columns(relation) %}
  {{- _postgres_only('raw_columns') -}}
{% endmacro %}

{% macro postgres__raw_columns(relation) %}
  {%- if relation is string -%}
    {{ exceptions.raise_compiler_error("raw_columns(relation): relation must be a source() or ref(), got a string") }}
  {%- endif -%}
  {{- return(adapter.get_columns_in_relation(relation) | map(attribute='name') | list if execute else []) -}}
{%- endmacro %}

{#
  select * from relation plus `row_key`, a stable key per row for data-quality issues, plus the
  select-list expressions `cells` (SQL over relation's columns, such as the parsed cells). relation
  must have a `_row_key` column (NULL allowed). The loader and the sample generator write it (the
  file's hash and the row's number in the file); a row without one (a table users fill themselves)
  gets 'h' + the md5 of its columns + ':' + its ordinal among identical rows, stable while the row is.
  Each kind of row is selected in its own subquery, kept whole (offset 0) so that cells are computed
  once per row, not once for every later use: the keyed rows' cells are then computed by the
  parallel workers that scan relation (the ordinal's window would keep them in one process).
#}
{% macro with_row_key(relation, cells=none) %}
  {{- return(adapter.dispatch('with_row_key', 'company_enrichment')(relation, cells)) -}}
{% endmacro %}

{% macro default__with_row_key(relation, cells=none) %}
  {{- _postgres_only('with_row_key') -}}
{% endmacro %}

{% macro postgres__with_row_key(relation, cells=none) %}
  {{- _require_sql_expression('with_row_key', relation) -}}
  {%- if cells is not none -%}{{ _require_sql_expression('with_row_key', cells) }}{%- endif -%}
  {%- set ordinal_key = "'h' || md5(cast(rows_ as text)) || ':' || row_number() over (partition by md5(cast(rows_ as text)))" -%}
  {%- for alias, filter, row_key in [
      ('keyed_rows', 'rows_._row_key is not null', 'rows_._row_key'),
      ('unkeyed_rows', 'rows_._row_key is null', ordinal_key),
  ] %}
    {{ 'union all' if not loop.first }}
    select * from (
        select
            rows_.*,
            {%- if cells %}
            {{ cells }},
            {%- endif %}
            {{ row_key }} as row_key
        from {{ relation }} as rows_
        where {{ filter }}
        offset 0
    ) as {{ alias }}
  {%- endfor %}
{%- endmacro %}

{# Generic test: the model has no rows (use with severity warn to report a count, e.g. data-quality issues). #}
{% test has_no_rows(model) %}
    select * from {{ model }}
{% endtest %}
