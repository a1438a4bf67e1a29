{#
  int_existing_code_backflow, built incrementally (docs/incremental-builds.md). Its rows are keys
  (a name, or plan + name), each counted over every staging row of its name that carries a real
  code, and judged against what overrides and the cache say. A new month touches few names, so an
  incremental build counts and judges again only the names whose keys can have changed, every key
  of such a name whole:
    - the names of the rows of new batches (of either staging table) that carry a code;
    - the names of the keys a changed input row can answer (overrides, collective plans, cache
      entries at any confidence: cached_company_id names an entry below cache_min_confidence too),
      found as the per-key answers find theirs (incremental_company_keys.sql);
    - every name when a batch it counted changed or went away, a row has no batch, the code or the
      vars differ from the last build, or a record is missing (the names of rows that are gone are
      not known).
  Hooks, in the model's transaction:
    pre   scope_backflow_names(upstreams)   decides the scope, deletes the keys of its names
    post  record_held_batches()             the staging tables' records, as this model now holds them
    post  record_company_keys_inputs()      the inputs copy, the cache's versions and the fingerprint (as the keys models)
    post  record_backflow_changes()         logs what this build changed in the keys it learned
  The model selects its rows with rows_in_scope(...) (incremental_company_keys.sql).
#}

{#- The staging tables' records of batches (record_held_batches), one row per table and batch;
    NULL when a table has none yet. -#}
{% macro _backflow_upstream_batches(upstreams) %}
  {%- set parts = [] -%}
  {%- for upstream in upstreams -%}
    {%- set record = held_batches_relation(upstream) -%}
    {%- if execute and adapter.get_relation(record.database, record.schema, record.identifier) is none -%}
      {{- return(none) -}}
    {%- endif -%}
    {%- do parts.append("select '" ~ upstream.identifier ~ "' as upstream, load_batch_id, row_count, version_sum from " ~ record) -%}
  {%- endfor -%}
  {{- return(parts | join('\n    union all\n    ')) -}}
{% endmacro %}

{% macro scope_backflow_names(upstreams) %}
  {{- return(adapter.dispatch('scope_backflow_names', 'company_enrichment')(upstreams)) -}}
{% endmacro %}

{% macro default__scope_backflow_names(upstreams) %}
  {{- _postgres_only('scope_backflow_names') -}}
{% endmacro %}

{% macro postgres__scope_backflow_names(upstreams) %}
  {%- set held = held_batches_relation(this) -%}
  {%- set state = _relation_beside(this, '__state') -%}
  {%- set inputs = _relation_beside(this, '__inputs') -%}
  {%- set cache_versions = _cache_versions_relation() -%}
  {%- set seen = _backflow_upstream_batches(upstreams) -%}
  {%- set every_name = true -%}
  {%- if execute and is_incremental() and seen is not none
      and adapter.get_relation(held.database, held.schema, held.identifier) is not none
      and adapter.get_relation(state.database, state.schema, state.identifier) is not none
      and adapter.get_relation(inputs.database, inputs.schema, inputs.identifier) is not none
      and adapter.get_relation(cache_versions.database, cache_versions.schema, cache_versions.identifier) is not none -%}
    {#- Only new batches may have come: none held changed or went away, every row has a batch. -#}
    {%- set unchanged = run_query(
        'select not exists (select from (' ~ seen ~ ') as seen where seen.load_batch_id is null) '
        ~ 'and not exists (select upstream, load_batch_id, row_count, version_sum from ' ~ held
        ~ ' except select * from (' ~ seen ~ ') as seen) '
        ~ 'and (select fingerprint from ' ~ state ~ ') = ' ~ _company_keys_fingerprint()) -%}
    {%- set every_name = not unchanged.columns[0].values()[0] -%}
  {%- endif %}
    create temporary table {{ _seen_batches() }} on commit drop as
    {{ seen if seen is not none else 'select null::text as upstream, null::text as load_batch_id, null::bigint as row_count, null::numeric as version_sum where false' }};
    create temporary table {{ _keys_inputs_now() }} on commit drop as
    {{ _resolution_inputs() }};
    {%- if every_name %}
    create temporary table {{ _keys_scope() }} on commit drop as
    select true as every_key, null::text as normalized_name;
    {{ _every_cache_version() }};
    create temporary table {{ _learned_before() }} on commit drop as
    select null::text as key_type, null::text as lookup_key, null::text as company_id, null::numeric as confidence
    where false;
    {%- if is_incremental() %}
    delete from {{ this }}
    {%- endif %}
    {%- else %}
    {{ _find_changed_inputs(inputs) }};
    -- counted, so that the planner looks the few changed keys up through the keys' indexes
    analyze {{ _keys_inputs_changed() }};
    {{ read_new_batches_by_index() }};
    create temporary table {{ _keys_scope() }} on commit drop as
    -- the names of the keys a changed input row may answer
    {{ _keys_answered_by_changed_inputs(this, 'false as every_key, built.normalized_name') }}
    {%- for upstream in upstreams %}
    union
    -- the names of the coded rows of batches this model has not counted yet
    select false, resolution_name_normalized
    from {{ upstream }}
    where
        existing_company_id is not null
        and {{ batch_is_unbuilt('load_batch_id', indexed=true, upstream=upstream) }}
    {%- endfor %};
    -- only for the scope: the model's statement reads staging by name, not by batch
    reset enable_seqscan;
    -- what the keys about to be counted again taught, for the log (record_backflow_changes)
    create temporary table {{ _learned_before() }} on commit drop as
    {{ _learned_in_scope() }};
    delete from {{ this }} as built
    where built.normalized_name in (select s.normalized_name from {{ _keys_scope() }} as s)
    {%- endif %}
{%- endmacro %}

{% macro _learned_before() %}
  {{- return(_temporary_beside('__learned_before')) -}}
{% endmacro %}

{#- The learned keys of the names in scope, as the resolution reads them (is_learned, id, confidence). -#}
{% macro _learned_in_scope() %}
    select key_type, lookup_key, company_id, confidence from {{ this }} as built
    where built.is_learned and built.normalized_name in (select s.normalized_name from {{ _keys_scope() }} as s)
{%- endmacro %}

{#- The log of what each build of backflow changed in the keys it learned, beside it:
    `<backflow>__changes` (build_seq, every_name, lookup_key). The per-key answers read it instead
    of comparing every learned key with a copy (scope_company_keys). -#}
{% macro backflow_changes_relation(backflow) %}
  {{- return(_relation_beside(backflow, '__changes')) -}}
{% endmacro %}

{#- Post-hook: this build into the log, under the next build number: every_name when it counted
    every name, else the lookup keys whose learned answer it added, removed or changed (the keys it
    counted again, compared with what they taught before), and a row with no key that marks the
    build, so that a reader sees no build is missing. The last 100 builds are kept: per-key answers
    built longer ago resolve every key. -#}
{% macro record_backflow_changes() %}
  {%- set changes = backflow_changes_relation(this) -%}
    create table if not exists {{ changes }} (build_seq bigint not null, every_name boolean not null, lookup_key text);
    insert into {{ changes }} (build_seq, every_name, lookup_key)
    select this_build.build_seq, logged.every_name, logged.lookup_key
    from (select coalesce(max(build_seq), 0) + 1 as build_seq from {{ changes }}) as this_build
    cross join (
        select true as every_name, null as lookup_key from {{ _keys_scope() }} where every_key
        union all
        select false, null
        union all
        -- a key learned before or now (one per key and type) whose answer is not the same
        select false, coalesce(before.lookup_key, now_.lookup_key)
        from {{ _learned_before() }} as before
        full join ({{ _learned_in_scope() }}) as now_
            on before.key_type = now_.key_type and before.lookup_key = now_.lookup_key
        where (before.company_id, before.confidence) is distinct from (now_.company_id, now_.confidence)
    ) as logged;
    delete from {{ changes }} where build_seq <= (select max(build_seq) - 100 from {{ changes }})
{%- endmacro %}
