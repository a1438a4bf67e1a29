{#- Hash joins only, for this model's transaction: the planner looks each key up in the cache's index
    one at a time and sorts both sides to merge the keys with their higher tiers; hashed, the model
    takes 2.1 s instead of 2.8 s on 1,000,000 rows. And parallel workers wherever they can help: the
    model runs alone in a build (every model after it needs its keys), so the second core would be
    idle; the planner's default costs keep the scans in one process (2.7 -> 2.3 s alone). #}
{#- Appended: the pre-hook has already deleted the keys of every name it counts again. A table
    built before it was incremental lacks plan_key and normalized_name: the columns are synced, and
    a change of code always rebuilds every key (the fingerprint differs). #}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='sync_all_columns',
    pre_hook=[
        "set local enable_nestloop = off",
        "set local enable_mergejoin = off",
        "set local parallel_setup_cost = 0",
        "set local parallel_tuple_cost = 0.001",
        "{{ scope_backflow_names([ref('stg_annuity__performance'), ref('stg_annuity__income')]) }}",
    ],
    post_hook=["{{ record_held_batches() }}", "{{ record_company_keys_inputs() }}", "{{ record_backflow_changes() }}", "{{ index_keys_for_incremental_reads(by_transaction=false, backflow_conflicts=true) }}"],
) }}
-- What real existing company codes could teach the cache: normalized name -> id and plan + name -> id.
-- A key is learned only when nothing of higher precedence answers its rows differently: not an
-- override, not a cache entry that existed before this build (asked through the same resolution
-- macro, without the backflow tier), not a cache entry of the same key at any confidence. Codes that
-- disagree among themselves are learned only when one id carries at least backflow_majority of the
-- rows (a typo must not block a company seen a thousand times). Every disagreement is listed in
-- marts.backflow_conflicts. The learned keys answer this build's rows as `backflow` (after the
-- rows' own codes) and are written into the cache after resolution (int_backflow_learned_keys).
-- Incremental: a build counts and judges again every key of the names a new batch or a changed
-- input touches (macros/incremental_backflow.sql); a month touches few of them.
with

performance as (

    {{ rows_in_scope(ref('stg_annuity__performance')) }}

),

income as (

    {{ rows_in_scope(ref('stg_annuity__income')) }}

),

cache as (

    select * from {{ source('enrichment', 'company_name_index') }}

),

pairs as (

    select
        plan_code,
        resolution_name_normalized,
        existing_company_id
    from performance
    where existing_company_id is not null and resolution_name_normalized <> ''

    union all

    select
        plan_code,
        resolution_name_normalized,
        existing_company_id
    from income
    where existing_company_id is not null and resolution_name_normalized <> ''

),

by_key_and_id as (

    -- Both kinds of key in one pass over the pairs (grouping sets): a name key groups without the plan.
    select
        resolution_name_normalized as normalized_name,
        existing_company_id as company_id,
        case when grouping(plan_code) = 1 then 'customer_name' else 'plan_customer' end as key_type,
        case when grouping(plan_code) = 1 then '' else plan_code end as plan_key,
        count(*) as row_count
    from pairs
    group by
        grouping sets (
            (resolution_name_normalized, existing_company_id),
            (plan_code, resolution_name_normalized, existing_company_id)
        )
    having grouping(plan_code) = 1 or plan_code is not null

),

by_key as (

    select
        key_type,
        plan_key,
        normalized_name,
        case key_type
            when 'plan_customer' then plan_key || '|' || normalized_name
            else normalized_name
        end as lookup_key,
        count(*) as distinct_company_ids,
        sum(row_count) as row_count,
        max(row_count) as top_row_count,
        (array_agg(company_id order by row_count desc, company_id asc))[1] as company_id,
        array_agg(company_id order by row_count desc, company_id asc) as company_ids
    from by_key_and_id
    group by key_type, plan_key, normalized_name

),

key_names as (

    select distinct
        plan_key,
        normalized_name
    from by_key

),

-- What overrides and the cache say about each key's rows: a name key is asked without a plan
-- (name override, name and former-name entries); a plan + name key with its plan (every tier).
higher_tiers as (

    {{ resolve_company_keys(
        'key_names',
        plan_code='plan_key',
        normalized_name='normalized_name',
        existing_code='null::text',
        raw_name='normalized_name',
        temporary_ids=false
    ) }}

),

judged as (

    select
        by_key.*,
        cache.company_id as cached_company_id,
        higher_tiers.company_id_source as prevailing_source,
        higher_tiers.company_id as prevailing_company_id,
        case
            when
                higher_tiers.company_id_source like '%override'
                and coalesce(higher_tiers.company_id, '') <> by_key.company_id  -- NULL: "no company"
                then 'differs_from_override'
            when
                cache.company_id <> by_key.company_id
                or (
                    higher_tiers.company_id_source like 'cache%'
                    and higher_tiers.company_id <> by_key.company_id
                )
                then 'differs_from_cache'
            when by_key.top_row_count < {{ var('backflow_majority') }} * by_key.row_count then 'several_ids_in_data'
            when by_key.distinct_company_ids > 1 then 'minority_ids_in_data'
        end as conflict_kind

    from by_key

    inner join higher_tiers
        on
            by_key.plan_key = higher_tiers.plan_key
            and by_key.normalized_name = higher_tiers.normalized_name

    left join cache
        on
            by_key.key_type = cache.key_type
            and by_key.lookup_key = cache.lookup_key

),

final as (

    select
        key_type,
        lookup_key,
        plan_key,
        normalized_name,
        company_id,
        company_ids,
        distinct_company_ids,
        row_count,
        top_row_count,
        cached_company_id,
        case when prevailing_source not in ('temporary', 'none') then prevailing_source end as prevailing_source,
        case when prevailing_source not in ('temporary', 'none') then prevailing_company_id end
            as prevailing_company_id,
        conflict_kind,
        coalesce(conflict_kind = 'minority_ids_in_data', true) as is_learned,
        cast({{ var('existing_code_confidence') }} as numeric(4, 3)) as confidence

    from judged

)

select * from final
