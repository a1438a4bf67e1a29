-- Existing codes that disagree (several ids for one key, or an id other than the cached one):
-- counted and listed here; is_learned says whether the dominant id went into the cache.
with

backflow as (

    select * from {{ ref('int_existing_code_backflow') }}

),

final as (

    select
        key_type,
        lookup_key,
        conflict_kind,
        company_ids,
        cached_company_id,
        row_count,
        is_learned

    from backflow

    where conflict_kind is not null

)

select * from final
