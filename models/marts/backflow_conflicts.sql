{#- A view: a listing people open now and then, read through backflow's partial index of its
    conflicting keys (index_keys_for_incremental_reads), instead of a table every build rewrites
    whole, which held up the performance keys on the critical path of each month's build. #}
{{ config(materialized='view') }}
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

    where {{ is_backflow_conflict() }}

)

select * from final
