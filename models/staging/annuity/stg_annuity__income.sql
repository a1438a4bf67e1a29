with

source as (

    select * from {{ source('annuity', 'annuity_income') }}

),

renamed as (

    select
        cast(nullif(trim(月度), '') as date) as report_month,
        upper(nullif(trim(计划代码), '')) as plan_code,
        客户名称 as customer_name,
        公司代码 as company_code_raw,
        {{ clean_company_code('公司代码') }} as existing_company_id,
        cast(nullif(trim(收入金额), '') as numeric(20, 2)) as income_amount,
        nullif(trim(业务类型), '') as business_type

    from source

),

final as (

    {{ with_normalized_name('renamed', 'customer_name') }}

)

select * from final
