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
        *,
        'annuity_performance' as domain_name
    from performance
    union all
    select
        *,
        'annuity_income' as domain_name
    from income

),

final as (

    select
        domain_name,
        company_id_source,
        sum(row_count) as row_count,
        count(distinct normalized_name) as distinct_names,
        coalesce(sum(row_count) filter (where company_id is not null and not is_temporary_id), 0) as real_id_rows,
        '{{ invocation_id }}' as build_id,
        cast('{{ run_started_at }}' as timestamptz) as built_at

    from keys

    group by 1, 2

)

select * from final
