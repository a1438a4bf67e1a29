{{ resolve_company_keys(
    ref('stg_annuity__income'),
    learned_keys=ref('int_existing_code_backflow')
) }}
