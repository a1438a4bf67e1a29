-- Every performance row, with its company id, the tier that resolved it and the confidence.
with

rows_ as (

    select * from {{ ref('stg_annuity__performance') }}

),

company_keys as (

    select * from {{ ref('int_annuity_performance__company_keys') }}

),

final as (

    select
        rows_.report_month,
        rows_.plan_code,
        rows_.plan_type,
        rows_.customer_name,
        rows_.annuity_account_name,
        rows_.annuity_account_number,
        rows_.group_customer_number,
        rows_.company_code_raw,
        rows_.existing_company_id,
        rows_.starting_assets,
        rows_.ending_assets,
        rows_.contribution,
        rows_.business_type,
        rows_.customer_name_normalized,
        company_keys.company_id,
        company_keys.company_id_source,
        company_keys.company_id_confidence,
        company_keys.is_temporary_id

    from rows_

    inner join company_keys
        on
            coalesce(rows_.plan_code, '') = company_keys.plan_key
            and rows_.customer_name_normalized = company_keys.normalized_name
            and coalesce(rows_.existing_company_id, '') = company_keys.code_key

)

select * from final
