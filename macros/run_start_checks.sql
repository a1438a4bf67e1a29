{# Run at the start of every dbt command that touches the database (on-run-start). #}
{% macro check_database_encoding() %}
  {%- if execute -%}
    {%- set found = run_query(
        "select pg_encoding_to_char(encoding) as encoding from pg_database where datname = current_database()") -%}
    {%- if found.columns[0].values()[0] != 'UTF8' -%}
      {{ exceptions.raise_compiler_error(
          "database " ~ target.dbname ~ " has encoding " ~ found.columns[0].values()[0]
          ~ ": company names need a UTF8 database (createdb -E UTF8 -T template0)") }}
    {%- endif -%}
  {%- endif -%}
  select 1
{% endmacro %}

{#
  The state remembers the salt it was built with (enrichment.temp_id_salt); this check runs after the
  migrations and before any model, so a build whose WDH_ALIAS_SALT differs fails before it writes
  anything. Only fingerprints cross: md5 over a label, the state's random pepper and the salt,
  computed here with local_md5 from WDH_ALIAS_SALT and in the database from the stored salt. Nothing
  derived from the salt is part of any SQL text, so nothing of it reaches target/ or logs/.
#}
{% macro check_temp_id_salt() %}
  {%- if execute -%}
    {%- set public_default = 'default_dev_salt_change_in_prod' -%}
    {%- set env_salt = env_var('WDH_ALIAS_SALT', '') -%}
    {%- set s = enrichment_schema() -%}
    {%- set status = run_query(
        "select stored, pepper, fingerprint, session_fingerprint from " ~ s ~ ".temp_id_salt_status()") -%}
    {%- set row = status.rows[0] -%}
    {%- set expected = local_md5('company_enrichment temp-id salt:' ~ row['pepper'] ~ ':' ~ (env_salt or public_default)) -%}
    {%- if not env_salt and not env_var('WDH_PUBLIC_SALT_NOTICE_SHOWN', '') -%}
      {{ log("WARNING: WDH_ALIAS_SALT is not set: temporary ids use the PUBLIC default salt of the old "
             ~ "warehouse; anyone can recompute them. Set your own secret (README: Choosing a salt).", info=true) }}
    {%- endif -%}
    {%- if row['stored'] and row['fingerprint'] != expected -%}
      {{ exceptions.raise_compiler_error(
          ("WDH_ALIAS_SALT is not set (the public default, fingerprint " if not env_salt
           else "WDH_ALIAS_SALT (fingerprint ") ~ expected[:8] ~ ") differs from the salt this state's "
          ~ "temporary ids were made with (fingerprint " ~ row['fingerprint'][:8] ~ "): nothing was built. "
          ~ "Export the original WDH_ALIAS_SALT, or re-key every temporary id to the new one with "
          ~ "`python -m python_enrich.salt rotate`.") }}
    {%- elif not row['stored'] and row['session_fingerprint'] == expected -%}
      {%- do run_query("select " ~ s ~ ".store_session_salt()") -%}
    {%- elif not row['stored'] -%}
      {{ exceptions.raise_compiler_error(
          "this database has no temp-id salt stored yet and plain dbt cannot hand WDH_ALIAS_SALT over "
          ~ "without putting it into SQL: run `./run dbt build` once (it passes the salt safely), "
          ~ "then plain dbt works.") }}
    {%- endif -%}
  {%- endif -%}
  select 1
{% endmacro %}
