-- Usable client records: one row per (source_system, source_client_id), as the source system knows the client.
-- materialize: view
with records as (
    select * from staging.stg_clients__checked_records
)

select
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
    source_file,
    source_row
from records
where quarantine_reason = ''
