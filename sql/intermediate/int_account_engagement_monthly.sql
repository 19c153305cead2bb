-- Engagement per account, event type and month of the window: the row-heavy part of the engagement, health and
-- churn signals (the scoring step weighs these rows by type and recency). months_ago counts whole calendar months
-- back from the as-of month: 0 = the window's last month, 11 = its first.
with engagement_events as (
    select * from intermediate.int_engagement_events_windowed
),

matched as (
    select * from intermediate.int_clients_matched
),

reporting_window as (
    select * from intermediate.int_reporting_windows_resolved
),

events as (
    select * from engagement_events
    where quarantine_reason = '' and is_in_window
)

select
    matched.account_id,
    events.event_type,
    cast(
        (extract(year from reporting_window.as_of_date) - extract(year from events.event_date)) * 12
        + extract(month from reporting_window.as_of_date) - extract(month from events.event_date)
        as integer
    ) as months_ago,
    cast(count(*) as bigint) as events,
    cast(sum(events.quantity) as bigint) as quantity
from events
inner join matched
    on matched.source_system = events.source_system
    and matched.source_client_id = events.source_client_id
cross join reporting_window
group by all
