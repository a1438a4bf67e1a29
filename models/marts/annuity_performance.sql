-- Every performance row, with its company id, the tier that resolved it and the confidence.
with

rows_ as (

    select * from {{ ref('stg_annuity__performance') }}

),

company_keys as (

    select * from {{ ref('int_annuity_performance__company_keys') }}

),

final as (

    {{ attach_company_ids('rows_', 'company_keys', [
        'row_key',
        'report_month',
        'plan_code',
        'plan_type',
        'customer_name',
        'annuity_account_name',
        'annuity_account_number',
        'group_customer_number',
        'company_code_raw',
        'existing_company_id',
        'starting_assets',
        'ending_assets',
        'contribution',
        'outflow_incl_benefits',
        'institution_name',
        'business_type',
        'customer_name_normalized',
        'resolved_by_name',
        'resolution_name',
        'resolution_name_normalized',
    ], normalized_name='resolution_name_normalized') }}

)

select * from final
