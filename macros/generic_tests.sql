{#
  Generic data tests that state the rules of ids and scores. NULL passes (not_null says whether a
  column may be NULL).
#}

{#- A company id: digits of sane length, not all zeros ('0', '000' are placeholders, never a
    company); with allow_temporary, a temporary id (IN + 16 Base32 characters) too. -#}
{% test is_company_id(model, column_name, allow_temporary=false) %}
    select {{ column_name }}
    from {{ model }}
    where
        {{ column_name }} is not null
        and not (
            ({{ column_name }} ~ '^[0-9]{1,20}$' and {{ column_name }} !~ '^0+$')
            {%- if allow_temporary %}
            or {{ column_name }} ~ '^IN[A-Z2-7]{16}$'
            {%- endif %}
        )
{% endtest %}

{#- A number within [min_value, max_value], e.g. a confidence in 0..1. -#}
{% test value_between(model, column_name, min_value, max_value) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} is not null and not ({{ column_name }} between {{ min_value }} and {{ max_value }})
{% endtest %}
