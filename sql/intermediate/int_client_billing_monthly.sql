-- Clean billing per client record and calendar month over every month of the data, not only the 12-month window:
-- the history the outcomes of past snapshots are measured on (assets/rules/outcomes.py) and past snapshots are
-- reconstructed from (assets/rules/snapshots.py). Amounts in the reporting currency, converted line by line as in
-- staging.stg_billing__checked_lines and summed exactly; months after the as-of date are left out (their billing is
-- not known yet, and a mid-month extract would read as a collapse).
with lines as (
    select * from staging.stg_billing__checked_lines
),

reporting_window as (
    select * from intermediate.int_reporting_windows_resolved
)

select
    lines.source_system,
    lines.source_client_id,
    cast(date_trunc('month', lines.invoice_date) as date) as month,
    cast(sum(lines.billing_amount) as decimal(38, 2)) as billing_amount,
    cast(count(*) as bigint) as billing_line_count
from lines
cross join reporting_window
where lines.quarantine_reason = ''
    and lines.invoice_date <= reporting_window.as_of_date
group by all
