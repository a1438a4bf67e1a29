{#- Appended: the pre-hooks have already deleted every row this build selects again (the rows of
    changed batches and rows without a batch), so none of its rows is present; a delete by row_key
    would only scan the whole history for nothing. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=[
        "{{ forget_changed_batches(source('annuity', 'annuity_performance'), raw_batch_id(source('annuity', 'annuity_performance')), raw_row_version(), upstream_record=raw_batch_record(source('annuity', 'annuity_performance'))) }}",
        "{{ forget_changed_rows() }}",
    ],
    post_hook=["{{ record_held_batches() }}", "{{ index_by_batch() }}"],
) }}
{%- set raw_table = source('annuity', 'annuity_performance') -%}

with

source as (

    -- The raw columns staging reads; the loader's optional columns are NULL when a table lacks them.
    select
        月度,
        计划代码,
        计划类型,
        客户名称,
        年金账户名,
        年金账户号,
        集团企业客户号,
        公司代码,
        期初资产规模,
        期末资产规模,
        供款,
        业务类型,
        {{ raw_column_or_null(raw_table, '机构名称') }} as 机构名称,
        {{ raw_column_or_null(raw_table, '流失(含待遇支付)') }} as "流失(含待遇支付)",  -- noqa: RF05
        {{ raw_column_or_null(raw_table, '_source_file') }} as _source_file,
        {{ raw_column_or_null(raw_table, '_row_key') }} as _row_key,
        {{ raw_batch_id(raw_table) }} as _load_batch_id,
        {{ raw_row_version() }} as _raw_version

    from {{ raw_table }}
    -- Incremental: only the rows of batches not parsed yet (or replaced since), see macros/incremental_builds.sql.
    where {{ batch_is_unbuilt(raw_batch_id(raw_table)) }}

),

keyed as (

    {{ with_row_key('source') }}

),

months as (

    -- A table holds few spellings of its months: each is parsed once.
    select
        raw_month,
        {{ parse_month('raw_month') }} as report_month

    from (select distinct 月度 as raw_month from source) as distinct_months

),

parsed as (

    select
        keyed.*,
        months.report_month,
        {{ parse_amount('keyed.期初资产规模') }} as starting_assets,
        {{ parse_amount('keyed.期末资产规模') }} as ending_assets,
        {{ parse_amount('keyed.供款') }} as contribution,
        {{ parse_amount('keyed."流失(含待遇支付)"') }} as outflow_incl_benefits

    from keyed
    left join months
        on keyed.月度 = months.raw_month
    -- offset 0 keeps each cell parsed once, not once more for every use in the next CTE.
    offset 0  -- noqa: AM09

),

renamed as (

    select
        row_key,
        _load_batch_id as load_batch_id,
        _raw_version as raw_version,
        _source_file as source_file,
        report_month,
        upper(nullif(trim(计划代码), '')) as plan_code,
        nullif(trim(计划类型), '') as plan_type,
        客户名称 as customer_name,
        年金账户名 as annuity_account_name,
        nullif(trim(年金账户号), '') as annuity_account_number,
        nullif(trim(集团企业客户号), '') as group_customer_number,
        公司代码 as company_code_raw,
        {{ clean_company_code('公司代码') }} as existing_company_id,
        starting_assets,
        ending_assets,
        contribution,
        outflow_incl_benefits,
        nullif(trim(机构名称), '') as institution_name,
        nullif(trim(业务类型), '') as business_type,
        {{ cell_problems([
            ['月度', 'report_month', 'unparseable month'],
            ['期初资产规模', 'starting_assets', 'unparseable amount'],
            ['期末资产规模', 'ending_assets', 'unparseable amount'],
            ['供款', 'contribution', 'unparseable amount'],
            ['"流失(含待遇支付)"', 'outflow_incl_benefits', 'unparseable amount'],
        ]) }} as cell_problems

    from parsed

),

final as (

    {{ with_resolution_name('renamed', 'customer_name', 'annuity_account_name') }}

)

select * from final
