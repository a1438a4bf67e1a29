{#
  Incremental builds by load batch (docs/incremental-builds.md).

  Every row carries the batch that loaded it (`load_batch_id`; NULL for rows of tables the loader
  did not write) and the version of its raw row (`raw_version`: the raw row's xmin, the transaction
  that last wrote it). A batch is written whole by one load; later it can lose rows (a month
  replaced or deleted) or have cells edited in place (an update gives the row a new xmin). So a
  batch whose row count or sum of versions differs from its upstream's is a changed batch. An
  incremental model keeps a record of the batches it holds (`<model>__batches`) and:
    - pre-hooks forget_changed_batches, forget_changed_rows: compare that record with the
      upstream's (staging: a count of raw by batch; marts: staging's record) and delete its rows
      of changed batches, of batches gone upstream, and every row without a batch;
    - selects   batch_is_unbuilt: the upstream rows of batches it no longer holds (new, or just
      forgotten) and every row without a batch;
    - post-hook record_held_batches: the upstream's record becomes its own.
  The marts also re-resolve the rows whose key's answer changed since they were built:
  resolution answers per distinct key (the *_company_keys tables, rebuilt whole each build), and
  each mart keeps, in the same transaction as its rows (post-hook record_applied_answers), the
  answers it was built with; any difference, whatever its cause, selects that key's rows again.
  A build killed part-way rolls its model back whole: the next build compares again and catches up.
#}

