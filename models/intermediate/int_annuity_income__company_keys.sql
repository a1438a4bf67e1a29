{{ config(
    materialized='incremental',
    unique_key=['plan_key', 'normalized_name', 'code_key'],
    incremental_strategy='delete+insert',
    on_schema_change='sync_all_columns',
    pre_hook=[
        "{{ forget_changed_batches(ref('stg_annuity__income'), upstream_record=held_batches_relation(ref('stg_annuity__income')), keeps_rows_by_batch=false) }}",
        "{{ scope_company_keys(ref('stg_annuity__income'), ref('int_existing_code_backflow')) }}",
    ],
    post_hook=["{{ record_held_batches() }}", "{{ record_company_keys_inputs(ref('int_existing_code_backflow')) }}", "{{ index_keys_for_incremental_reads() }}"],
) }}
-- The answer per distinct key; an incremental build resolves again only the keys whose answer can
-- have changed (macros/incremental_company_keys.sql).
with

rows_in_scope as (

    {{ rows_in_scope(
        ref('stg_annuity__income'),
        plan_code='plan_code',
        existing_code='existing_company_id'
    ) }}

),

resolved as (

    {{ resolve_company_keys(
        'rows_in_scope',
        normalized_name='resolution_name_normalized',
        raw_name='resolution_name',
        learned_keys=ref('int_existing_code_backflow')
    ) }}

)

select
    *,
    -- The marts compare the answers of the keys resolved since they were built only.
    {{ resolving_transaction() }} as resolved_in_transaction
from resolved
