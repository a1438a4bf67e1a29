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
