{#
  SQL twins of python_enrich.normalization and python_enrich.temp_id, created (idempotently) by
  the on-run-start hook in the enrichment schema. Spec: shared/spec/normalization.md, temp-id.md.
  The temp-id salt is never part of any SQL text: it arrives as the connection setting
  `wdh.alias_salt` (libpq's PGOPTIONS), so dbt's compiled SQL, logs and target/ cannot hold it.
#}

{% macro create_enrichment_functions() %}
  {{ return(adapter.dispatch('create_enrichment_functions', 'company_enrichment')()) }}
{% endmacro %}

{% macro default__create_enrichment_functions() %}
  {{- _postgres_only('create_enrichment_functions') -}}
{% endmacro %}

{% macro postgres__create_enrichment_functions() %}
{%- set schema = enrichment_schema() -%}
{%- set crypto = pgcrypto_schema() -%}
create schema if not exists {{ schema }};

-- str.upper() of Python, independent of the server's locale.
create or replace function {{ schema }}.unicode_upper(value text)
returns text
language plpgsql immutable strict parallel safe
as $fn$
declare
    pair text[];
begin
    value := translate(value, 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ');
    if value !~ '[{{ wdh_upper_non_ascii_class() }}]' then
        return value;
    end if;
    foreach pair slice 1 in array {{ wdh_upper_expansions() }}::text[] loop
        if strpos(value, pair[1]) > 0 then
            value := replace(value, pair[1], pair[2]);
        end if;
    end loop;
    return translate(value, '{{ wdh_upper_from() }}', '{{ wdh_upper_to() }}');
end
$fn$;

create or replace function {{ schema }}.normalize_company_name(name text)
returns text
language plpgsql immutable parallel safe
as $fn$
declare
    trimmed text;
    s text;
    marker text;
    n integer;
    cut integer;
    trailing_group text;
begin
    -- 0-2: type guard, protected names, placeholders
    if name is null then
        return '';
    end if;
    trimmed := regexp_replace(name, '^[{{ wdh_whitespace_class() }}]+|[{{ wdh_whitespace_class() }}]+$', '', 'g');
    if {{ schema }}.unicode_upper(trimmed) = any({{ wdh_protected_names() }}) then
        return {{ schema }}.unicode_upper(trimmed);
    end if;
    if trimmed = any({{ wdh_placeholders() }}) then
        return '';
    end if;
    -- 3-7: whitespace, decorative characters, leading bracket group, sub-enterprises, one suffix
    s := regexp_replace(replace(name, U&'\3000', ' '), '[{{ wdh_whitespace_class() }}]+', '', 'g');
    s := translate(s, '「」『』"', '');
    s := regexp_replace(s, '^[(（][^)）]*[)）]', '');
    s := replace(s, '及下属子企业', '');
    s := regexp_replace(s, '(\(团托\)|（团托）|-[A-Za-z][A-Za-z0-9]*|-[{{ wdh_digit_class() }}]+|-养老|-福利)$', '');
    -- 8: status markers, longest first, each applied once at the start, the end, bracketed end
    -- String operations, not 129 regular expressions: PostgreSQL caches only 32 compiled ones.
    -- One cached regular expression tells whether any marker occurs; most names have none.
    if s ~ {{ wdh_status_marker_pattern() }} then
    foreach marker in array {{ wdh_status_markers_by_length() }} loop
        continue when strpos(s, marker) = 0;
        n := length(marker);
        -- (a) start: optional open bracket, marker, optional close bracket, optional '-'
        cut := case
            when left(s, n) = marker then n
            when left(s, 1) in ('(', '（') and substr(s, 2, n) = marker then n + 1
            else 0
        end;
        if cut > 0 then
            cut := cut + (substr(s, cut + 1, 1) in (')', '）'))::int;
            cut := cut + (substr(s, cut + 1, 1) = '-')::int;
            s := substr(s, cut + 1);
        end if;
        -- (b) end: one separator, marker, optional close bracket
        cut := case
            when right(s, n) = marker then n
            when right(s, 1) in (')', '）') and left(right(s, n + 1), n) = marker then n + 1
            else 0
        end;
        if cut > 0 and length(s) > cut and substr(s, length(s) - cut, 1) in ('—', '(', '（', '-') then
            s := left(s, length(s) - cut - 1);
        end if;
        -- (c) bracketed end: open bracket, marker, close bracket
        if length(s) >= n + 2 and right(s, 1) in (')', '）') and left(right(s, n + 1), n) = marker
            and substr(s, length(s) - n - 1, 1) in ('(', '（') then
            s := left(s, length(s) - n - 2);
        end if;
    end loop;
    end if;
    -- 9: a trailing bracket group goes unless it names a legal form
    trailing_group := substring(s from '[(（][^)）]+[)）]$');
    if trailing_group is not null and not (trailing_group ~ {{ wdh_legal_form_pattern() }}) then
        s := left(s, length(s) - length(trailing_group));
    end if;
    -- 10-13: full width to half width, Chinese round brackets, trailing cleanup, upper case
    s := translate(s, {{ wdh_full_width_from() }}, {{ wdh_full_width_to() }});
    s := translate(s, '()', '（）');
    s := regexp_replace(s, '[—.。-]+$', '');
    if right(s, 2) = '（）' then
        s := left(s, -2);
    end if;
    s := regexp_replace(s, '[—-]+$', '');
    return {{ schema }}.unicode_upper(s);
end
$fn$;

-- Base32 (RFC 4648, no padding) of exactly 10 bytes: two 40-bit halves, 8 characters each.
create or replace function {{ schema }}.base32_10(bytes bytea)
returns text
language plpgsql immutable strict parallel safe
as $fn$
declare
    alphabet constant text := 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    half bigint;
    encoded text := '';
begin
    foreach half in array array[
        ('x' || encode(substring(bytes from 1 for 5), 'hex'))::bit(40)::bigint,
        ('x' || encode(substring(bytes from 6 for 5), 'hex'))::bit(40)::bigint
    ] loop
        for shift in reverse 7..0 loop
            encoded := encoded || substr(alphabet, ((half >> (shift * 5)) & 31)::int + 1, 1);
        end loop;
    end loop;
    return encoded;
end
$fn$;

-- The salt comes from the session setting wdh.alias_salt; unset means the old public default.
create or replace function {{ schema }}.temp_id_for_normalized(normalized text)
returns text
language sql stable parallel safe
as $fn$
    select 'IN' || {{ schema }}.base32_10(substring({{ crypto }}.hmac(
        convert_to(coalesce(nullif(normalized, ''), '__empty__'), 'UTF8'),
        convert_to(coalesce(nullif(current_setting('wdh.alias_salt', true), ''), 'default_dev_salt_change_in_prod'), 'UTF8'),
        'sha1'
    ) from 1 for 10))
$fn$;

-- The product rule: a name that normalizes to '' has no identity and gets no temporary id.
-- (plpgsql, so the normalizer runs once; an inlined SQL function would evaluate it twice.)
create or replace function {{ schema }}.temp_company_id(name text)
returns text
language plpgsql stable parallel safe
as $fn$
declare
    normalized constant text := {{ schema }}.normalize_company_name(name);
begin
    if normalized = '' then
        return null;
    end if;
    return {{ schema }}.temp_id_for_normalized(normalized);
end
$fn$;
{% endmacro %}

{% macro pgcrypto_schema() %}
  {#- pgcrypto may live in any schema; qualify its functions with wherever it is. -#}
  {%- if execute -%}
    {%- do run_query("create extension if not exists pgcrypto") -%}
    {%- set found = run_query("select extnamespace::regnamespace::text from pg_extension where extname = 'pgcrypto'") -%}
    {{- return(found.columns[0].values()[0]) -}}
  {%- endif -%}
  {{- return('public') -}}
{% endmacro %}
