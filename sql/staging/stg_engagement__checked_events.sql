-- Every raw engagement event with its quarantine reason (empty when clean). Whether it falls in the 12-month window
-- is intermediate.int_engagement_events_windowed's to say.
-- Reasons, first match wins: blank_row (every value empty), missing_value, unparseable_date, implausible_date
-- (before $min_date, ALMS_MIN_DATE), unparseable_quantity (not a positive whole number), unknown_client.
with events as (
    select * from raw.engagement_events
),

clients as (
    select * from staging.stg_clients__records
),

joined as (
    select
        events.*,
        clients.source_client_id is not null as is_known_client
    from events
    left join clients
        on clients.source_system = events.source_system
        and clients.source_client_id = events.source_client_id
),

checked as (
    select
        source_file,
        source_row,
        source_system,
        source_client_id,
        event_date_text,
        event_date,
        event_type,
        quantity_text,
        quantity,
        cleaned_fields,
        case
            when source_system is null and source_client_id is null and event_date_text is null and event_type is null
                and quantity_text is null then 'blank_row:'
            when source_system is null then 'missing_value:source_system'
            when source_client_id is null then 'missing_value:source_client_id'
            when event_date_text is null then 'missing_value:event_date'
            when event_type is null then 'missing_value:event_type'
            when event_date is null then 'unparseable_date:event_date'
            when event_date < $min_date then 'implausible_date:event_date'
            when quantity is null or quantity <= 0 then 'unparseable_quantity:quantity'
            when not is_known_client then 'unknown_client:source_client_id'
            else ''
        end as problem
    from joined
)

select
    source_file,
    source_row,
    source_system,
    source_client_id,
    event_date_text,
    event_date,
    event_type,
    quantity_text,
    quantity,
    cleaned_fields,
    split_part(problem, ':', 1) as quarantine_reason,
    split_part(problem, ':', 2) as quarantine_column
from checked
