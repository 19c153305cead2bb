-- Clean billing lines inside the trailing 12-month window, with the amount in the reporting currency.
-- materialize: view
with lines as (
    select * from staging.stg_billing__checked_lines
)

select
    source_file,
    source_row,
    source_system,
    source_client_id,
    invoice_date,
    currency,
    billing_amount
from lines
where quarantine_reason = '' and is_in_window
