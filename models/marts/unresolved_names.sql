{{ config(post_hook="{{ register_temporary_ids_and_enqueue(this) }}") }}
-- Names that ended with a temporary id, ranked by impact (rows, then asset volume).
with

performance as (

    select * from {{ ref('int_annuity_performance__company_keys') }}

),

income as (

    select * from {{ ref('int_annuity_income__company_keys') }}

),

temporary_keys as (

    select
        *,
        'annuity_performance' as domain_name
    from performance
    where is_temporary_id
    union all
    select
        *,
        'annuity_income' as domain_name
    from income
    where is_temporary_id

),

by_name as (

    select
        normalized_name,
        min(company_id) as temporary_id,
        min(raw_name_example) as raw_name_example,
        sum(row_count) as row_count,
        sum(row_count) filter (where domain_name = 'annuity_performance') as performance_rows,
        sum(row_count) filter (where domain_name = 'annuity_income') as income_rows,
        sum(asset_volume) as asset_volume

    from temporary_keys

    group by 1

),

final as (

    select
        normalized_name,
        temporary_id,
        raw_name_example,
        row_count,
        asset_volume,
        coalesce(performance_rows, 0) as performance_rows,
        coalesce(income_rows, 0) as income_rows,
        -- Queue priority: affected rows, plus one per million of assets.
        row_count + asset_volume / 1000000 as priority,
        rank() over (order by row_count desc, asset_volume desc) as impact_rank

    from by_name

)

select * from final
