-- Every billing line of staging.stg_billing__checked_lines and whether it falls in the trailing 12-month window
-- (intermediate.int_reporting_windows_resolved: window_start_date .. as_of_date, both included). The lines that reach
-- the accounts are the clean ones in the window (quarantine_reason = '' and is_in_window); clean lines outside it
-- are counted in marts.input_files.
-- materialize: view
with lines as (
    select * from staging.stg_billing__checked_lines
),

reporting_window as (
    select * from intermediate.int_reporting_windows_resolved
)

select
    lines.*,
    coalesce(
        lines.invoice_date between reporting_window.window_start_date and reporting_window.as_of_date, false
    ) as is_in_window
from lines
cross join reporting_window
