{# Schemas are used literally (raw, staging, intermediate, marts, enrichment), so users find
   tables where the README says, whatever the profile's default schema is. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
  {%- if custom_schema_name is none -%}
    {{ target.schema }}
  {%- else -%}
    {{ custom_schema_name | trim }}
  {%- endif -%}
{%- endmacro %}
