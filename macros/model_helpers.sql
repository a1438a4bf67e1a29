{#
  An existing company code counts only when it is a real id: 1 to 20 ASCII digits (as the registry's
  ids), not all zeros. Blanks and placeholders (N/A, NULL, NAN, 0, 000, -, ...) become NULL.
#}
{% macro clean_company_code(expr) %}
  {{- return(adapter.dispatch('clean_company_code', 'company_enrichment')(expr)) -}}
{% endmacro %}

{% macro default__clean_company_code(expr) %}
  {{- _postgres_only('clean_company_code') -}}
{% endmacro %}

{% macro postgres__clean_company_code(expr) %}
  {{- _require_sql_expression('clean_company_code', expr) -}}
  case
      when trim({{ expr }}) ~ '^[0-9]{1,20}$' and trim({{ expr }}) !~ '^0+$' then trim({{ expr }})
  end
{%- endmacro %}

{#
  select * from relation plus `<column>_normalized`, normalizing each distinct name once rather than
  once per row (a table has far fewer distinct names than rows). NULL and '' share the key ''.
#}
{% macro with_normalized_name(relation, column) %}
  {{- return(adapter.dispatch('with_normalized_name', 'company_enrichment')(relation, column)) -}}
{% endmacro %}

{% macro default__with_normalized_name(relation, column) %}
  {{- _postgres_only('with_normalized_name') -}}
{% endmacro %}

{% macro postgres__with_normalized_name(relation, column) %}
  {{- _require_sql_expression('with_normalized_name', relation) -}}
  {{- _require_sql_expression('with_normalized_name', column) -}}
    select
        rows_.*,
        names_.normalized as {{ column }}_normalized
    from {{ relation }} as rows_
    inner join (
        select
            name_key,
            {{ normalize_company_name('name_key') }} as normalized
        from (select distinct coalesce({{ column }}, '') as name_key from {{ relation }}) as distinct_names
        -- offset 0 keeps the planner from pulling the subquery up and normalizing per joined row.
        offset 0
    ) as names_
        on coalesce(rows_.{{ column }}, '') = names_.name_key
{%- endmacro %}

{# Generic test: every non-NULL value matches the regular expression. #}
{% test matches_pattern(model, column_name, pattern) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} is not null and {{ column_name }} !~ '{{ pattern }}'
{% endtest %}

{# Generic test: the model has exactly as many rows as another relation (no row lost or duplicated). #}
{% test same_row_count(model, compare_model) %}
    select model_rows, compare_rows
    from
        (select count(*) as model_rows from {{ model }}) as m
        cross join (select count(*) as compare_rows from {{ compare_model }}) as c
    where model_rows <> compare_rows
{% endtest %}

{# Generic test: a boolean SQL expression holds on every row. #}
{% test expression_is_true(model, expression) %}
    select * from {{ model }} where not ({{ expression }})
{% endtest %}

{# Generic test: no two rows share the combination of columns. #}
{% test unique_combination(model, columns) %}
    select {{ columns | join(', ') }}, count(*) as occurrences
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}

{#
  Every row of a domain with its resolution attached: the row's columns, then company_id,
  company_id_source, company_id_confidence, is_temporary_id. keys is the domain's
  resolve_company_keys model; the join keys must match the ones given to it.
#}
{% macro attach_company_ids(rows, keys, columns, plan_code='plan_code', normalized_name='customer_name_normalized', existing_code='existing_company_id') %}
  {{- return(adapter.dispatch('attach_company_ids', 'company_enrichment')(
      rows, keys, columns, plan_code, normalized_name, existing_code)) -}}
{% endmacro %}

{% macro default__attach_company_ids(rows, keys, columns, plan_code, normalized_name, existing_code) %}
  {{- _postgres_only('attach_company_ids') -}}
{% endmacro %}

{% macro postgres__attach_company_ids(rows, keys, columns, plan_code, normalized_name, existing_code) %}
  {%- if columns is string or columns | length == 0 -%}
    {{ exceptions.raise_compiler_error("attach_company_ids(rows, keys, columns): columns must be a non-empty list") }}
  {%- endif -%}
    select
        {%- for column in columns %}
        rows_.{{ column }},
        {%- endfor %}
        {%- for column in company_answer_columns() %}
        company_keys.{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}

    from {{ rows }} as rows_

    inner join {{ keys }} as company_keys
        on
            coalesce(rows_.{{ plan_code }}, '') = company_keys.plan_key
            and rows_.{{ normalized_name }} = company_keys.normalized_name
            and coalesce(rows_.{{ existing_code }}, '') = company_keys.code_key
{%- endmacro %}

{#
  Which name resolves a row. select * from relation plus:
    <customer_column>_normalized  the customer name normalized (as with_normalized_name);
    resolved_by_name              'customer_name', 'account_name', or NULL when neither is usable;
    resolution_name               the raw name chosen (NULL when neither);
    resolution_name_normalized    its normalized form ('' when neither: the row resolves to `none`);
    name_problem                  'totals row' or 'no company name' for rows no name can resolve.
  A name is a placeholder when it normalizes to '', has no letter (digits or punctuation only),
  is a spreadsheet error or null spelling, or marks a totals row (合计, 小计, 总计). Totals rows are
  never resolved by their account name. Each distinct name is examined once.
#}
{% macro with_resolution_name(relation, customer_column, account_column=none, names_from=none) %}
  {{- return(adapter.dispatch('with_resolution_name', 'company_enrichment')(
      relation, customer_column, account_column, names_from)) -}}
{% endmacro %}

{% macro default__with_resolution_name(relation, customer_column, account_column=none, names_from=none) %}
  {{- _postgres_only('with_resolution_name') -}}
{% endmacro %}

{% macro postgres__with_resolution_name(relation, customer_column, account_column=none, names_from=none) %}
  {{- _require_sql_expression('with_resolution_name', relation) -}}
  {{- _require_sql_expression('with_resolution_name', customer_column) -}}
  {#- names_from: a cheaper relation with the same name columns (raw, before parsing) to take the
      distinct names from, so that relation is read once and need not be materialized. -#}
  {%- set names = names_from if names_from else relation -%}
  {{- _require_sql_expression('with_resolution_name', names) -}}
  {%- set account = 'rows_.' ~ account_column if account_column else 'null::text' -%}
  {#- A letter of any script company names are written in (locale-independent, unlike [[:alpha:]]). -#}
  {%- set letter = '[A-Za-z\\u00C0-\\u024F\\u0370-\\u04FF\\u3040-\\u30FF\\u3400-\\u4DBF\\u4E00-\\u9FFF'
      ~ '\\uAC00-\\uD7AF\\uF900-\\uFAFF\\uFF21-\\uFF3A\\uFF41-\\uFF5A\\U00020000-\\U0002FFFF]' -%}
    with

    {#- The account name is examined only for rows whose customer name is a placeholder: normalizing
        each distinct spelling is the costly part, and most rows never need their account name. #}
    customer_names as (

        {{ _examined_names('select distinct coalesce(' ~ customer_column ~ ", '') as name_key from " ~ names, letter) }}

    ),

    account_names as (

        {%- if account_column %}
        {{ _examined_names(
            'select distinct coalesce(rows_.' ~ account_column ~ ", '') as name_key from " ~ names ~ ' as rows_ '
            ~ 'inner join customer_names on coalesce(rows_.' ~ customer_column ~ ", '') = customer_names.name_key "
            ~ 'where customer_names.is_placeholder and not customer_names.is_totals',
            letter) }}
        {%- else %}
        select '' as name_key, '' as normalized, false as is_totals, true as is_placeholder
        {%- endif %}

    )

    select
        rows_.*,
        customer_.normalized as {{ customer_column }}_normalized,
        case
            when not customer_.is_placeholder then 'customer_name'
            when not customer_.is_totals and not account_.is_placeholder then 'account_name'
        end as resolved_by_name,
        case
            when not customer_.is_placeholder then rows_.{{ customer_column }}
            when not customer_.is_totals and not account_.is_placeholder then {{ account }}
        end as resolution_name,
        case
            when not customer_.is_placeholder then customer_.normalized
            when not customer_.is_totals and not account_.is_placeholder then account_.normalized
            else ''
        end as resolution_name_normalized,
        case
            when customer_.is_totals or (customer_.is_placeholder and account_.is_totals) then 'totals row'
            when customer_.is_placeholder and coalesce(account_.is_placeholder, true) then 'no company name'
        end as name_problem
    from {{ relation }} as rows_
    inner join customer_names as customer_
        on coalesce(rows_.{{ customer_column }}, '') = customer_.name_key
    -- only the rows whose customer name is a placeholder find their account name here
    left join account_names as account_
        on
            customer_.is_placeholder
            and not customer_.is_totals
            and coalesce({{ account }}, '') = account_.name_key
{%- endmacro %}

{#- Each distinct name of a query (one column, name_key) normalized once, with whether it is a
    placeholder and whether it marks a totals row (see with_resolution_name). -#}
{% macro _examined_names(distinct_names_query, letter) %}
        select
            name_key,
            normalized,
            is_totals,
            is_totals
            or normalized = ''
            or normalized !~ '{{ letter }}'
            or upper(btrim(name_key)) in ('#N/A', '#REF!', 'NAN', 'NONE', 'NULL')
            or upper(normalized) in ('#N/A', '#REF!', 'NAN', 'NONE', 'NULL') as is_placeholder
        from (
            select
                name_key,
                {{ normalize_company_name('name_key') }} as normalized,
                regexp_replace(name_key, '[[:space:]\u3000]', '', 'g') in ('合计', '小计', '总计') as is_totals
            from ({{ distinct_names_query }}) as distinct_names
            -- offset 0 keeps the planner from pulling the subquery up and normalizing per joined row.
            offset 0
        ) as normalized_names
        -- and here it keeps is_placeholder decided once per name: pulled up, its tests ran on every
        -- row, once for each use (1.0 s more on 343,583 income rows, 0.9-1.7 s on 1,030,750 others).
        offset 0
{%- endmacro %}
