{{ config(post_hook="{{ queue_cache_rechecks(this) }}") }}
-- Unverified cache entries (imported, no evidence) that rows' own real codes contradict. Those rows
-- took their own code; the entry keeps answering rows without a code until the drain re-checks it,
-- and the post-hook puts it at the front of the re-checks (priority: the rows that contradict it).
with

performance as (

    select * from {{ ref('int_annuity_performance__company_keys') }}

),

income as (

    select * from {{ ref('int_annuity_income__company_keys') }}

),

overruled_keys as (

    select
        overruled_entry_key_type,
        overruled_entry_company_id,
        plan_key,
        normalized_name,
        code_key,
        row_count,
        asset_volume
    from performance
    where overruled_entry_key_type is not null

    union all

    select
        overruled_entry_key_type,
        overruled_entry_company_id,
        plan_key,
        normalized_name,
        code_key,
        row_count,
        asset_volume
    from income
    where overruled_entry_key_type is not null

),

final as (

    select
        overruled_entry_key_type as key_type,
        overruled_entry_company_id as cached_company_id,
        case overruled_entry_key_type
            when 'plan_customer' then plan_key || '|' || normalized_name
            when 'plan_code' then plan_key
            else normalized_name
        end as lookup_key,
        array_agg(distinct code_key order by code_key) as company_ids,
        sum(row_count) as row_count,
        sum(asset_volume) as asset_volume

    from overruled_keys

    group by 1, 2, 3

)

select * from final
