{#
  Generic data tests that state the rules of ids and scores. NULL passes (not_null_columns and
  not_null say whether a column may be NULL).
#}

{#- A company id: 1 to 20 ASCII digits, not all zeros ('0', '000' are placeholders, never a
    company); with allow_temporary, a temporary id (IN + 16 Base32 characters) too. The digits are
    tested with string functions, not regular expressions: on a mart of 1,000,000 rows the test
    took 1.2–1.3 s with three expressions a row, 0.45–0.5 s so. -#}
{% test is_company_id(model, column_name, allow_temporary=false) %}
    {%- set digits_id -%}
        (length({{ column_name }}) <= 20
            and btrim({{ column_name }}, '0123456789') = ''
            and ltrim({{ column_name }}, '0') <> '')
    {%- endset %}
    select {{ column_name }}
    from {{ model }}
    where
        {{ column_name }} is not null
        and not
        {%- if allow_temporary %} (
            case
                when starts_with({{ column_name }}, 'IN') then {{ column_name }} ~ '^IN[A-Z2-7]{16}$'
                else {{ digits_id }}
            end
        )
        {%- else %} {{ digits_id }}
        {%- endif %}
{% endtest %}

{#- A number within [min_value, max_value], e.g. a confidence in 0..1. -#}
{% test value_between(model, column_name, min_value, max_value) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} is not null and not ({{ column_name }} between {{ min_value }} and {{ max_value }})
{% endtest %}

{#- Every listed column is non-NULL. One test per model for all its columns: a scan of the table
    once, and one dbt node, where a not_null test per column scanned it once per column and cost
    dbt a node each (118 such tests took a quarter of a build's test time). Each failing row names a
    column and how many rows hold NULL there. -#}
{% test not_null_columns(model, columns) %}
    select nulls.column_name, nulls.null_rows
    from (
        select
            {%- for column in columns %}
            count(*) filter (where {{ column }} is null) as {{ column }}{{ ',' if not loop.last }}
            {%- endfor %}
        from {{ model }}
    ) as counted
    cross join lateral (values
        {%- for column in columns %}
        ('{{ column }}', counted.{{ column }}){{ ',' if not loop.last }}
        {%- endfor %}
    ) as nulls (column_name, null_rows)
    where nulls.null_rows > 0
{% endtest %}
