{#
  Company-id resolution for any domain table, computed once per distinct key
  (plan code, normalized name, existing code) rather than once per row. First hit wins:
    1. overrides: plan_override (single-company plans only), hardcode_override, name_override
       (a name override to __EMPTY__ means "no company": NULL id, never queued)
    2. cache, most specific key first: cache_plan_customer, cache_customer_name, cache_former_name,
       cache_plan_code (single-company plans only); entries below cache_min_confidence are ignored.
       An unverified entry (is_verified false) that disagrees with the row's own real code yields
       to it: the row says existing_code and overruled_entry_key_type / _company_id name the entry
    3. existing_code: the row's own company code, when it is a real id
    4. backflow: a key this same build learned from other rows' codes (learned_keys: the rows of
       int_existing_code_backflow with is_learned), plan + name first, then name
    5. temporary: a temporary id of the normalized name (the name gets queued)
    6. none: the row has no usable name (normalized_name = ''; see with_resolution_name): no tier
       answers it, not even a plan or its own code, and it is never queued
  The cache is read as it stood before this build: the learned keys are written into it only after
  resolution (int_backflow_learned_keys), so cache_* always means an entry that existed before.
  Without learned_keys there is no backflow tier (int_existing_code_backflow uses that to ask what
  the tiers above backflow say about a key; temporary_ids=false spares it the temporary ids it
  would discard: the temporary tier then answers with a NULL id).
  Join rows back on (coalesce(plan_code, ''), normalized name, coalesce(existing code, '')).
#}
{% macro resolve_company_keys(
    relation,
    plan_code='plan_code',
    normalized_name='customer_name_normalized',
    existing_code='existing_company_id',
    raw_name='customer_name',
    asset_volume=none,
    learned_keys=none,
    temporary_ids=true
) %}
  {{- return(adapter.dispatch('resolve_company_keys', 'company_enrichment')(
      relation, plan_code, normalized_name, existing_code, raw_name, asset_volume, learned_keys, temporary_ids)) -}}
{% endmacro %}

{% macro default__resolve_company_keys(relation, plan_code='plan_code', normalized_name='customer_name_normalized', existing_code='existing_company_id', raw_name='customer_name', asset_volume=none, learned_keys=none, temporary_ids=true) %}
  {{- _postgres_only('resolve_company_keys') -}}
{% endmacro %}

