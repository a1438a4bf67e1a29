{#
  The durable enrichment state: cache, queue, issued temporary ids, run log. One owner (this macro,
  run by on-run-start) creates and migrates it with versioned, idempotent DDL. These are not dbt
  models, so neither `dbt build --full-refresh` nor a re-seed can drop them; models read them as
  sources and write to them only through the idempotent upserts in macros/state_writes.sql.
#}

{% macro state_migrations() %}
  {%- set s = enrichment_schema() -%}
  {{- return([
    {'version': 1, 'description': 'cache, queue, temporary ids, run log', 'sql': "
create table if not exists " ~ s ~ ".company_name_index (
    key_type text not null
        check (key_type in ('plan_customer', 'customer_name', 'former_name', 'plan_code', 'account_name')),
    lookup_key text not null check (lookup_key <> ''),
    company_id text not null check (company_id ~ '^[0-9]+$'),
    official_name text,
    credit_code text,
    match_type text not null default 'unknown',
    confidence numeric(4, 3) not null check (confidence between 0 and 1),
    source text not null check (source in ('eqc', 'backflow', 'legacy_import', 'manual')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (key_type, lookup_key)
);
create index if not exists company_name_index_company_id on " ~ s ~ ".company_name_index (company_id);

create table if not exists " ~ s ~ ".enrichment_requests (
    request_id bigint generated always as identity primary key,
    normalized_name text not null check (normalized_name <> ''),
    raw_name_example text,
    temp_id text check (temp_id ~ '^IN[A-Z2-7]{16}$'),
    status text not null default 'pending'
        check (status in ('pending', 'in_progress', 'done', 'not_found', 'failed', 'cancelled')),
    priority numeric not null default 0,
    row_count bigint not null default 0,
    asset_volume numeric not null default 0,
    attempts integer not null default 0 check (attempts >= 0),
    lease_owner text,
    lease_expires_at timestamptz,
    next_attempt_at timestamptz not null default now(),
    last_error text,
    resolved_company_id text check (resolved_company_id ~ '^[0-9]+$'),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check (status <> 'done' or resolved_company_id is not null)
);
-- One active request per name, enforced by the database.
create unique index if not exists enrichment_requests_one_active
    on " ~ s ~ ".enrichment_requests (normalized_name) where status in ('pending', 'in_progress');
create index if not exists enrichment_requests_due
    on " ~ s ~ ".enrichment_requests (priority desc, next_attempt_at) where status = 'pending';
create index if not exists enrichment_requests_name on " ~ s ~ ".enrichment_requests (normalized_name);

create table if not exists " ~ s ~ ".temporary_ids (
    temp_id text primary key check (temp_id ~ '^IN[A-Z2-7]{16}$'),
    normalized_name text not null,
    row_count bigint not null default 0,
    first_seen_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    replaced_by_company_id text,
    replaced_at timestamptz
);

create table if not exists " ~ s ~ ".run_log (
    run_id bigint generated always as identity primary key,
    run_kind text not null check (run_kind in ('build', 'drain', 'import')),
    invocation_id text,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    status text not null default 'running' check (status in ('running', 'success', 'error', 'interrupted')),
    details jsonb not null default '{}'::jsonb
);
"},
    {'version': 2, 'description': 'drain: shared rate limit, raw responses, needs_review status', 'sql': "
-- Every EQC call any drain makes, stamped by the database clock: the rate limit across processes.
create table if not exists " ~ s ~ ".eqc_calls (
    call_id bigint generated always as identity primary key,
    called_at timestamptz not null default clock_timestamp(),
    run_id bigint
);
create index if not exists eqc_calls_called_at on " ~ s ~ ".eqc_calls (called_at);

create table if not exists " ~ s ~ ".eqc_responses (
    company_id text not null,
    endpoint text not null check (endpoint in ('search', 'findDepart', 'findLabels')),
    request_key text not null,
    body jsonb not null,
    fetched_at timestamptz not null default now(),
    primary key (endpoint, request_key)
);

alter table " ~ s ~ ".enrichment_requests drop constraint if exists enrichment_requests_status_check;
alter table " ~ s ~ ".enrichment_requests add constraint enrichment_requests_status_check
    check (status in ('pending', 'in_progress', 'done', 'not_found', 'needs_review', 'failed', 'cancelled'));
alter table " ~ s ~ ".enrichment_requests add column if not exists review_candidate jsonb;
"},
    {'version': 3, 'description': 'run log: reports', 'sql': "
alter table " ~ s ~ ".run_log drop constraint if exists run_log_run_kind_check;
alter table " ~ s ~ ".run_log add constraint run_log_run_kind_check
    check (run_kind in ('build', 'drain', 'import', 'report'));
"},
    {'version': 4, 'description': 'temp-id salt kept once, its fingerprint, rotations', 'sql': "
-- The salt every temporary id is made with: one row, readable by its owner only (the functions
-- that use it are SECURITY DEFINER). The pepper makes the fingerprint this state's own.
create table if not exists " ~ s ~ ".temp_id_salt (
    singleton boolean primary key default true check (singleton),
    salt text check (salt <> ''),
    pepper text not null,
    fingerprint text,
    stored_at timestamptz,
    rotated_at timestamptz,
    check ((salt is null) = (fingerprint is null))
);
revoke all on " ~ s ~ ".temp_id_salt from public;
insert into " ~ s ~ ".temp_id_salt (pepper) values (replace(gen_random_uuid()::text, '-', ''))
on conflict (singleton) do nothing;

-- Every temporary id a salt rotation re-keyed: downstream tables map old_temp_id to new_temp_id.
create table if not exists " ~ s ~ ".temp_id_rotations (
    rotation_row_id bigint generated always as identity primary key,
    old_temp_id text not null check (old_temp_id ~ '^IN[A-Z2-7]{16}$'),
    new_temp_id text not null check (new_temp_id ~ '^IN[A-Z2-7]{16}$'),
    normalized_name text not null,
    old_fingerprint text not null,
    new_fingerprint text not null,
    rotated_at timestamptz not null default now()
);
create index if not exists temp_id_rotations_old on " ~ s ~ ".temp_id_rotations (old_temp_id);

alter table " ~ s ~ ".run_log drop constraint if exists run_log_run_kind_check;
alter table " ~ s ~ ".run_log add constraint run_log_run_kind_check
    check (run_kind in ('build', 'drain', 'import', 'report', 'load', 'review', 'salt'));
"},
    {'version': 5, 'description': 'queue: name indexes on a hash of the name (names of any length)', 'sql': "
-- A btree entry holds at most 2,704 bytes: index a hash of the name, so that any name queues.
drop index if exists " ~ s ~ ".enrichment_requests_one_active;
create unique index if not exists enrichment_requests_one_active_hash
    on " ~ s ~ ".enrichment_requests (md5(normalized_name)) where status in ('pending', 'in_progress');
drop index if exists " ~ s ~ ".enrichment_requests_name;
create index if not exists enrichment_requests_name_hash on " ~ s ~ ".enrichment_requests using hash (normalized_name);
"},
    {'version': 6, 'description': 'evidence on cache and requests, review candidates and decisions', 'sql': "
-- Why a registry candidate was accepted (docs/candidate-evidence.md); NULL on entries made before.
alter table " ~ s ~ ".company_name_index add column if not exists evidence text;
alter table " ~ s ~ ".company_name_index drop constraint if exists company_name_index_evidence_check;
alter table " ~ s ~ ".company_name_index add constraint company_name_index_evidence_check
    check (evidence in ('exact_name', 'former_name', 'legal_form_variant', 'manual'));
alter table " ~ s ~ ".enrichment_requests add column if not exists evidence text;
alter table " ~ s ~ ".enrichment_requests drop constraint if exists enrichment_requests_evidence_check;
alter table " ~ s ~ ".enrichment_requests add constraint enrichment_requests_evidence_check
    check (evidence in ('exact_name', 'former_name', 'legal_form_variant', 'manual'));
-- needs_review: the top candidates kept (with why each was not accepted) and the reason.
alter table " ~ s ~ ".enrichment_requests add column if not exists review_candidates jsonb;
alter table " ~ s ~ ".enrichment_requests add column if not exists review_reason text;

-- People's decisions on names: durable, undoable (undone_at), never dropped by a full refresh.
create table if not exists " ~ s ~ ".review_decisions (
    decision_id bigint generated always as identity primary key,
    normalized_name text not null check (normalized_name <> ''),
    decision text not null check (decision in ('accept', 'reject', 'no_company')),
    company_id text check (company_id ~ '^[0-9]+$'),
    official_name text,
    credit_code text,
    request_id bigint,
    replaced_cache_entries jsonb not null default '[]'::jsonb,
    decided_by text not null,
    decided_at timestamptz not null default now(),
    undone_by text,
    undone_at timestamptz,
    check ((decision = 'no_company') = (company_id is null))
);
-- One verdict (accept or no company) per name, one rejection per name and company (on a hash of
-- the name, so that names of any length fit the index).
create unique index if not exists review_decisions_one_verdict
    on " ~ s ~ ".review_decisions (md5(normalized_name))
    where decision in ('accept', 'no_company') and undone_at is null;
create unique index if not exists review_decisions_one_rejection
    on " ~ s ~ ".review_decisions (md5(normalized_name), company_id)
    where decision = 'reject' and undone_at is null;

alter table " ~ s ~ ".run_log drop constraint if exists run_log_run_kind_check;
alter table " ~ s ~ ".run_log add constraint run_log_run_kind_check
    check (run_kind in ('build', 'drain', 'import', 'report', 'load', 'review', 'salt'));
"},
    {'version': 7, 'description': 'cache: unverified entries, re-checks, retired entries', 'sql': "
-- What we inherit is unverified until checked: an entry is verified when it records evidence
-- (a registry answer or a person's decision) or was learned from rows' own codes (backflow).
-- Unverified entries (the old warehouse's import, registry entries from before the evidence
-- rules) never outrank a row's own real code and are re-checked by the drain.
alter table " ~ s ~ ".company_name_index add column if not exists is_verified boolean
    generated always as (evidence is not null or source in ('manual', 'backflow')) stored;
alter table " ~ s ~ ".company_name_index add column if not exists recheck_priority numeric not null default 0;
alter table " ~ s ~ ".company_name_index add column if not exists recheck_next_at timestamptz;
alter table " ~ s ~ ".company_name_index add column if not exists recheck_lease_owner text;
alter table " ~ s ~ ".company_name_index add column if not exists recheck_lease_expires_at timestamptz;
alter table " ~ s ~ ".company_name_index add column if not exists rechecked_at timestamptz;
alter table " ~ s ~ ".company_name_index add column if not exists recheck_outcome text;
alter table " ~ s ~ ".company_name_index drop constraint if exists company_name_index_recheck_outcome_check;
alter table " ~ s ~ ".company_name_index add constraint company_name_index_recheck_outcome_check
    check (recheck_outcome in ('confirmed', 'unsettled'));
alter table " ~ s ~ ".company_name_index add column if not exists recheck_reason text;
create index if not exists company_name_index_unverified
    on " ~ s ~ ".company_name_index (recheck_priority desc, key_type, lookup_key) where not is_verified;

-- Entries a re-check contradicted: kept for audit, never used (no model reads this table), and
-- never imported again.
create table if not exists " ~ s ~ ".retired_cache_entries (
    retired_id bigint generated always as identity primary key,
    key_type text not null,
    lookup_key text not null,
    company_id text not null,
    official_name text,
    credit_code text,
    match_type text,
    confidence numeric(4, 3),
    source text not null,
    created_at timestamptz,
    retired_at timestamptz not null default now(),
    retired_reason text not null,
    replaced_by_company_id text check (replaced_by_company_id ~ '^[0-9]+$'),
    run_id bigint
);
create index if not exists retired_cache_entries_key
    on " ~ s ~ ".retired_cache_entries (key_type, md5(lookup_key), company_id);
"},
    {'version': 8, 'description': 'temporary ids: room in each page for the rewrite of every build', 'sql': "
-- Each build rewrites the row of every temporary id it issues (row_count, last_seen_at). Half of
-- each page left free lets the new version of a row stay in its page without a new entry in the
-- key's index (a HOT update): 25,024 ids, 0.33-0.61 s -> 0.20-0.34 s. Pages written before keep
-- their fill until rows move.
alter table " ~ s ~ ".temporary_ids set (fillfactor = 50);
"},
  ]) -}}
{% endmacro %}

{% macro create_enrichment_state() %}
  {{ return(adapter.dispatch('create_enrichment_state', 'company_enrichment')()) }}
{% endmacro %}

{% macro default__create_enrichment_state() %}
  {{- _postgres_only('create_enrichment_state') -}}
{% endmacro %}

{% macro postgres__create_enrichment_state() %}
{%- set s = enrichment_schema() -%}
-- Serialize concurrent builds while migrating.
select pg_advisory_xact_lock(hashtext('company_enrichment.state_migrations'));
create schema if not exists {{ s }};
create table if not exists {{ s }}.schema_migrations (
    version integer primary key,
    description text not null,
    applied_at timestamptz not null default now()
);
{% for migration in state_migrations() %}
do $migration$
begin
    if not exists (select 1 from {{ s }}.schema_migrations where version = {{ migration.version }}) then
        {{ migration.sql }}
        insert into {{ s }}.schema_migrations (version, description)
        values ({{ migration.version }}, '{{ migration.description }}');
    end if;
end
$migration$;
{% endfor %}
{% endmacro %}

{# `dbt run-operation setup_enrichment_state`: create or migrate the state and functions alone,
   without building any model (what every dbt build's on-run-start does first). #}
{% macro setup_enrichment_state() %}
  {% do run_query(create_enrichment_functions()) %}
  {% do run_query(create_enrichment_state()) %}
  {% do run_query(check_temp_id_salt()) %}
  {{ log("enrichment state and functions are up to date in schema " ~ enrichment_schema(), info=true) }}
{% endmacro %}
