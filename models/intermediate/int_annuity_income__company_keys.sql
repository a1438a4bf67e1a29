{{ resolve_company_keys(
    ref('stg_annuity__income'),
    normalized_name='resolution_name_normalized',
    raw_name='resolution_name',
    learned_keys=ref('int_existing_code_backflow')
) }}
