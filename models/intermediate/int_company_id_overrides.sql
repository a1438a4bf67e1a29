-- The three override seeds in one shape: override_type, match_key (plan code or normalized name),
-- company_id (NULL for __EMPTY__: "this name has no company"). A "no company" review decision
-- (python -m python_enrich.review) counts as a name override to __EMPTY__; a seed entry wins.
with

plan_overrides as (

    select * from {{ ref('company_id_overrides_plan') }}

),

hardcode_overrides as (

    select * from {{ ref('company_id_overrides_hardcode') }}

),

name_overrides as (

    select * from {{ ref('company_id_overrides_name') }}

),

review_decisions as (

    select * from {{ source('enrichment', 'review_decisions') }}

),

unioned as (

    select
        'plan' as override_type,
        upper(trim(plan_code)) as match_key,
        trim(company_id) as company_id,
        note
    from plan_overrides

    union all

    select
        'hardcode' as override_type,
        upper(trim(plan_code)) as match_key,
        trim(company_id) as company_id,
        note
    from hardcode_overrides

    union all

    select
        'name' as override_type,
        {{ normalize_company_name('customer_name') }} as match_key,
        nullif(trim(company_id), '__EMPTY__') as company_id,
        note
    from name_overrides

    union all

    select
        'review' as override_type,
        normalized_name as match_key,
        null as company_id,
        'review: no company, by ' || decided_by as note
    from review_decisions
    where decision = 'no_company' and undone_at is null

),

ranked as (

    -- A name-override seed entry outranks a review decision on the same name.
    select
        match_key,
        company_id,
        note,
        case override_type when 'review' then 'name' else override_type end as override_type,
        override_type = 'review' as is_review
    from unioned

),

final as (

    -- One entry per key (two names may normalize alike); the unique test on
    -- (override_type, match_key) in the source rows reports such clashes.
    select distinct on (override_type, match_key)
        override_type,
        match_key,
        company_id,
        note
    from ranked
    where match_key <> ''
    order by override_type asc, match_key asc, is_review asc, company_id asc nulls last

)

select * from final
