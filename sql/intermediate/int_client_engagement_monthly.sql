-- Clean engagement events per client record, calendar month and event type over every month of the data up to the
-- as-of date: what reconstructed past snapshots score engagement and health from (assets/rules/snapshots.py).
with events as (
    select * from staging.stg_engagement__checked_events
),

reporting_window as (
    select * from intermediate.int_reporting_windows_resolved
)

select
    events.source_system,
    events.source_client_id,
    cast(date_trunc('month', events.event_date) as date) as month,
    events.event_type,
    cast(count(*) as bigint) as events,
    cast(sum(events.quantity) as bigint) as quantity
from events
cross join reporting_window
where events.quarantine_reason = ''
    and events.event_date <= reporting_window.as_of_date
group by all
