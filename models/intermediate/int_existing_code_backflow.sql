{{ config(post_hook="{{ upsert_backflow_into_cache(this) }}") }}
-- Real existing company codes teach the cache: normalized name -> id and plan + name -> id.
-- Conflicts are listed: a key whose rows carry several ids is learned only when one id carries at
-- least backflow_majority of them (a typo must not block a company seen a thousand times); a key
-- whose cached id differs is never overwritten.
with

performance as (

    select * from {{ ref('stg_annuity__performance') }}

),

income as (

    select * from {{ ref('stg_annuity__income') }}

),

cache as (

    select * from {{ source('enrichment', 'company_name_index') }}

),

pairs as (

    select
        plan_code,
        customer_name_normalized,
        existing_company_id
    from performance
    where existing_company_id is not null and customer_name_normalized <> ''

    union all

    select
        plan_code,
        customer_name_normalized,
        existing_company_id
    from income
    where existing_company_id is not null and customer_name_normalized <> ''

),

by_key_and_id as (

    select
        'customer_name' as key_type,
        customer_name_normalized as lookup_key,
        existing_company_id as company_id,
        count(*) as row_count
    from pairs
    group by 1, 2, 3

    union all

    select
        'plan_customer' as key_type,
        plan_code || '|' || customer_name_normalized as lookup_key,
        existing_company_id as company_id,
        count(*) as row_count
    from pairs
    where plan_code is not null
    group by 1, 2, 3

),

by_key as (

    select
        key_type,
        lookup_key,
        count(*) as distinct_company_ids,
        sum(row_count) as row_count,
        max(row_count) as top_row_count,
        (array_agg(company_id order by row_count desc, company_id asc))[1] as company_id,
        array_agg(company_id order by row_count desc, company_id asc) as company_ids
    from by_key_and_id
    group by 1, 2

),

final as (

    select
        by_key.key_type,
        by_key.lookup_key,
        by_key.company_id,
        by_key.company_ids,
        by_key.distinct_company_ids,
        by_key.row_count,
        cache.company_id as cached_company_id,
        case
            when cache.company_id <> by_key.company_id then 'differs_from_cache'
            when by_key.top_row_count < {{ var('backflow_majority') }} * by_key.row_count then 'several_ids_in_data'
            when by_key.distinct_company_ids > 1 then 'minority_ids_in_data'
        end as conflict_kind,
        coalesce(cache.company_id = by_key.company_id, true)
        and by_key.top_row_count >= {{ var('backflow_majority') }} * by_key.row_count as is_learned

    from by_key

    left join cache
        on
            by_key.key_type = cache.key_type
            and by_key.lookup_key = cache.lookup_key

)

select * from final
