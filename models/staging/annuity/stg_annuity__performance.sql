with

source as (

    select * from {{ source('annuity', 'annuity_performance') }}

),

renamed as (

    select
        cast(nullif(trim(月度), '') as date) as report_month,
        upper(nullif(trim(计划代码), '')) as plan_code,
        nullif(trim(计划类型), '') as plan_type,
        客户名称 as customer_name,
        年金账户名 as annuity_account_name,
        nullif(trim(年金账户号), '') as annuity_account_number,
        nullif(trim(集团企业客户号), '') as group_customer_number,
        公司代码 as company_code_raw,
        {{ clean_company_code('公司代码') }} as existing_company_id,
        cast(nullif(trim(期初资产规模), '') as numeric(20, 2)) as starting_assets,
        cast(nullif(trim(期末资产规模), '') as numeric(20, 2)) as ending_assets,
        cast(nullif(trim(供款), '') as numeric(20, 2)) as contribution,
        nullif(trim(业务类型), '') as business_type

    from source

),

final as (

    {{ with_normalized_name('renamed', 'customer_name') }}

)

select * from final
