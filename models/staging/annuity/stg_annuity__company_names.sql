{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ forget_names_of_another_normalizer() }}",
    post_hook="{{ record_read_batches([source('annuity', 'annuity_performance'), source('annuity', 'annuity_income')]) }}",
) }}
{%- set performance_table = source('annuity', 'annuity_performance') -%}
{%- set income_table = source('annuity', 'annuity_income') -%}
-- Every spelling of a company name in the annuity tables, examined once across both tables and
-- across builds: the customer names, and the account names of rows whose customer name is a
-- placeholder. Staging joins it instead of normalizing (with_resolution_name). A build reads only
-- the raw batches it has not read (recorded beside it, `__batches`) and adds the spellings it has
-- not examined; a spelling it misses (a cell edited in place, a load during the build) is examined
-- by staging itself.
with

performance as (

    select
        客户名称,
        年金账户名

    from {{ performance_table }}
    where {{ batch_is_unread(raw_batch_id(performance_table)) }}

),

income as (

    select 客户名称 from {{ income_table }}
    where {{ batch_is_unread(raw_batch_id(income_table)) }}

),

examined as (

    -- The spellings examined by earlier builds (none on a full build).
    select
        name_key,
        is_totals,
        is_placeholder

    from {{ this if is_incremental() else
        '(select null::text as name_key, null::boolean as is_totals, null::boolean as is_placeholder) as none_yet'
        ~ ' where false' }}

),

new_customer_names as (

    {{ examined_names(
        "select distinct name_key from ("
        ~ "select coalesce(客户名称, '') as name_key from performance "
        ~ "union all select coalesce(客户名称, '') as name_key from income"
        ~ ") as customer_names "
        ~ "where not exists (select from examined where examined.name_key = customer_names.name_key)") }}

),

customer_names as (

    select
        name_key,
        is_totals,
        is_placeholder

    from examined

    union all

    select
        name_key,
        is_totals,
        is_placeholder

    from new_customer_names

),

new_account_names as (

    {{ examined_names(
        "select distinct coalesce(performance.年金账户名, '') as name_key from performance "
        ~ "inner join customer_names on coalesce(performance.客户名称, '') = customer_names.name_key "
        ~ "where customer_names.is_placeholder and not customer_names.is_totals "
        ~ "and not exists (select from customer_names as known_ "
        ~ "where known_.name_key = coalesce(performance.年金账户名, ''))") }}

),

final as (

    select
        name_key,
        normalized,
        is_totals,
        is_placeholder,
        {{ normalizer_fingerprint() }} as normalizer_fingerprint

    from (
        select * from new_customer_names
        union all
        select * from new_account_names
    ) as new_names

)

select * from final
