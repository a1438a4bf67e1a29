{{ config(post_hook="{{ log_build_statistics(this) }}") }}
-- This build's rows and distinct names by resolution tier, per domain.
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
        '{{ invocation_id }}' as build_id,
        cast('{{ run_started_at }}' as timestamptz) as built_at

    from keys

    group by 1, 2

)

select * from final
