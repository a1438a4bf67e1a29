{#
  Public macros for models: SQL expressions over a column or expression.
  Each fails at compile time on a bad argument.
#}

{% macro enrichment_schema() %}
  {{- return(var('enrichment_schema', 'enrichment')) -}}
{% endmacro %}

{% macro _postgres_only(macro_name) %}
  {{- exceptions.raise_compiler_error(macro_name ~ " supports PostgreSQL only, not " ~ target.type) -}}
{% endmacro %}

{% macro _require_sql_expression(macro_name, expr) %}
  {%- if expr is not string or expr | trim == '' -%}
    {{ exceptions.raise_compiler_error(
        macro_name ~ "(expr) needs a SQL expression as a non-empty string, got: " ~ (expr | string)) }}
  {%- endif -%}
{% endmacro %}

{# The normalized company name of a text expression ('' for NULL and placeholders). #}
{% macro normalize_company_name(expr) %}
  {{- return(adapter.dispatch('normalize_company_name', 'company_enrichment')(expr)) -}}
{% endmacro %}

{% macro default__normalize_company_name(expr) %}
  {{- _postgres_only('normalize_company_name') -}}
{% endmacro %}

{% macro postgres__normalize_company_name(expr) %}
  {{- _require_sql_expression('normalize_company_name', expr) -}}
  {{ enrichment_schema() }}.normalize_company_name({{ expr }})
{%- endmacro %}

{#
  The temporary company id of a raw name (NULL when it normalizes to '').
  Pass normalized=true when expr is already normalized, to skip normalizing twice.
#}
{% macro temp_company_id(expr, normalized=false) %}
  {{- return(adapter.dispatch('temp_company_id', 'company_enrichment')(expr, normalized)) -}}
{% endmacro %}

{% macro default__temp_company_id(expr, normalized=false) %}
  {{- _postgres_only('temp_company_id') -}}
{% endmacro %}

{% macro postgres__temp_company_id(expr, normalized=false) %}
  {{- _require_sql_expression('temp_company_id', expr) -}}
  {%- if normalized is not boolean -%}
    {{ exceptions.raise_compiler_error("temp_company_id(expr, normalized): normalized must be true or false") }}
  {%- endif -%}
  {%- if normalized -%}
    case when ({{ expr }}) <> '' then {{ enrichment_schema() }}.temp_id_for_normalized({{ expr }}) end
  {%- else -%}
    {{ enrichment_schema() }}.temp_company_id({{ expr }})
  {%- endif -%}
{%- endmacro %}
