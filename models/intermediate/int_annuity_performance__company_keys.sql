-- depends_on: {{ ref('int_existing_code_backflow') }}
-- (the backflow's post-hook teaches the cache before this resolution reads it)
{{ resolve_company_keys(ref('stg_annuity__performance'), asset_volume='ending_assets') }}
