-- Every raw client record with its quarantine reason (null when the record is usable).
-- A blank row (every value empty) is excluded as blank_row. A record without source_system or source_client_id
-- cannot be referenced by billing and is excluded
-- (missing_value); a second record with the same (source_system, source_client_id) is excluded as
-- duplicate_record (the first in file order wins). A record with a missing name or an unparseable optional
-- value is kept (the value is null) and reported in marts.quarantined_rows with action kept_with_nulls.
with records as (
    select * from raw.clients
),

ordered as (
    select
        records.*,
        row_number() over (
            partition by source_system, source_client_id
            order by source_file, source_row
        ) as key_occurrence
    from records
),

checked as (
    select
        source_file,
        source_row,
        source_system,
        source_client_id,
        name,
        domain,
        address,
        city,
        postal_code,
        country,
        phone,
        industry,
        employee_count,
        owner_id,
        segment,
        customer_since,
        invalid_fields,
        cleaned_fields,
        case
            when source_system is null and source_client_id is null and name is null and domain is null
                and address is null and city is null and postal_code is null and country is null and phone is null
                and industry is null and employee_count is null and owner_id is null and segment is null
                and customer_since is null and invalid_fields is null then 'blank_row:'
            when source_system is null then 'missing_value:source_system'
            when source_client_id is null then 'missing_value:source_client_id'
            when key_occurrence > 1 then 'duplicate_record:source_client_id'
            else ''
        end as problem
    from ordered
)

select
    source_file,
    source_row,
    source_system,
    source_client_id,
    name,
    domain,
    address,
    city,
    postal_code,
    country,
    phone,
    industry,
    employee_count,
    owner_id,
    segment,
    customer_since,
    invalid_fields,
    cleaned_fields,
    split_part(problem, ':', 1) as quarantine_reason,
    split_part(problem, ':', 2) as quarantine_column
from checked
