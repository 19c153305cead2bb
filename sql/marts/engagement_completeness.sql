-- Clean engagement events per source system and month of the window, against the system's own past, as
-- marts.billing_completeness does for billing (same statuses, same ALMS_ACCEPT_GAPS entries), measured in events
-- (rows); a gap warns (check engagement_months_complete) and does not stop the publication.
with lines as (
    select * from staging.stg_engagement__checked_events
),

reporting_window as (
    select * from intermediate.int_reporting_windows_resolved
),

accepted_gaps as (
    select
        unnest(cast($accepted_gap_entries as varchar[])) as entry,
        unnest(cast($accepted_gap_systems as varchar[])) as source_system,
        unnest(cast($accepted_gap_first_months as date[])) as first_month,
        unnest(cast($accepted_gap_last_months as date[])) as last_month
),

bounds as (
    select
        cast(date_trunc('month', window_start_date) - to_months($lookback_months) as date) as first_month,
        cast(date_trunc('month', as_of_date) as date) as last_month,
        window_start_date,
        as_of_date
    from reporting_window
),

monthly as (
    select
        lines.source_system,
        cast(date_trunc('month', lines.event_date) as date) as month,
        count(*) as events,
        cast(sum(lines.quantity) as bigint) as event_quantity
    from lines
    cross join bounds
    where lines.quarantine_reason = ''
        and lines.event_date >= bounds.first_month
        and lines.event_date <= bounds.as_of_date
    group by all
),

systems as (
    select
        source_system,
        min(month) as first_event_month
    from monthly
    group by source_system
),

spine as (
    select
        systems.source_system,
        systems.first_event_month,
        cast(unnest(generate_series(bounds.first_month, bounds.last_month, interval 1 month)) as date) as month
    from systems
    cross join bounds
),

filled as (
    select
        spine.source_system,
        spine.first_event_month,
        spine.month,
        coalesce(monthly.events, 0) as events,
        coalesce(monthly.event_quantity, 0) as event_quantity
    from spine
    left join monthly
        on monthly.source_system = spine.source_system
        and monthly.month = spine.month
),

history as (
    select
        filled.*,
        median(case when month >= first_event_month then events end) over previous_months
            as trailing_median,
        count(case when month >= first_event_month then events end) over previous_months
            as trailing_months
    from filled
    window previous_months as (
        partition by source_system order by month
        rows between $trailing_months preceding and 1 preceding
    )
),

assessed as (
    select
        history.source_system,
        history.month,
        history.events,
        history.event_quantity,
        cast(history.trailing_median as double) as trailing_median,
        history.trailing_months,
        case
            when history.trailing_median > 0 then history.events / history.trailing_median
        end as share_of_trailing_median,
        case
            when history.month < bounds.window_start_date or last_day(history.month) > bounds.as_of_date
                then 'partial_month'
            when history.month < history.first_event_month then 'not_started'
            when history.events = 0 then 'missing'
            when history.trailing_months >= $min_trailing_months and history.trailing_median > 0
                and history.events < $min_month_share * history.trailing_median then 'below_share'
            else 'ok'
        end as status
    from history
    cross join bounds
    where history.month >= cast(date_trunc('month', bounds.window_start_date) as date)
),

accepted as (
    select
        assessed.source_system,
        assessed.month,
        min(accepted_gaps.entry) as accepted_by
    from assessed
    inner join accepted_gaps
        on accepted_gaps.source_system = assessed.source_system
        and assessed.month >= accepted_gaps.first_month
        and (accepted_gaps.last_month is null or assessed.month <= accepted_gaps.last_month)
    group by all
)

select
    assessed.source_system,
    assessed.month as month_start_date,
    assessed.events,
    assessed.event_quantity,
    assessed.trailing_median,
    assessed.trailing_months,
    assessed.share_of_trailing_median,
    assessed.status,
    case when assessed.status in ('missing', 'below_share') then accepted.accepted_by end as accepted_by,
    assessed.status in ('missing', 'below_share') and accepted.accepted_by is null as is_blocking
from assessed
left join accepted
    on accepted.source_system = assessed.source_system
    and accepted.month = assessed.month