{# The batch of a raw table's row as staging records it: the loader's _batch_id plus a fingerprint
   of the SQL normalizer, so that a changed normalizer (python -m python_enrich.sqlgen) makes every
   batch new to staging and to the marts: every row is normalized and resolved again. NULL where
   the table has no such column or the row has no _row_key (its key is derived from its content, so
   it is re-parsed each build). #}
{% macro raw_batch_id(relation, columns=none) %}
  {{- return(adapter.dispatch('raw_batch_id', 'company_enrichment')(relation, columns)) -}}
{% endmacro %}

{% macro default__raw_batch_id(relation, columns=none) %}
  {{- _postgres_only('raw_batch_id') -}}
{% endmacro %}

{% macro postgres__raw_batch_id(relation, columns=none) %}
  {%- set batch, row_key = _raw_batch_columns(relation, columns) -%}
  {{- _raw_batch_id_of(batch, row_key) -}}
{%- endmacro %}

{#- A raw table's _batch_id and _row_key as raw_column_or_null gives them, from one catalog lookup
    (none when the caller passes the columns it looked up already, as raw_columns gives them). -#}
{% macro _raw_batch_columns(relation, columns=none) %}
  {%- set columns = raw_columns(relation) if columns is none else columns -%}
  {{- return([raw_column_or_null(relation, '_batch_id', columns), raw_column_or_null(relation, '_row_key', columns)]) -}}
{% endmacro %}

{#- raw_batch_id from the two columns as _raw_batch_columns gives them (a caller that needs the
    columns too looks them up once and passes them). -#}
{% macro _raw_batch_id_of(batch, row_key) %}
  {{- return(_batch_with_fingerprint(batch, row_key ~ ' is not null') if _has_batch_columns(batch, row_key)
      else 'cast(null as text)') -}}
{% endmacro %}

{% macro _has_batch_columns(batch, row_key) %}
  {{- return(batch != 'cast(null as text)' and row_key != 'cast(null as text)') -}}
{% endmacro %}

{% macro _batch_with_fingerprint(batch, has_row_key) %}
  {{- 'case when ' ~ has_row_key ~ ' then ' ~ batch ~ " || ':' || " ~ _normalizer_fingerprint() ~ ' end' -}}
{% endmacro %}

{# A raw table's record of batches (load_batch_id as raw_batch_id gives it, row_count, version_sum),
   as a subquery for forget_changed_batches(upstream_record=...): counted by the raw columns and the
   row version (xmin, few per batch) first, so that the batch id is spelled and a version turned
   into a number once per group instead of once per row (1,030,750 rows: a third of the time, then
   0.21–0.30 s → 0.17 s). The sum is the same as raw_row_version's over the rows. #}
{% macro raw_batch_record(relation) %}
  {%- set batch, row_key = _raw_batch_columns(relation) -%}
  {%- set batch_id = _batch_with_fingerprint('by_version.batch', 'by_version.has_row_key')
      if _has_batch_columns(batch, row_key) else 'cast(null as text)' -%}
    (
        select
            {{ batch_id }} as load_batch_id,
            sum(row_count) as row_count,
            sum({{ transaction_as_number('version') }} * row_count) as version_sum
        from (
            select
                {{ batch }} as batch,
                {{ row_key }} is not null as has_row_key,
                xmin as version,
                count(*) as row_count
            from {{ relation }}
            group by 1, 2, 3
        ) as by_version
        group by 1
    ) as raw_batches
{%- endmacro %}

{# A transaction id (a row's xmin, pg_current_xact_id()) as a number: PostgreSQL has no cast from
   xid or xid8 to an integer, but their text is one. #}
{% macro transaction_as_number(expression) %}
  {{- return('cast(cast(' ~ expression ~ ' as text) as bigint)') -}}
{% endmacro %}

{# The version of a raw table's row: the transaction that last wrote it (xmin), as a number.
   A unit test's given rows have no system columns: NULL there. #}
{% macro raw_row_version() %}
  {%- if model is defined and model is mapping and model.get('resource_type') == 'unit_test' -%}
    {{- return('cast(null as bigint)') -}}
  {%- endif -%}
  {{- return(transaction_as_number('xmin')) -}}
{% endmacro %}

{% macro _normalizer_fingerprint() %}
  {#- Evaluated once per query (an uncorrelated scalar subquery). -#}
  {{- "(select left(md5(string_agg(p.prosrc, '' order by p.proname)), 8) from pg_proc as p "
      ~ "where p.pronamespace = '" ~ enrichment_schema() ~ "'::regnamespace "
      ~ "and p.proname in ('normalize_company_name', 'unicode_upper'))" -}}
{% endmacro %}

{#
  Each incremental model keeps a record of the batches it holds, beside it: `<model>__batches`
  (load_batch_id, row_count, version_sum; a NULL batch counts the rows without one). Comparing
  records instead of rows spares every build two scans of the whole history (staging against
  raw, each mart against staging). Whatever the records say, a build converges: a batch whose
  record differs from its upstream's is forgotten and built again.
#}
{% macro held_batches_relation(model) %}
  {{- return(_relation_beside(model, '__batches')) -}}
{% endmacro %}

{# A bookkeeping table beside a model: same schema, the model's name plus a suffix. #}
{% macro _relation_beside(model, suffix) %}
  {{- return(api.Relation.create(
      database=model.database, schema=model.schema, identifier=model.identifier ~ suffix, type='table')) -}}
{% endmacro %}

{# A temporary table of this model's build (dropped at commit): the model's name plus a suffix. #}
{% macro _temporary_beside(suffix) %}
  {{- return(this.identifier ~ suffix) -}}
{% endmacro %}

{% macro _seen_batches() %}
  {{- return(_temporary_beside('__seen_batches')) -}}
{% endmacro %}

{% macro _changed_batches() %}
  {{- return(_temporary_beside('__changed_batches')) -}}
{% endmacro %}

{#
  Pre-hooks of an incremental model, in this order:
    forget_changed_batches  records what the upstream holds now (`upstream_record`: the upstream
                            model's own record, or a subquery such as raw_batch_record; else a
                            count of its rows by batch), and finds
                            the batches this model holds that differ from it or are gone;
    forget_changed_rows     deletes their rows (and every row without a batch); it is rendered
                            after the first has run, and is a no-op when nothing changed.
  The post-hook record_held_batches then keeps the upstream's record as this model's: the model
  now holds exactly those batches. All of it runs in the model's transaction.
#}
{#- keeps_rows_by_batch=false: a model whose rows are not batches' rows (the per-key answers) keeps
    the record only to tell what changed upstream. -#}
{% macro forget_changed_batches(upstream, upstream_batch='load_batch_id', upstream_version='raw_version', upstream_record=none, keeps_rows_by_batch=true) %}
  {{- return(adapter.dispatch('forget_changed_batches', 'company_enrichment')(upstream, upstream_batch, upstream_version, upstream_record, keeps_rows_by_batch)) -}}
{% endmacro %}

{% macro default__forget_changed_batches(upstream, upstream_batch, upstream_version, upstream_record, keeps_rows_by_batch) %}
  {{- _postgres_only('forget_changed_batches') -}}
{% endmacro %}

{% macro postgres__forget_changed_batches(upstream, upstream_batch, upstream_version, upstream_record, keeps_rows_by_batch) %}
  {{- _require_sql_expression('forget_changed_batches', upstream_batch) -}}
  {{- _require_sql_expression('forget_changed_batches', upstream_version) -}}
  {%- set held = held_batches_relation(this) -%}
  {#- An upstream built before it kept a record is counted instead. -#}
  {%- if upstream_record is not none and upstream_record is not string and execute
      and adapter.get_relation(upstream_record.database, upstream_record.schema, upstream_record.identifier) is none -%}
    {%- set upstream_record = none -%}
  {%- endif %}
    create temporary table {{ _seen_batches() }} on commit drop as
    {%- if upstream_record is not none %}
    select load_batch_id, row_count, version_sum from {{ upstream_record }};
    {%- else %}
    select
        {{ upstream_batch }} as load_batch_id,
        count(*) as row_count,
        sum({{ upstream_version }}) as version_sum
    from {{ upstream }}
    group by 1;
    {%- endif %}
  {%- if is_incremental() -%}
    {%- set built_columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list if execute else [] -%}
    {%- if execute and keeps_rows_by_batch and ('load_batch_id' not in built_columns or 'raw_version' not in built_columns) -%}
      {{ exceptions.raise_compiler_error(
          this ~ " was built before incremental builds (no load_batch_id or raw_version): run `dbt build --full-refresh` once") }}
    {%- endif -%}
    {%- set has_record = execute and adapter.get_relation(held.database, held.schema, held.identifier) is not none %}
    {#- A model built before it kept a record: count what it holds, once (holds nothing known when
        its rows are not batches' rows). #}
    {%- if not has_record and keeps_rows_by_batch %}
    create table {{ held }} as
    select load_batch_id, count(*) as row_count, sum(raw_version) as version_sum
    from {{ this }}
    group by 1;
    {%- elif not has_record %}
    create table {{ held }} (load_batch_id text, row_count bigint, version_sum numeric);
    {%- endif %}
    create temporary table {{ _changed_batches() }} on commit drop as
    select built.load_batch_id
    from {{ held }} as built
    left join {{ _seen_batches() }} as seen
        on built.load_batch_id = seen.load_batch_id
    where
        built.load_batch_id is null
        or seen.row_count is distinct from built.row_count
        or seen.version_sum is distinct from built.version_sum
    union all
    -- rows without a batch are built again by every build
    select null from {{ _seen_batches() }} where load_batch_id is null;
    -- What this model still holds, after the changed batches are forgotten (batch_is_unbuilt).
    delete from {{ held }}
    where load_batch_id is null or load_batch_id in (select c.load_batch_id from {{ _changed_batches() }} as c)
  {%- endif -%}
{%- endmacro %}

{#
  Second pre-hook: delete the rows of the changed batches. Rendered when it runs, after the first
  hook: when no batch changed it is a no-op and the model's rows are not scanned.
#}
{% macro forget_changed_rows() %}
  {{- return(adapter.dispatch('forget_changed_rows', 'company_enrichment')()) -}}
{% endmacro %}

{% macro default__forget_changed_rows() %}
  {{- _postgres_only('forget_changed_rows') -}}
{% endmacro %}

{% macro postgres__forget_changed_rows() %}
  {%- set changed = run_query('select count(*) from ' ~ _changed_batches()) if execute and is_incremental() else none -%}
  {%- if changed is not none and changed.columns[0].values()[0] > 0 -%}
    delete from {{ this }} as built
    where
        built.load_batch_id is null
        or built.load_batch_id in (select c.load_batch_id from {{ _changed_batches() }} as c)
  {%- else -%}
    select 'no batch changed' as forget_changed_rows
  {%- endif -%}
{%- endmacro %}

{# Post-hook: the upstream's record (as forget_changed_batches read it) becomes this model's. #}
{% macro record_held_batches() %}
  {%- set held = held_batches_relation(this) -%}
    drop table if exists {{ held }};
    create table {{ held }} as
    select * from {{ _seen_batches() }}
{%- endmacro %}

{#
  A predicate for the upstream rows an incremental build selects: rows without a batch, and rows of
  batches this model does not hold (after forget_changed_batches: the new and the changed ones).
  `true` on a full build.
#}
{% macro batch_is_unbuilt(batch, indexed=false, upstream=none) %}
  {{- return(adapter.dispatch('batch_is_unbuilt', 'company_enrichment')(batch, indexed, upstream)) -}}
{% endmacro %}

{% macro default__batch_is_unbuilt(batch, indexed=false, upstream=none) %}
  {{- _postgres_only('batch_is_unbuilt') -}}
{% endmacro %}

{#- indexed=true: the batch is staging's load_batch_id, which index_for_incremental_reads indexes (by its md5).
    upstream: the relation whose rows these are, for a model that records the batches of several
    (its records have an `upstream` column: backflow's). -#}
{% macro postgres__batch_is_unbuilt(batch, indexed=false, upstream=none) %}
  {{- _require_sql_expression('batch_is_unbuilt', batch) -}}
  {%- if is_incremental() -%}
    {%- set unheld = _unheld_batches(upstream) -%}
    {%- if indexed -%}
    (md5({{ batch }}) is null or (md5({{ batch }}) = any(array(select md5(u.load_batch_id) from ({{ unheld }}) as u))
        and {{ batch }} = any(array({{ unheld }}))))
    {%- else -%}
    ({{ batch }} is null or {{ batch }} = any(array({{ unheld }})))
    {%- endif -%}
  {%- else -%}
    true
  {%- endif -%}
{%- endmacro %}

{#- The upstream's batches (as forget_changed_batches saw them) that this model does not hold, as a
    subquery for an array: `= any` of it can use an index, `not in` cannot. -#}
{% macro _unheld_batches(upstream=none) %}
    select seen.load_batch_id from {{ _seen_batches() }} as seen
    where seen.load_batch_id is not null
        {%- if upstream is not none %}
        and seen.upstream = '{{ upstream.identifier }}'
        {%- endif %}
        and not exists (
            select from {{ held_batches_relation(this) }} as b
            where b.load_batch_id = seen.load_batch_id{{ ' and b.upstream = seen.upstream' if upstream is not none }}
        )
{%- endmacro %}

{#- batch_is_unbuilt(raw_batch_id(relation)) for staging's read of a raw table, with the same result:
    a row is first told by its plain _batch_id, so that raw_batch_id's spelling (the batch id, a
    colon and the normalizer's fingerprint) is made only for the rows of unheld batches instead of
    for every row of the history (a month on a 1,000,000-row history, the performance model's
    statement: median 0.92 s -> 0.84 s over 4 runs each). -#}
{% macro raw_batch_is_unbuilt(relation, columns=none) %}
  {%- set batch, row_key = _raw_batch_columns(relation, columns) -%}
  {%- set unbuilt = batch_is_unbuilt(_raw_batch_id_of(batch, row_key)) -%}
  {%- if not is_incremental() or not _has_batch_columns(batch, row_key) -%}
    {{- return(unbuilt) -}}
  {%- endif -%}
  {#- Rows whose raw_batch_id is NULL are unbuilt: they pass the first two tests. An unheld batch id
      is _batch_with_fingerprint's `batch:xxxxxxxx`; without its last nine characters it is the raw batch. -#}
  {{- return('(' ~ row_key ~ ' is null or ' ~ batch ~ ' is null or (cast(' ~ batch
      ~ ' as text) = any(array(select left(u.load_batch_id, -9) from (' ~ _unheld_batches() ~ ') as u)) and '
      ~ unbuilt ~ '))') -}}
{%- endmacro %}

{#- A statement (pre-hook) that makes an incremental build read staging's new batches through
    index_for_incremental_reads, for the rest of the model's transaction: the planner judges an index by the
    batch column's statistics, and a history loaded as one batch (as migrations are) gives the
    column one value, so it expects every row and scans them all (a month: 1.7 s instead of 0.1 s
    for the keys' scope). A full build reads every row: nothing to prefer. Use it where a model's
    statement reads unindexed tables besides (a seq scan is still taken where nothing else exists). -#}
{% macro read_new_batches_by_index() %}
  {%- if is_incremental() -%}
    set local enable_seqscan = off
  {%- else -%}
    select 'full build: every row is read' as read_new_batches_by_index
  {%- endif -%}
{% endmacro %}

{#- Post-hook of staging: three indexes, made by the first incremental build (a full build reads every
    row and never needs them):
    - on the batch, through which the models downstream read the rows of new batches
      (batch_is_unbuilt(..., indexed=true)) instead of scanning the history;
    - on the resolution name, through which the per-key answers and backflow read the rows of the
      keys and names they resolve again (rows_in_scope);
    - on the few rows with a problem (a cell that did not parse, a name that cannot resolve: 3 % of
      the sample's rows), which data_quality_issues lists: its filter is this index's predicate;
    - collective_plans=true (performance): on the plan codes of collective plans, which
      int_collective_plans lists again at each build, from the index instead of every row
      (1,030,750 rows: 0.18-0.30 s -> 0.05-0.06 s). Named by the plan type it holds, so that a changed
      collective_plan_type gets its own index (the old one is left, and unused).
    The first two by an md5: a batch id or a name comes from raw, and a value of any length must
    index (a btree row holds 2.7 kB). -#}
{% macro index_for_incremental_reads(collective_plans=false) %}
  {%- if is_incremental() -%}
    create index if not exists {{ this.identifier }}__by_batch on {{ this }} (md5(load_batch_id));
    create index if not exists {{ this.identifier }}__by_name on {{ this }} (md5(resolution_name_normalized));
    create index if not exists {{ this.identifier }}__problems on {{ this }} (row_key)
        where {{ has_row_problem() }}
    {%- if collective_plans %};
    create index if not exists {{ this.identifier }}__collective_plans_{{ local_md5(var('collective_plan_type'))[:8] }}
        on {{ this }} (plan_code) where {{ is_collective_plan() }}
    {%- endif %}
  {%- else -%}
    select 'full build: no index yet' as index_for_incremental_reads
  {%- endif -%}
{% endmacro %}

{#- A performance row of a collective plan: one spelling for int_collective_plans' filter and its
    index above (a partial index serves only a filter that implies its predicate). -#}
{% macro is_collective_plan() %}
  {{- return("plan_type = '" ~ (var('collective_plan_type') | replace("'", "''")) ~ "'") -}}
{% endmacro %}

{#- A key of int_existing_code_backflow that marts.backflow_conflicts lists; one spelling for its
    filter and backflow's partial index (index_keys_for_incremental_reads). -#}
{% macro is_backflow_conflict() %}
  {{- return('conflict_kind is not null') -}}
{% endmacro %}

{#- A staging row data_quality_issues lists; one spelling for its filter and the index above, as the
    planner uses a partial index only where the query's filter implies its predicate. -#}
{% macro has_row_problem() %}
  {{- return('cell_problems is not null or name_problem is not null') -}}
{% endmacro %}

{# The columns of a resolution answer that a mart row carries (attach_company_ids copies them). #}
{% macro company_answer_columns() %}
  {{- return(['company_id', 'company_id_source', 'company_id_confidence', 'is_temporary_id']) -}}
{% endmacro %}

{% macro _company_key_columns() %}
  {{- return(['plan_key', 'normalized_name', 'code_key']) -}}
{% endmacro %}

{# Where a mart keeps the answers it was built with: beside the keys model, `<keys>__applied`. #}
{% macro applied_answers_relation(keys) %}
  {{- return(_relation_beside(keys, '__applied')) -}}
{% endmacro %}

{#- The transaction that resolved a key, which each row of the keys tables carries
    (`resolved_in_transaction`): 64 bits, never wraps, and a build's keys transaction starts after
    the one before it committed (dbt builds a model once at a time), so a mart finds the keys
    resolved since it was built as those above the highest it recorded. -#}
{% macro resolving_transaction() %}
  {{- return(transaction_as_number('pg_current_xact_id()')) -}}
{% endmacro %}

{#- The columns the applied record needs; without all of them a mart compares every key. -#}
{% macro _applied_record_is_complete(applied) %}
  {%- set recorded = [] -%}
  {%- if execute and adapter.get_relation(applied.database, applied.schema, applied.identifier) is not none -%}
    {%- set recorded = adapter.get_columns_in_relation(applied) | map(attribute='name') | list -%}
  {%- endif -%}
  {{- return((_company_key_columns() + company_answer_columns() + ['resolved_in_transaction'])
      | reject('in', recorded) | list | length == 0) -}}
{% endmacro %}

{#- The highest resolving transaction a mart's record holds (0 when none), read when the hook is
    rendered: a literal lets the planner find the few keys above it through the keys' index
    (index_keys_for_incremental_reads). The pre-hook and the post-hook read the same value: only the
    post-hook writes the record. -#}
{% macro _applied_through(applied) %}
  {%- if not execute -%}
    {{- return(0) -}}
  {%- endif -%}
  {%- set through = run_query('select coalesce(max(resolved_in_transaction), 0) from ' ~ applied) -%}
  {{- return(through.columns[0].values()[0]) -}}
{% endmacro %}

{#
  The keys (plan_key, normalized_name, code_key) whose answer in `keys` differs from the one the
  mart was last built with, with their answer now: among the keys resolved since, compared with the
  mart's record; every key when that record is missing or lacks a column. A key the record lacks is
  left out: the mart holds no row of it (its rows were joined to the keys of that build, recorded
  in the same transaction).
#}
{% macro changed_answer_keys(keys) %}
  {{- return(adapter.dispatch('changed_answer_keys', 'company_enrichment')(keys)) -}}
{% endmacro %}

{% macro default__changed_answer_keys(keys) %}
  {{- _postgres_only('changed_answer_keys') -}}
{% endmacro %}

{% macro postgres__changed_answer_keys(keys) %}
  {%- set applied = applied_answers_relation(keys) -%}
  {#- A hashed join on the key (never NULL: tested in the keys' YAML), then the answers compared
      NULL-safe: half the time of an EXCEPT over every column. -#}
  {%- set key_columns = _company_key_columns() | join(', ') -%}
  {%- set answers = company_answer_columns() %}
    select {{ key_columns }}, now_.{{ answers | join(', now_.') }}
    {%- if _applied_record_is_complete(applied) %}
    from {{ keys }} as now_
    inner join {{ applied }} as applied using ({{ key_columns }})
    where now_.resolved_in_transaction > {{ _applied_through(applied) }}
        and (now_.{{ answers | join(', now_.') }}) is distinct from (applied.{{ answers | join(', applied.') }})
    {%- else %}
    from {{ keys }} as now_
    {%- endif %}
{%- endmacro %}

{#
  Pre-hook of a mart, after forget_changed_rows: the rows it still holds whose key's answer changed
  take the new answer in place. Only the answer columns of a few thousand rows change in a month, so
  they are updated, found through an index on the row's key, instead of being selected again from
  staging and deleted by row_key (two scans of the whole history). The index serves only these
  updates: the first incremental build makes it, and full builds never pay for it.
#}
{% macro update_changed_answers(keys, plan_code='plan_code', normalized_name='resolution_name_normalized', existing_code='existing_company_id') %}
  {{- return(adapter.dispatch('update_changed_answers', 'company_enrichment')(keys, plan_code, normalized_name, existing_code)) -}}
{% endmacro %}

{% macro default__update_changed_answers(keys, plan_code, normalized_name, existing_code) %}
  {{- _postgres_only('update_changed_answers') -}}
{% endmacro %}

{% macro postgres__update_changed_answers(keys, plan_code, normalized_name, existing_code) %}
  {%- for argument in [plan_code, normalized_name, existing_code] -%}
    {{- _require_sql_expression('update_changed_answers', argument) -}}
  {%- endfor -%}
  {%- if is_incremental() -%}
    {%- set changed = _temporary_beside('__changed_answers') %}
    {#- By md5s: a name or plan code of any length must index (a btree row holds 2.7 kB). #}
    create index if not exists {{ this.identifier }}__by_company_key
        on {{ this }} ({{ _company_key_digests('', plan_code, normalized_name, existing_code) }});
    create temporary table {{ changed }} on commit drop as
    {{ changed_answer_keys(keys) }};
    -- Counted, so that the planner looks the few changed keys up in the index rather than scanning.
    analyze {{ changed }};
    update {{ this }} as built
    set
        {%- for column in company_answer_columns() %}
        {{ column }} = changed.{{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ changed }} as changed
    where
        ({{ _company_key_digests('built.', plan_code, normalized_name, existing_code) }})
        = ({{ _company_key_digests('changed.', "plan_key", "normalized_name", "code_key") }})
        and built.{{ normalized_name }} = changed.normalized_name
        and coalesce(built.{{ plan_code }}, '') = changed.plan_key
        and coalesce(built.{{ existing_code }}, '') = changed.code_key
  {%- else -%}
    select 'full build: every row is selected' as update_changed_answers
  {%- endif -%}
{%- endmacro %}

{#- The md5s update_changed_answers indexes a mart's rows by and looks them up with: one spelling for
    both, as the planner uses an index only for the expression it was built on. -#}
{% macro _company_key_digests(prefix, plan_code, normalized_name, existing_code) %}
  {{- 'md5(' ~ prefix ~ normalized_name ~ '), md5(coalesce(' ~ prefix ~ plan_code ~ ", '') || '|' || coalesce("
      ~ prefix ~ existing_code ~ ", ''))" -}}
{%- endmacro %}

{# Post-hook of a mart: record the answers it now holds (in its build's transaction). An
   incremental build with a complete record replaces the keys resolved since (a month: about 11,000
   of 320,000); otherwise the record is made again from every key. A key that left the keys table
   stays in the record: the mart holds no row of it, and if it comes back it is resolved again. #}
{% macro record_applied_answers(keys) %}
  {{- return(adapter.dispatch('record_applied_answers', 'company_enrichment')(keys)) -}}
{% endmacro %}

{% macro default__record_applied_answers(keys) %}
  {{- _postgres_only('record_applied_answers') -}}
{% endmacro %}

{% macro postgres__record_applied_answers(keys) %}
  {%- set applied = applied_answers_relation(keys) -%}
  {%- set key_columns = _company_key_columns() -%}
  {%- set columns = (key_columns + company_answer_columns() + ['resolved_in_transaction']) | join(', ') -%}
  {%- if is_incremental() and _applied_record_is_complete(applied) %}
    -- One statement: the delete and the insert read the same keys resolved since.
    with resolved_again as (
        select {{ columns }} from {{ keys }}
        where resolved_in_transaction > {{ _applied_through(applied) }}
    ),

    replaced as (
        delete from {{ applied }} as recorded
        using resolved_again
        where
            {%- for column in key_columns %}
            recorded.{{ column }} = resolved_again.{{ column }}{{ ' and' if not loop.last }}
            {%- endfor %}
    )

    insert into {{ applied }} ({{ columns }})
    select {{ columns }} from resolved_again;
  {%- else %}
    drop table if exists {{ applied }};
    create table {{ applied }} as
    select {{ columns }}
    from {{ keys }};
  {%- endif %}
    -- for _applied_through's max
    create index if not exists {{ applied.identifier }}__by_transaction on {{ applied }} (resolved_in_transaction)
{%- endmacro %}
