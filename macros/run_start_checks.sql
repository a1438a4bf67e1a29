{# Run at the start of every dbt command that touches the database (on-run-start). #}
{% macro check_database_and_salt() %}
  {%- if execute -%}
    {%- set found = run_query(
        "select pg_encoding_to_char(encoding) as encoding, "
        ~ "coalesce(current_setting('wdh.alias_salt', true), '') = '' as salt_missing "
        ~ "from pg_database where datname = current_database()") -%}
    {%- if found.columns[0].values()[0] != 'UTF8' -%}
      {{ exceptions.raise_compiler_error(
          "database " ~ target.dbname ~ " has encoding " ~ found.columns[0].values()[0]
          ~ ": company names need a UTF8 database (createdb -E UTF8 -T template0)") }}
    {%- endif -%}
    {%- if found.columns[1].values()[0] -%}
      {{ log("WARNING: no temp-id salt on this connection: temporary ids use the PUBLIC default salt "
             ~ "of the old warehouse. Set WDH_ALIAS_SALT and run dbt through ./run dbt ... "
             ~ "(it passes the salt as PGOPTIONS, never in SQL).", info=true) }}
    {%- endif -%}
  {%- endif -%}
  select 1
{% endmacro %}