{% macro postgres__resolve_company_keys(relation, plan_code='plan_code', normalized_name='customer_name_normalized', existing_code='existing_company_id', raw_name='customer_name', asset_volume=none, learned_keys=none, temporary_ids=true) %}
  {%- if relation is none or (relation | string | trim) == '' -%}
    {{ exceptions.raise_compiler_error("resolve_company_keys(relation, ...) needs a relation, e.g. ref('stg_x')") }}
  {%- endif -%}
  {%- for argument in [plan_code, normalized_name, existing_code, raw_name] -%}
    {{- _require_sql_expression('resolve_company_keys', argument) -}}
  {%- endfor -%}
  {%- if learned_keys is not none and (learned_keys | string | trim) == '' -%}
    {{ exceptions.raise_compiler_error("resolve_company_keys(learned_keys=...) needs a relation, e.g. ref('int_existing_code_backflow')") }}
  {%- endif -%}
  {%- set override_tiers = ['plan_override', 'hardcode_override', 'name_override'] -%}
  {#- Cache key types, most specific first, with the key a row looks itself up by. -#}
  {%- set cache_keys = [
      ('plan_customer', "keys.plan_key || '|' || keys.normalized_name"),
      ('customer_name', 'keys.normalized_name'),
      ('former_name', 'keys.normalized_name'),
      ('plan_code', 'keys.plan_key'),
  ] -%}
  {%- set tiers = override_tiers[:] -%}
  {%- for key_type, _ in cache_keys -%}
    {%- do tiers.append('cache_' ~ key_type) -%}
  {%- endfor -%}
with

keys as (

    select
        coalesce({{ plan_code }}, '') as plan_key,
        {{ normalized_name }} as normalized_name,
        coalesce({{ existing_code }}, '') as code_key,
        count(*) as row_count,
        coalesce(sum({{ asset_volume if asset_volume else 'null::numeric' }}), 0) as asset_volume,
        min({{ raw_name }}) as raw_name_example

    from {{ relation }}

    group by 1, 2, 3

),

{#- The tables each tier joins are read in place (not materialized): the planner then sees their
    statistics and hashes them, instead of sorting every key for merge joins. #}
overrides as not materialized (

    select * from {{ ref('int_company_id_overrides') }}

),

cache as not materialized (

    select * from {{ source('enrichment', 'company_name_index') }}
    where confidence >= {{ var('cache_min_confidence') }}

),

collective_plans as not materialized (

    select * from {{ ref('int_collective_plans') }}

),
{%- if learned_keys is not none %}

learned as not materialized (

    select * from {{ learned_keys }}
    where is_learned

),
{%- endif %}

matched as (

    select
        keys.*,
        {%- for tier in tiers %}
        {{ tier }}.{{ 'match_key' if tier in override_tiers else 'lookup_key' }} is not null as has_{{ tier }},
        {{ tier }}.company_id as {{ tier }}_id,
        {{ '1.0' if tier in override_tiers else tier ~ '.confidence' }} as {{ tier }}_confidence,
        {{ 'true' if tier in override_tiers else '(' ~ tier ~ '.is_verified is not false)' }} as {{ tier }}_verified,
        {%- endfor %}
        {%- if learned_keys is not none %}
        coalesce(learned_plan_customer.company_id, learned_customer_name.company_id) as backflow_id,
        case
            when learned_plan_customer.lookup_key is not null then learned_plan_customer.confidence
            else learned_customer_name.confidence
        end as backflow_confidence,
        {%- else %}
        null::text as backflow_id,
        null::numeric as backflow_confidence,
        {%- endif %}
        keys.code_key <> '' as has_existing_code

    from keys

    left join collective_plans
        on keys.plan_key = collective_plans.plan_code

    left join overrides as plan_override
        on
            plan_override.override_type = 'plan'
            and keys.plan_key = plan_override.match_key
            and collective_plans.plan_code is null

    left join overrides as hardcode_override
        on
            hardcode_override.override_type = 'hardcode'
            and keys.plan_key = hardcode_override.match_key

    left join overrides as name_override
        on
            name_override.override_type = 'name'
            and keys.normalized_name = name_override.match_key

    {%- for key_type, row_key in cache_keys %}

    left join cache as cache_{{ key_type }}
        on
            cache_{{ key_type }}.key_type = '{{ key_type }}'
            and {{ row_key }} = cache_{{ key_type }}.lookup_key
            {%- if key_type == 'plan_code' %}
            and collective_plans.plan_code is null
            {%- endif %}
    {%- endfor %}

    {%- if learned_keys is not none %}

    left join learned as learned_plan_customer
        on
            learned_plan_customer.key_type = 'plan_customer'
            and keys.plan_key || '|' || keys.normalized_name = learned_plan_customer.lookup_key

    left join learned as learned_customer_name
        on
            learned_customer_name.key_type = 'customer_name'
            and keys.normalized_name = learned_customer_name.lookup_key
    {%- endif %}

),

first_hits as (

    select
        *,
        case
            -- no usable name (both names placeholders, or a totals row): never a company
            when normalized_name = '' then 'none'
            {%- for tier in tiers %}
            when has_{{ tier }} then '{{ tier }}'
            {%- endfor %}
            when has_existing_code then 'existing_code'
            when backflow_id is not null then 'backflow'
            when normalized_name <> '' then 'temporary'
            else 'none'
        end as first_hit_source

    from matched
    -- offset 0: the tier is decided once per key, not once more for every expression that uses it.
    offset 0

),

tiered as (

    -- An unverified cache entry never outranks the row's own real code: where the two disagree,
    -- the code resolves the row and the entry is named (listed and queued for a re-check).
    select
        *,
        case
            when overruled_entry_key_type is not null then 'existing_code'
            else first_hit_source
        end as company_id_source

    from (
        select
            *,
            case
                {%- for key_type, _ in cache_keys %}
                when
                    first_hit_source = 'cache_{{ key_type }}'
                    and has_existing_code
                    and not cache_{{ key_type }}_verified
                    and cache_{{ key_type }}_id <> code_key
                    then '{{ key_type }}'
                {%- endfor %}
            end as overruled_entry_key_type,
            case first_hit_source
                {%- for key_type, _ in cache_keys %}
                when 'cache_{{ key_type }}' then cache_{{ key_type }}_id
                {%- endfor %}
            end as first_hit_cache_id
        from first_hits
        offset 0
    ) as judged

),

final as (

    select
        plan_key,
        normalized_name,
        code_key,
        row_count,
        asset_volume,
        raw_name_example,
        company_id_source,
        case company_id_source
            {%- for tier in tiers %}
            when '{{ tier }}' then {{ tier }}_id
            {%- endfor %}
            when 'existing_code' then code_key
            when 'backflow' then backflow_id
            {%- if temporary_ids %}
            when 'temporary' then {{ temp_company_id('normalized_name', normalized=true) }}
            {%- endif %}
        end as company_id,
        cast(case company_id_source
            {%- for tier in tiers %}
            when '{{ tier }}' then {{ tier }}_confidence
            {%- endfor %}
            when 'existing_code' then {{ var('existing_code_confidence') }}
            when 'backflow' then backflow_confidence
            when 'temporary' then 0
        end as numeric(4, 3)) as company_id_confidence,
        company_id_source = 'temporary' as is_temporary_id,
        overruled_entry_key_type,
        case when overruled_entry_key_type is not null then first_hit_cache_id end as overruled_entry_company_id

    from tiered

)

select * from final
{%- endmacro %}
