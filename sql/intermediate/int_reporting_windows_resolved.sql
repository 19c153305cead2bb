-- The trailing 12-month window, one row. as_of_date is ALMS_AS_OF when set; otherwise the end of the latest
-- complete month among the valid invoice dates that are not in the future: the last day of the latest invoice's
-- month when that invoice falls on it, else the last day of the month before (a mid-month extract does not count
-- its partial month). window_start_date is the day after the same date one year earlier, so the window holds
-- exactly 12 months: as_of 2026-10-31 gives 2025-11-01 .. 2026-10-31.
with lines as (
    select * from raw.billing_lines
),

latest as (
    select max(invoice_date) as latest_invoice_date
    from lines
    where invoice_date <= $today
),

resolved as (
    select
        latest_invoice_date,
        coalesce(
            cast($as_of as date),
            case
                when latest_invoice_date = last_day(latest_invoice_date) then latest_invoice_date
                else cast(date_trunc('month', latest_invoice_date) - interval 1 day as date)
            end
        ) as as_of_date,
        cast($as_of as date) is not null as is_as_of_set
    from latest
)

select
    as_of_date,
    cast(as_of_date - interval 12 month + interval 1 day as date) as window_start_date,
    latest_invoice_date,
    is_as_of_set
from resolved
