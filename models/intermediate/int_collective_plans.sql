-- Plans shared by many companies: plan-code mappings (overrides and cache) never apply to them.
with

performance as (

    select * from {{ ref('stg_annuity__performance') }}

),

final as (

    select distinct plan_code
    from performance
    -- An incremental build of staging indexes these rows (index_for_incremental_reads).
    where plan_code is not null and {{ is_collective_plan() }}

)

select * from final
