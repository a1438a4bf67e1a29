{#
  SQL twins of python_enrich.normalization and python_enrich.temp_id, created (idempotently) by
  the on-run-start hook in the enrichment schema. Contracts: docs/normalization.md, docs/temp-ids.md.
  The temp-id salt is never part of any SQL text. It is kept once in the state table
  temp_id_salt (no privilege for anyone but its owner), stored there from the connection setting
  `wdh.alias_salt` that ./run dbt and the Python commands pass in libpq's PGOPTIONS, and read only by
  the SECURITY DEFINER functions below; so plain `dbt build` computes the same ids as ./run dbt.
  Only a peppered fingerprint of it is ever read back (macros/run_start_checks.sql).
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

{#- Most names have no lower-case letter: str.upper() is then skipped (one cached class test). #}
{%- set has_cased = "'[a-z" ~ wdh_upper_non_ascii_class() ~ "]'" %}
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
    if (case when trimmed ~ {{ has_cased }} then {{ schema }}.unicode_upper(trimmed) else trimmed end)
        = any({{ wdh_protected_names() }}) then
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
    -- One cached regular expression tells whether any marker stands at the start or the end (with
    -- its brackets); in no other place can the first cut happen, and each cut needs one before it.
    if s ~ {{ wdh_status_marker_at_ends_pattern() }} then
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
    -- (translate() with 94 characters is slow: only when a form other than （ ） is present)
    if s ~ '[{{ wdh_full_width_class() }}]' then
        s := translate(s, {{ wdh_full_width_from() }}, {{ wdh_full_width_to() }});
    end if;
    s := translate(s, '()', '（）');
    if right(s, 1) in ('—', '.', '。', '-') then
        s := regexp_replace(s, '[—.。-]+$', '');
    end if;
    if right(s, 2) = '（）' then
        s := left(s, -2);
    end if;
    if right(s, 1) in ('—', '-') then
        s := regexp_replace(s, '[—-]+$', '');
    end if;
    if s ~ {{ has_cased }} then
        return {{ schema }}.unicode_upper(s);
    end if;
    return s;
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

-- The temporary id of a normalized name under a given salt (pure; the parity tests call it).
create or replace function {{ schema }}.hmac_temp_id(normalized text, salt text)
returns text
language sql immutable strict parallel safe
as $fn$
    select 'IN' || {{ schema }}.base32_10(substring({{ crypto }}.hmac(
        convert_to(coalesce(nullif(normalized, ''), '__empty__'), 'UTF8'),
        convert_to(salt, 'UTF8'),
        'sha1'
    ) from 1 for 10))
$fn$;

-- What the state remembers of a salt: md5 over a fixed label, the state's random pepper and the
-- salt. macros/run_start_checks.sql computes the same with local_md5 from WDH_ALIAS_SALT.
create or replace function {{ schema }}.salt_fingerprint(pepper text, salt text)
returns text
language sql immutable strict parallel safe
as $fn$
    select md5('company_enrichment temp-id salt:' || pepper || ':' || salt)
$fn$;

-- The salt this connection was given (PGOPTIONS -c wdh.alias_salt=...), else the public default.
create or replace function {{ schema }}.session_salt()
returns text
language sql stable parallel safe
as $fn$
    select coalesce(nullif(current_setting('wdh.alias_salt', true), ''), 'default_dev_salt_change_in_prod')
$fn$;

-- Temporary ids always use the salt stored in the state (plpgsql: the table may not exist yet).
create or replace function {{ schema }}.temp_id_for_normalized(normalized text)
returns text
language plpgsql stable parallel safe security definer
set search_path = pg_catalog, pg_temp
as $fn$
declare
    stored text;
begin
    select salt into stored from {{ schema }}.temp_id_salt;
    if stored is null then
        raise exception 'no temp-id salt is stored in {{ schema }}.temp_id_salt yet: run ./run dbt build once';
    end if;
    return {{ schema }}.hmac_temp_id(normalized, stored);
end
$fn$;

-- Whether a salt is stored, the pepper and fingerprint (never the salt), and the fingerprint of
-- this session's salt.
create or replace function {{ schema }}.temp_id_salt_status()
returns table (stored boolean, pepper text, fingerprint text, session_fingerprint text)
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $fn$
begin
    return query
    select
        t.salt is not null,
        t.pepper,
        t.fingerprint,
        {{ schema }}.salt_fingerprint(t.pepper, {{ schema }}.session_salt())
    from {{ schema }}.temp_id_salt as t;
end
$fn$;

-- Store this session's salt when the state has none yet. Refuses a salt that does not reproduce
-- the temporary ids already issued (a state built before the salt was stored).
create or replace function {{ schema }}.store_session_salt()
returns text
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $fn$
declare
    new_salt constant text := {{ schema }}.session_salt();
    current_row record;
    issued bigint;
    other bigint;
begin
    select * into current_row from {{ schema }}.temp_id_salt for update;
    if current_row.salt is not null then
        if current_row.salt = new_salt then
            return 'unchanged';
        end if;
        raise exception 'the state already has another temp-id salt (fingerprint %)', left(current_row.fingerprint, 8);
    end if;
    select count(*), count(*) filter (where temp_id <> {{ schema }}.hmac_temp_id(normalized_name, new_salt))
    into issued, other
    from {{ schema }}.temporary_ids;
    if other > 0 then
        raise exception '% of the % temporary ids already issued were made with another salt: '
            'export the WDH_ALIAS_SALT they were built with', other, issued;
    end if;
    update {{ schema }}.temp_id_salt
    set salt = new_salt, fingerprint = {{ schema }}.salt_fingerprint(pepper, new_salt), stored_at = now();
    return 'stored';
end
$fn$;

-- Deliberate rotation to this session's salt, in one transaction: every issued temporary id is
-- re-keyed (old -> new recorded in temp_id_rotations), active requests follow, the salt and its
-- fingerprint (with a new pepper) are replaced. Returns the number of ids re-keyed.
create or replace function {{ schema }}.rotate_temp_id_salt(dry_run boolean default false)
returns bigint
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $fn$
declare
    new_salt constant text := {{ schema }}.session_salt();
    current_row record;
    new_pepper constant text := replace(gen_random_uuid()::text, '-', '');
    rekeyed bigint;
begin
    select * into current_row from {{ schema }}.temp_id_salt for update;
    if current_row.salt is null then
        raise exception 'no temp-id salt is stored yet: nothing to rotate (run ./run dbt build)';
    end if;
    if current_row.salt = new_salt then
        return 0;
    end if;
    create temporary table rekeyed_ids on commit drop as
    select
        temp_id as old_temp_id,
        {{ schema }}.hmac_temp_id(normalized_name, new_salt) as new_temp_id,
        normalized_name
    from {{ schema }}.temporary_ids;
    select count(*) into rekeyed from rekeyed_ids;
    if dry_run then
        drop table rekeyed_ids;
        return rekeyed;
    end if;
    insert into {{ schema }}.temp_id_rotations (old_temp_id, new_temp_id, normalized_name, old_fingerprint, new_fingerprint)
    select old_temp_id, new_temp_id, normalized_name, current_row.fingerprint, {{ schema }}.salt_fingerprint(new_pepper, new_salt)
    from rekeyed_ids;
    update {{ schema }}.temporary_ids as issued
    set temp_id = r.new_temp_id
    from rekeyed_ids as r
    where issued.temp_id = r.old_temp_id;
    update {{ schema }}.enrichment_requests as request
    set temp_id = {{ schema }}.hmac_temp_id(request.normalized_name, new_salt)
    where request.temp_id is not null;
    update {{ schema }}.temp_id_salt
    set salt = new_salt,
        pepper = new_pepper,
        fingerprint = {{ schema }}.salt_fingerprint(new_pepper, new_salt),
        rotated_at = now();
    drop table rekeyed_ids;
    return rekeyed;
end
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
