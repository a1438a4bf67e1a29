-- Plans shared by many companies: plan-code mappings (overrides and cache) never apply to them.
with

performance as (

    select * from {{ ref('stg_annuity__performance') }}

),

final as (

    select distinct plan_code
    from performance
    where plan_code is not null and plan_type = '{{ var("collective_plan_type") }}'

)

select * from final
