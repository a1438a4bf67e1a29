{{ resolve_company_keys(
    ref('stg_annuity__performance'),
    asset_volume='ending_assets',
    learned_keys=ref('int_existing_code_backflow')
) }}
