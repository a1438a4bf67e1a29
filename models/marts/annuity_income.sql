{#- Merge joins off for this model's transaction: the planner overrates the skew of the keys'
    plan and code columns and sorts every row to disk to merge-join them; hashed, joining
    1,000,000 rows to their keys takes 0.9 s instead of 2.9 s. #}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=[
        "set local enable_mergejoin = off",
        "{{ forget_changed_batches(ref('stg_annuity__income'), upstream_record=held_batches_relation(ref('stg_annuity__income'))) }}",
        "{{ forget_changed_rows() }}",
        "{{ update_changed_answers(ref('int_annuity_income__company_keys')) }}",
        "{{ read_new_batches_by_index() }}",
    ],
    post_hook=[
        "{{ record_applied_answers(ref('int_annuity_income__company_keys')) }}",
        "{{ record_held_batches() }}",
    ],
) }}
-- Every income row, with its company id, the tier that resolved it and the confidence.
with

rows_ as (

    -- The rows of new or replaced batches (a full build: every row, batch_is_unbuilt is then
    -- `true`); rows it holds whose key's answer changed were updated by the pre-hook.
    select * from {{ ref('stg_annuity__income') }}
    where {{ batch_is_unbuilt('load_batch_id', indexed=true) }}

),

company_keys as (

    select * from {{ ref('int_annuity_income__company_keys') }}

),

final as (

    {{ attach_company_ids('rows_', 'company_keys', [
        'row_key',
        'load_batch_id',
        'raw_version',
        'report_month',
        'plan_code',
        'customer_name',
        'company_code_raw',
        'existing_company_id',
        'income_amount',
        'institution_name',
        'business_type',
        'customer_name_normalized',
        'resolved_by_name',
        'resolution_name',
        'resolution_name_normalized',
    ], normalized_name='resolution_name_normalized') }}

)

select * from final
