-- Every raw cell that could not be parsed (its value became NULL; the row itself was kept), and
-- every row no name can resolve (a totals row, or customer and account names both placeholders).
with

-- Read in place (not materialized): each use scans only the flagged rows, instead of a copy of
-- every staging row being made first.
performance as not materialized (

    select * from {{ ref('stg_annuity__performance') }}

),

income as not materialized (

    select * from {{ ref('stg_annuity__income') }}

),

flagged_rows as (

    select
        'annuity_performance' as table_name,
        row_key,
        source_file,
        cell_problems
    from performance
    where cell_problems is not null

    union all

    select
        'annuity_income' as table_name,
        row_key,
        source_file,
        cell_problems
    from income
    where cell_problems is not null

),

nameless_rows as (

    select
        'annuity_performance' as table_name,
        row_key,
        source_file,
        '客户名称' as column_name,
        customer_name as raw_value,
        name_problem as problem
    from performance
    where name_problem is not null

    union all

    select
        'annuity_income' as table_name,
        row_key,
        source_file,
        '客户名称' as column_name,
        customer_name as raw_value,
        name_problem as problem
    from income
    where name_problem is not null

),

final as (

    select
        flagged_rows.table_name,
        flagged_rows.row_key,
        flagged_rows.source_file,
        problems.key as column_name,
        problems.value ->> 'raw' as raw_value,
        problems.value ->> 'problem' as problem

    from flagged_rows
    cross join lateral jsonb_each(flagged_rows.cell_problems) as problems

    union all

    select * from nameless_rows

)

select * from final
