-- Clean engagement events inside the trailing 12-month window.
-- materialize: view
with events as (
    select * from staging.stg_engagement__checked_events
)

select
    source_system,
    source_client_id,
    event_date,
    event_type,
    quantity
from events
where quarantine_reason = '' and is_in_window
