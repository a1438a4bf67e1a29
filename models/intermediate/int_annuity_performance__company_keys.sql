{{ resolve_company_keys(
    ref('stg_annuity__performance'),
    normalized_name='resolution_name_normalized',
    raw_name='resolution_name',
    asset_volume='ending_assets',
    learned_keys=ref('int_existing_code_backflow')
) }}
