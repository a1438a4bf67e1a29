-- Existing codes that disagree: with an override or a cache entry that answers the same name or
-- plan + name (never learned, never changes resolution), or with each other. Both ids and the rows
-- affected; is_learned says whether the dominant id was learned (only minority_ids_in_data).
with

backflow as (

    select * from {{ ref('int_existing_code_backflow') }}

),

final as (

    select
        key_type,
        lookup_key,
        conflict_kind,
        company_id,
        company_ids,
        prevailing_source,
        prevailing_company_id,
        cached_company_id,
        row_count,
        is_learned

    from backflow

    where conflict_kind is not null

)

select * from final
