-- Every raw billing line with its quarantine reason (empty when clean) and its amount converted to the reporting
-- currency. Whether it falls in the 12-month window is intermediate.int_billing_lines_windowed's to say.
-- Reasons, first match wins: blank_row (every value empty), missing_value, unparseable_date, implausible_date
-- (before $min_date, ALMS_MIN_DATE), future_date (after today), unparseable_amount, absurd_amount (|amount| >=
-- $max_line_amount), unknown_currency (not the reporting currency and absent from fx_rates), missing_fx_rate (no
-- rate for that currency and month), unknown_client (no usable client record with that id in that system),
-- duplicate_line (a later line with the same source_system + invoice_id + line_number as a clean one; numeric
-- invoice ids and line numbers compare as numbers: 01 = 1, 1.0 = 1).
-- Invoice ids, line numbers and the original amounts and texts stay in raw.billing_lines: source_file +
-- source_row lead back to them (marts.quarantined_rows shows them for quarantined lines).
-- Amounts convert line by line, rounded half away from zero to the cent, then sum exactly as decimals.
with lines as (
    select * from raw.billing_lines
),

fx_rates as (
    select * from raw.fx_rates
),

clients as (
    select * from staging.stg_clients__records
),

known_currencies as (
    select distinct currency from fx_rates
),

joined as (
    select
        lines.*,
        fx_rates.rate_to_reporting,
        known_currencies.currency is not null as is_known_currency,
        clients.source_client_id is not null as is_known_client
    from lines
    left join fx_rates
        on fx_rates.currency = lines.currency
        and fx_rates.month = date_trunc('month', lines.invoice_date)
    left join known_currencies
        on known_currencies.currency = lines.currency
    left join clients
        on clients.source_system = lines.source_system
        and clients.source_client_id = lines.source_client_id
),

first_problem as (
    select
        joined.*,
        case
            when source_system is null and invoice_id is null and line_number is null and source_client_id is null
                and invoice_date_text is null and amount_text is null and currency is null then 'blank_row:'
            when source_system is null then 'missing_value:source_system'
            when invoice_id is null then 'missing_value:invoice_id'
            when line_number is null then 'missing_value:line_number'
            when source_client_id is null then 'missing_value:source_client_id'
            when invoice_date_text is null then 'missing_value:invoice_date'
            when amount_text is null then 'missing_value:amount'
            when currency is null then 'missing_value:currency'
            when invoice_date is null then 'unparseable_date:invoice_date'
            when invoice_date < $min_date then 'implausible_date:invoice_date'
            when invoice_date > $today then 'future_date:invoice_date'
            when amount is null then 'unparseable_amount:amount'
            when abs(amount) >= $max_line_amount then 'absurd_amount:amount'
            when currency <> $reporting_currency and not is_known_currency then 'unknown_currency:currency'
            when currency <> $reporting_currency and rate_to_reporting is null then 'missing_fx_rate:currency'
            when not is_known_client then 'unknown_client:source_client_id'
        end as problem
    from joined
),

line_keys as (
    select
        first_problem.*,
        case
            when regexp_full_match(invoice_id, '[0-9]+') then coalesce(nullif(ltrim(invoice_id, '0'), ''), '0')
            else invoice_id
        end as invoice_key,
        case
            when regexp_full_match(line_number, '[0-9]+(\.0+)?')
                then coalesce(nullif(ltrim(split_part(line_number, '.', 1), '0'), ''), '0')
            else line_number
        end as line_key
    from first_problem
),

duplicates_marked as (
    select
        line_keys.*,
        case
            when problem is null then row_number() over (
                partition by source_system, invoice_key, line_key, problem is null
                order by source_file, source_row
            )
        end as line_occurrence
    from line_keys
),

checked as (
    select
        source_file,
        source_row,
        source_system,
        invoice_id,
        line_number,
        source_client_id,
        invoice_date_text,
        invoice_date,
        amount_text,
        amount,
        currency,
        coalesce(problem, case when line_occurrence > 1 then 'duplicate_line:line_number' end, '') as problem,
        case
            when currency = $reporting_currency then cast(round(amount, 2) as decimal(18, 2))
            else cast(round(amount * rate_to_reporting, 2) as decimal(18, 2))
        end as billing_amount
    from duplicates_marked
)

select
    source_file,
    source_row,
    source_system,
    source_client_id,
    invoice_date,
    currency,
    billing_amount,
    split_part(problem, ':', 1) as quarantine_reason,
    split_part(problem, ':', 2) as quarantine_column
from checked
