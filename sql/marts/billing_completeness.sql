-- Clean billing per source system and month of the window (rows, amount in the reporting currency), against the
-- system's own past: a gap stops the publication (check billing_months_complete) unless ALMS_ACCEPT_GAPS accepts it.
-- status: ok; missing (no clean line in the month, though the system billed in an earlier month of the window or of
-- the $lookback_months months before it); below_share (less than $min_month_share of the median of its previous
-- $trailing_months months since its first billing month, with at least $min_trailing_months of them); not_started
-- (before the system's first billing month: a system that starts mid-window); partial_month (a month the window
-- only partly covers, when ALMS_AS_OF is not a month end: not checked). A system that stopped billing is missing
-- in every later month until accepted (legacy:2026-05..) or until its last billing leaves the look-back.
-- accepted_by: the ALMS_ACCEPT_GAPS entry that accepted a gap; is_blocking: a gap nobody accepted.
with lines as (
    select * from staging.stg_billing__checked_lines
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
        cast(date_trunc('month', lines.invoice_date) as date) as month,
        count(*) as billing_rows,
        sum(lines.billing_amount) as billing_amount
    from lines
    cross join bounds
    where lines.quarantine_reason = ''
        and lines.invoice_date >= bounds.first_month
        and lines.invoice_date <= bounds.as_of_date
    group by all
),

systems as (
    select
        source_system,
        min(month) as first_billing_month
    from monthly
    group by source_system
),

spine as (
    select
        systems.source_system,
        systems.first_billing_month,
        cast(unnest(generate_series(bounds.first_month, bounds.last_month, interval 1 month)) as date) as month
    from systems
    cross join bounds
),

filled as (
    select
        spine.source_system,
        spine.first_billing_month,
        spine.month,
        coalesce(monthly.billing_rows, 0) as billing_rows,
        cast(coalesce(monthly.billing_amount, 0) as decimal(38, 2)) as billing_amount
    from spine
    left join monthly
        on monthly.source_system = spine.source_system
        and monthly.month = spine.month
),

history as (
    select
        filled.*,
        -- the median in whole cents, rounded down (what DuckDB's decimal median gives, said so any engine agrees)
        cast(
            floor(
                median(case when month >= first_billing_month then cast(billing_amount * 100 as bigint) end)
                    over previous_months
            ) / 100 as decimal(38, 2)
        ) as trailing_median,
        count(case when month >= first_billing_month then billing_amount end) over previous_months
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
        history.billing_rows,
        history.billing_amount,
        cast(history.trailing_median as decimal(38, 2)) as trailing_median,
        history.trailing_months,
        case
            when history.trailing_median > 0
                then cast(history.billing_amount / history.trailing_median as double)
        end as share_of_trailing_median,
        case
            when history.month < bounds.window_start_date or last_day(history.month) > bounds.as_of_date
                then 'partial_month'
            when history.month < history.first_billing_month then 'not_started'
            when history.billing_rows = 0 then 'missing'
            when history.trailing_months >= $min_trailing_months and history.trailing_median > 0
                and history.billing_amount < $min_month_share * history.trailing_median then 'below_share'
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
    assessed.billing_rows,
    assessed.billing_amount,
    assessed.trailing_median,
    assessed.trailing_months,
    assessed.share_of_trailing_median,
    assessed.status,
    case when assessed.status in ('missing', 'below_share') then accepted.accepted_by end as accepted_by,
    assessed.status in ('missing', 'below_share') and accepted.accepted_by is null as is_blocking,
    $reporting_currency as reporting_currency
from assessed
left join accepted
    on accepted.source_system = assessed.source_system
    and accepted.month = assessed.month
