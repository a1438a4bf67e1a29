{{ config(post_hook="{{ log_build_statistics(this) }}") }}
-- This build's rows and distinct names by resolution tier, per domain. The tiers tell the evidence
-- apart: cache_* are entries that existed before this build (the cache hit rate), existing_code a
-- row's own code, backflow a key this build learned from other rows' codes.
with

performance as (

    select * from {{ ref('int_annuity_performance__company_keys') }}

),

income as (

    select * from {{ ref('int_annuity_income__company_keys') }}

),

keys as (

    select
        normalized_name,
        company_id_source,
        company_id,
        is_temporary_id,
        row_count,
        'annuity_performance' as domain_name
    from performance
    union all
    select
        normalized_name,
        company_id_source,
        company_id,
        is_temporary_id,
        row_count,
        'annuity_income' as domain_name
    from income

),

-- Each name once per tier, by a hashed grouping of the few columns counted: count(distinct) sorted
-- every key with all its columns (1,000,000 rows: 464,657 keys, 1.16 s, spilled to disk).
by_name as (

    select
        domain_name,
        company_id_source,
        normalized_name,
        sum(row_count) as row_count,
        sum(row_count) filter (where company_id is not null and not is_temporary_id) as real_id_rows

    from keys

    group by 1, 2, 3

),

final as (

    select
        domain_name,
        company_id_source,
        sum(row_count) as row_count,
        count(normalized_name) as distinct_names,
        coalesce(sum(real_id_rows), 0) as real_id_rows,
        '{{ invocation_id }}' as build_id,
        cast('{{ run_started_at }}' as timestamptz) as built_at

    from by_name

    group by 1, 2

)

select * from final
