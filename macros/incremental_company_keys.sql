{#
  The per-key answers (int_*__company_keys), built incrementally (docs/incremental-builds.md).

  A key's answer depends on its rows and on the inputs of resolve_company_keys: overrides and
  review decisions, collective plans, cache entries, the keys backflow learned, the salt, and the
  code and vars that resolve. An incremental build resolves again exactly the keys whose answer
  can have changed, and every key in the few cases it cannot tell:
    - keys of the rows of new batches (their counts and answers; their other rows too, so counts
      stay whole);
    - keys that a changed input row can answer (matched the way resolution looks them up: plan,
      name, or plan + name), found by comparing the overrides and collective plans with the copy
      kept at the last build (`<keys>__inputs`) and the cache's entries by row version with the
      record kept (`<keys>__cache_versions`);
    - keys that a key backflow learned, unlearned or changed since this model's last build can
      answer, as its log of changes says (`int_existing_code_backflow__changes`,
      incremental_backflow.sql), instead of comparing every learned key with a copy (half the
      inputs a build would copy and compare);
    - every key when a batch it was built from changed or went away (a replaced or deleted month:
      the keys of rows that are gone are not known), when a row has no batch, when the code, the
      vars or the salt differ from the last build (`<keys>__state`), when backflow counted every
      name since (or its log no longer reaches back that far), or when a record is missing.
  Hooks, in the model's transaction, in this order:
    pre   forget_changed_batches(..., keeps_rows_by_batch=false)   the batches record (as staging's)
    pre   scope_company_keys(upstream, learned_keys)   decides the scope (new batches read by index:
                                               read_new_batches_by_index); on a whole rebuild deletes every key
    post  record_held_batches()
    post  record_company_keys_inputs(learned_keys)   the inputs copy, the cache's versions, the fingerprint, and how far
                                               backflow's log was read, as now
  The model selects its rows with rows_in_scope(...).
#}

{% macro _keys_scope() %}
  {{- return(_temporary_beside('__scope')) -}}
{% endmacro %}

{% macro _keys_inputs_now() %}
  {{- return(_temporary_beside('__inputs_now')) -}}
{% endmacro %}

{% macro _keys_inputs_changed() %}
  {{- return(_temporary_beside('__inputs_changed')) -}}
{% endmacro %}

{#- The small input tables resolution reads, one text answer per (key type, lookup key): what
    changes in them can change the answer of the keys that look them up. The cache, large, is
    tracked by row version instead (below); the keys backflow learned come from its log. #}
{% macro _resolution_inputs() %}
    select 'override_' || override_type as key_type, match_key as lookup_key,
        cast(row(company_id) as text) as answer
    from {{ ref('int_company_id_overrides') }}
    union all
    select 'collective_plan', plan_code, '' from {{ ref('int_collective_plans') }}
{% endmacro %}

{#- Statements: the lookup keys of the input rows added or removed since the last build (one hashed
    pass over both copies), into _keys_inputs_changed(); then those of the cache's changed entries
    (_find_changed_cache_entries). #}
{% macro _find_changed_inputs(recorded_inputs) %}
    create temporary table {{ _keys_inputs_changed() }} on commit drop as
    select distinct lookup_key
    from (
        select *, 1 as side from {{ _keys_inputs_now() }}
        union all
        select *, -1 as side from {{ recorded_inputs }}
    ) as both_builds
    group by key_type, lookup_key, answer
    having sum(side) <> 0;
    {{ _find_changed_cache_entries() }}
{%- endmacro %}

{#-
  The cache by row version. Every write of an entry (insert, update, delete; by a build, the drain,
  an import or by hand) gives it a new row version, `xmin` (the transaction that wrote it), so a
  model keeps a record of the (key type, lookup key, version) of every entry it read
  (`<model>__cache_versions`) instead of a copy of their answers, and compares counts by version:
  a version whose count differs holds every entry written, rewritten or deleted since (a month:
  the versions of the entries backflow and the drain wrote, a few thousand rows of 150,000).
  Only the entries of those versions are compared one by one. Every entry is recorded, whatever
  its confidence: a change that crosses cache_min_confidence is a write like any other.
-#}
{% macro _cache_versions_relation() %}
  {{- return(_relation_beside(this, '__cache_versions')) -}}
{% endmacro %}

{% macro _cache_changed_versions() %}
  {{- return(_temporary_beside('__cache_changed_versions')) -}}
{% endmacro %}

{% macro _cache_row_version(entry) %}
  {{- return(transaction_as_number(entry ~ '.xmin')) -}}
{% endmacro %}

{% macro _cache_entries_now() %}
  {{- return(_temporary_beside('__cache_entries_now')) -}}
{% endmacro %}

{#- Statement: the cache's entries of the changed versions as this build reads them, kept for the
    post-hook's record, so that the record never holds a version written after the build looked
    (the next build then finds it changed). -#}
{% macro _capture_cache_entries() %}
    create temporary table {{ _cache_entries_now() }} on commit drop as
    select entry.key_type, entry.lookup_key, {{ _cache_row_version('entry') }} as version
    from {{ source('enrichment', 'company_name_index') }} as entry
    where {{ _cache_row_version('entry') }} in (select v.version from {{ _cache_changed_versions() }} as v)
{%- endmacro %}

{#- Statements: the versions whose count of entries differs from the record's, their entries now,
    then the lookup keys of the entries of those versions that the record or the cache lacks, into
    _keys_inputs_changed(). A committed version can only lose entries, so a version whose count
    is the same holds the same entries. -#}
{% macro _find_changed_cache_entries() %}
  {%- set recorded = _cache_versions_relation() %}
    create temporary table {{ _cache_changed_versions() }} on commit drop as
    select version
    from (
        select {{ _cache_row_version('entry') }} as version, 1 as side
        from {{ source('enrichment', 'company_name_index') }} as entry
        union all
        select version, -1 from {{ recorded }}
    ) as both_builds
    group by version
    having sum(side) <> 0;
    {{ _capture_cache_entries() }};
    insert into {{ _keys_inputs_changed() }}
    -- written since: an entry the record lacks
    select now_.lookup_key
    from {{ _cache_entries_now() }} as now_
    where not exists (
        select from {{ recorded }} as r
        where r.version = now_.version and r.key_type = now_.key_type and r.lookup_key = now_.lookup_key
    )
    union
    -- rewritten or deleted since: a recorded entry of a changed version that the cache lacks
    select r.lookup_key
    from {{ recorded }} as r
    where r.version in (select v.version from {{ _cache_changed_versions() }} as v)
        and not exists (
            select from {{ _cache_entries_now() }} as now_
            where now_.version = r.version and now_.key_type = r.key_type and now_.lookup_key = r.lookup_key
        )
{%- endmacro %}

{#- Statements (post-hook): the record as this build read the cache: the entries of the changed
    versions replace the record's (on a whole rebuild, which dropped the record, every entry). -#}
{% macro _record_cache_versions() %}
  {%- set recorded = _cache_versions_relation() %}
    create table if not exists {{ recorded }} (key_type text not null, lookup_key text not null, version bigint not null);
    create index if not exists {{ recorded.identifier }}__by_version on {{ recorded }} (version);
    delete from {{ recorded }} where version in (select v.version from {{ _cache_changed_versions() }} as v);
    insert into {{ recorded }} (key_type, lookup_key, version)
    select key_type, lookup_key, version from {{ _cache_entries_now() }}
{%- endmacro %}

{#- Statements for a whole rebuild: every version counts as changed, and the record is made again
    from every entry. -#}
{% macro _every_cache_version() %}
    drop table if exists {{ _cache_versions_relation() }};
    create temporary table {{ _cache_changed_versions() }} on commit drop as
    select distinct {{ _cache_row_version('entry') }} as version
    from {{ source('enrichment', 'company_name_index') }} as entry;
    {{ _capture_cache_entries() }}
{%- endmacro %}

{#- A query of the given columns of the rows of a table of keys (plan_key, normalized_name, aliased
    `built`) that a changed input row may answer. Resolution looks a key up by its plan, its name,
    or both (plan|name): any of the three, whatever the input's kind, so that none is ever missed.
    Each changed lookup key is looked up through an index on the md5 of each of the three
    (index_keys_for_incremental_reads: a month's few thousand instead of hashing the three of every
    key), then compared exactly. A join, not `md5(...) = any(array)`: PostgreSQL would test every
    row it reads against the whole array, one element after the other. #}
{% macro _keys_answered_by_changed_inputs(relation, columns) %}
  {%- for looked_up in ['built.plan_key', 'built.normalized_name', "built.plan_key || '|' || built.normalized_name"] %}
    {{ 'union' if not loop.first }}
    select {{ columns }}
    from {{ _keys_inputs_changed() }} as changed
    inner join {{ relation }} as built
        on md5({{ looked_up }}) = md5(changed.lookup_key) and {{ looked_up }} = changed.lookup_key
  {%- endfor %}
{%- endmacro %}

{#- Post-hook of the keys tables and backflow: the indexes their incremental builds read through,
    made by the first incremental build (a full build reads every key):
    - by the md5 of each way resolution looks a key up (plan, name, plan|name), through which a
      build finds the keys a changed input may answer (_keys_answered_by_changed_inputs);
    - keys tables only (by_transaction=true): by the resolving transaction, through which a mart
      reads the keys resolved since its last build (changed_answer_keys);
    - backflow only (backflow_conflicts=true): its few conflicting keys, which the view
      marts.backflow_conflicts lists. -#}
{% macro index_keys_for_incremental_reads(by_transaction=true, backflow_conflicts=false) %}
  {%- if is_incremental() -%}
    create index if not exists {{ this.identifier }}__by_plan on {{ this }} (md5(plan_key));
    create index if not exists {{ this.identifier }}__by_name on {{ this }} (md5(normalized_name));
    create index if not exists {{ this.identifier }}__by_plan_and_name on {{ this }} (md5(plan_key || '|' || normalized_name))
    {%- if by_transaction %};
    create index if not exists {{ this.identifier }}__by_transaction on {{ this }} (resolved_in_transaction)
    {%- endif %}
    {%- if backflow_conflicts %};
    create index if not exists {{ this.identifier }}__conflicts on {{ this }} (key_type, lookup_key)
        where {{ is_backflow_conflict() }}
    {%- endif %}
  {%- else -%}
    select 'full build: no index yet' as index_keys_for_incremental_reads
  {%- endif -%}
{% endmacro %}

{#- What else an answer depends on: the resolution's SQL as compiled (the code of every macro it
    calls, the vars, the relations it reads; not the database's name, which a copy changes) and the
    salt (through a temporary id it gives). #}
{% macro _company_keys_fingerprint() %}
  {%- if not execute -%}{{ return("''") }}{%- endif -%}
  {%- set code = model.compiled_code | replace('"' ~ this.database ~ '".', '') -%}
  {{- return("'" ~ local_md5(code) ~ "' || " ~ temp_company_id("'salt fingerprint'", normalized=true)) -}}
{% endmacro %}

{% macro scope_company_keys(upstream, learned_keys, plan_code='plan_code', normalized_name='resolution_name_normalized', existing_code='existing_company_id') %}
  {{- return(adapter.dispatch('scope_company_keys', 'company_enrichment')(
      upstream, learned_keys, plan_code, normalized_name, existing_code)) -}}
{% endmacro %}

{% macro default__scope_company_keys(upstream, learned_keys, plan_code, normalized_name, existing_code) %}
  {{- _postgres_only('scope_company_keys') -}}
{% endmacro %}

{% macro postgres__scope_company_keys(upstream, learned_keys, plan_code, normalized_name, existing_code) %}
  {%- for argument in [plan_code, normalized_name, existing_code] -%}
    {{- _require_sql_expression('scope_company_keys', argument) -}}
  {%- endfor -%}
  {%- set state = _relation_beside(this, '__state') -%}
  {%- set inputs = _relation_beside(this, '__inputs') -%}
  {%- set cache_versions = _cache_versions_relation() -%}
  {%- set learned_changes = backflow_changes_relation(learned_keys) -%}
  {%- set learned_since = '(select learned_through from ' ~ state ~ ')' -%}
  {%- set every_key = true -%}
  {%- if execute and is_incremental()
      and adapter.get_relation(state.database, state.schema, state.identifier) is not none
      and adapter.get_relation(inputs.database, inputs.schema, inputs.identifier) is not none
      and adapter.get_relation(cache_versions.database, cache_versions.schema, cache_versions.identifier) is not none
      and adapter.get_relation(learned_changes.database, learned_changes.schema, learned_changes.identifier) is not none
      and 'learned_through' in (adapter.get_columns_in_relation(state) | map(attribute='name') | list) -%}
    {#- Backflow's log holds every build since this model's (none counted every name): a NULL
        (no record of how far it was read) says no. -#}
    {%- set unchanged = run_query(
        'select not exists (select from ' ~ _changed_batches() ~ ') '
        ~ 'and (select fingerprint from ' ~ state ~ ') = ' ~ _company_keys_fingerprint()
        ~ ' and (select coalesce(bool_and(not every_name), true) and count(distinct build_seq) = coalesce(max(build_seq), '
        ~ learned_since ~ ') - ' ~ learned_since ~ ' from ' ~ learned_changes ~ ' where build_seq > ' ~ learned_since ~ ')') -%}
    {%- set every_key = not unchanged.columns[0].values()[0] -%}
  {%- endif %}
    create temporary table {{ _keys_inputs_now() }} on commit drop as
    {{ _resolution_inputs() }};
    {%- if every_key %}
    create temporary table {{ _keys_scope() }} on commit drop as
    select true as every_key, null::text as plan_key, null::text as normalized_name, null::text as code_key;
    {{ _every_cache_version() }};
    {%- if is_incremental() %}
    -- (the keys of rows that are gone are not known)
    delete from {{ this }}
    {%- endif %}
    {%- else %}
    {{ _find_changed_inputs(inputs) }};
    -- and the keys whose learned answer backflow changed since
    insert into {{ _keys_inputs_changed() }}
    select distinct lookup_key from {{ learned_changes }}
    where build_seq > {{ learned_since }} and lookup_key is not null;
    -- counted, so that the planner looks the few changed keys up through the keys' indexes
    analyze {{ _keys_inputs_changed() }};
    {{ read_new_batches_by_index() }};
    create temporary table {{ _keys_scope() }} on commit drop as
    -- the keys a changed input row may answer
    {{ _keys_answered_by_changed_inputs(this, 'false as every_key, built.plan_key, built.normalized_name, built.code_key') }}
    union
    -- the keys of the rows of batches this model was not built from yet
    select false, coalesce({{ plan_code }}, ''), {{ normalized_name }}, coalesce({{ existing_code }}, '')
    from {{ upstream }}
    where {{ batch_is_unbuilt('load_batch_id', indexed=true) }};
    -- only for the scope: the model's statement reads staging by key, not by batch
    reset enable_seqscan
    {%- endif %}
{%- endmacro %}

{# The upstream's rows this build resolves again: those of the keys in scope (plan_code etc. given),
   or of the names in scope (backflow: its scope has names only). Two branches, one of which a build
   runs: every row when the scope says every key (a full build), else the rows of the scope's names
   through the staging tables' name index (index_for_incremental_reads), then of its keys. The same
   text on every build (the scope table is made on full builds too), so that the compiled SQL is
   the fingerprint of the resolution's code; every row in dbt's unit tests, which run no hooks. #}
{% macro rows_in_scope(relation, normalized_name='resolution_name_normalized', plan_code=none, existing_code=none) %}
  {%- for argument in [normalized_name, plan_code, existing_code] if argument is not none -%}
    {{- _require_sql_expression('rows_in_scope', argument) -}}
  {%- endfor -%}
  {%- if model is defined and model is mapping and model.get('resource_type') == 'unit_test' -%}
    select * from {{ relation }}
  {%- else -%}
    select * from {{ relation }}
    where exists (select from {{ _keys_scope() }} as s where s.every_key)
    union all
    select * from {{ relation }}
    where
        not exists (select from {{ _keys_scope() }} as s where s.every_key)
        and md5({{ normalized_name }}) = any(array(select distinct md5(s.normalized_name) from {{ _keys_scope() }} as s))
        {%- if plan_code is not none %}
        and (coalesce({{ plan_code }}, ''), {{ normalized_name }}, coalesce({{ existing_code }}, ''))
        in (select s.plan_key, s.normalized_name, s.code_key from {{ _keys_scope() }} as s)
        {%- else %}
        and {{ normalized_name }} in (select s.normalized_name from {{ _keys_scope() }} as s)
        {%- endif %}
  {%- endif -%}
{%- endmacro %}

{# Post-hook: the inputs and the fingerprint this build resolved with, how far it read backflow's
   log (learned_keys given: learned_through), and what it resolved again (rebuilt_every_key,
   keys_resolved_again: for people and tests to see what a build did). #}
{% macro record_company_keys_inputs(learned_keys=none) %}
  {%- set state = _relation_beside(this, '__state') -%}
  {%- set inputs = _relation_beside(this, '__inputs') -%}
    drop table if exists {{ inputs }};
    create table {{ inputs }} as select * from {{ _keys_inputs_now() }};
    {{- _record_cache_versions() }};
    drop table if exists {{ state }};
    create table {{ state }} as
    select
        {{ _company_keys_fingerprint() }} as fingerprint,
        coalesce(bool_or(every_key), false) as rebuilt_every_key,
        count(*) filter (where not every_key) as keys_resolved_again
        {%- if learned_keys is not none %},
        (select coalesce(max(build_seq), 0) from {{ backflow_changes_relation(learned_keys) }}) as learned_through
        {%- endif %}
    from {{ _keys_scope() }}
{%- endmacro %}
