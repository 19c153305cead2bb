-- Every engagement event of staging.stg_engagement__checked_events and whether it falls in the trailing 12-month
-- window (intermediate.int_reporting_windows_resolved: window_start_date .. as_of_date, both included). The events
-- the accounts are scored on are the clean ones in the window (quarantine_reason = '' and is_in_window).
-- materialize: view
with events as (
    select * from staging.stg_engagement__checked_events
),

reporting_window as (
    select * from intermediate.int_reporting_windows_resolved
)

select
    events.*,
    coalesce(
        events.event_date between reporting_window.window_start_date and reporting_window.as_of_date, false
    ) as is_in_window
from events
cross join reporting_window
