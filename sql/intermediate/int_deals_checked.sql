-- Every raw opportunity with its quarantine reason (empty when clean), its amount in the reporting currency and
-- whether it is open. Reasons, first match wins: blank_row, missing_value, unparseable_amount, negative_amount,
-- absurd_amount (|amount| >= $max_line_amount), unknown_currency, unparseable_date (expected_close_date or
-- created_date given but not ISO), implausible_date (one of them before $min_date, ALMS_MIN_DATE),
-- invalid_probability (given but not a number from 0 to 100), unknown_client, duplicate_opportunity (a later row
-- with the same source_system + opportunity_id as a clean one). Amounts convert at the latest monthly rate on or
-- before the as-of month (deals close in the future; the newest rate is the best estimate), rounded to the cent.
-- A stage starting with "closed" (closed_won, closed_lost) is closed; any other stage is open pipeline.
-- Intermediate, not staging: the rate, and so whether a currency is known at all, depends on the as-of date
-- (intermediate.int_reporting_windows_resolved), and a duplicate is judged among the rows that pass every check.
with deals as (
    select * from raw.opportunities
),

fx_rates as (
    select * from raw.fx_rates
),

clients as (
    select * from staging.stg_clients__records
),

reporting_window as (
    select * from intermediate.int_reporting_windows_resolved
),

latest_rates as (
    select
        fx_rates.currency,
        max_by(fx_rates.rate_to_reporting, fx_rates.month) as rate_to_reporting
    from fx_rates
    cross join reporting_window
    where fx_rates.month <= reporting_window.as_of_date
    group by fx_rates.currency
),

joined as (
    select
        deals.*,
        latest_rates.rate_to_reporting,
        clients.source_client_id is not null as is_known_client
    from deals
    left join latest_rates
        on latest_rates.currency = deals.currency
    left join clients
        on clients.source_system = deals.source_system
        and clients.source_client_id = deals.source_client_id
),

first_problem as (
    select
        joined.*,
        case
            when source_system is null and opportunity_id is null and source_client_id is null and stage is null
                and amount_text is null and currency is null and expected_close_date_text is null
                and probability_text is null and created_date_text is null then 'blank_row:'
            when source_system is null then 'missing_value:source_system'
            when opportunity_id is null then 'missing_value:opportunity_id'
            when source_client_id is null then 'missing_value:source_client_id'
            when stage is null then 'missing_value:stage'
            when amount_text is null then 'missing_value:amount'
            when currency is null then 'missing_value:currency'
            when amount is null then 'unparseable_amount:amount'
            when amount < 0 then 'negative_amount:amount'
            when amount >= $max_line_amount then 'absurd_amount:amount'
            when currency <> $reporting_currency and rate_to_reporting is null then 'unknown_currency:currency'
            when expected_close_date_text is not null and expected_close_date is null
                then 'unparseable_date:expected_close_date'
            when created_date_text is not null and created_date is null then 'unparseable_date:created_date'
            when expected_close_date < $min_date then 'implausible_date:expected_close_date'
            when created_date < $min_date then 'implausible_date:created_date'
            when probability_text is not null and (probability is null or probability < 0 or probability > 100)
                then 'invalid_probability:probability'
            when not is_known_client then 'unknown_client:source_client_id'
        end as problem
    from joined
),

occurrences as (
    select
        first_problem.*,
        case
            when problem is null then row_number() over (
                partition by source_system, opportunity_id, problem is null
                order by source_file, source_row
            )
        end as occurrence
    from first_problem
),

checked as (
    select
        *,
        coalesce(problem, case when occurrence > 1 then 'duplicate_opportunity:opportunity_id' end, '') as reason
    from occurrences
)

select
    source_file,
    source_row,
    source_system,
    opportunity_id,
    source_client_id,
    stage,
    amount,
    currency,
    case
        when currency = $reporting_currency then cast(round(amount, 2) as decimal(18, 2))
        else cast(round(amount * rate_to_reporting, 2) as decimal(18, 2))
    end as amount_reporting,
    probability,
    expected_close_date,
    created_date,
    stage not like 'closed%' as is_open,
    split_part(reason, ':', 1) as quarantine_reason,
    split_part(reason, ':', 2) as quarantine_column
from checked
