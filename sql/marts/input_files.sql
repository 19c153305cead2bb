-- One row per input file: where each of its rows went. rows_read = rows_loaded + rows_quarantined +
-- rows_outside_window for every file (a blocking check proves it). Loaded: the row reached the marts (billing lines
-- and engagement events: clean and inside the window; client records and deals: usable; reference inputs: every row,
-- since a bad reference row stops the run). Quarantined: excluded, in marts.quarantined_rows with its reason. Outside the
-- window: clean billing lines and events dated before the window or after the as-of date, with their billing.
-- Header-only files have 0 rows; files of a month a partitioned run did not read count the rows read by the run that
-- last read them.
with files as (
    select * from raw.input_files
),

billing as (
    select * from intermediate.int_billing_lines_windowed
),

clients as (
    select * from staging.stg_clients__checked_records
),

events as (
    select * from intermediate.int_engagement_events_windowed
),

deals as (
    select * from intermediate.int_deals_checked
),

prospects as (
    select * from raw.prospects
),

sellers as (
    select * from raw.sellers
),

fx_rates as (
    select * from raw.fx_rates
),

match_overrides as (
    select * from raw.match_overrides
),

seller_picks as (
    select * from raw.seller_picks
),

account_overrides as (
    select * from raw.account_overrides
),

seller_feedback as (
    select * from raw.seller_feedback
),

quarantine as (
    select * from marts.quarantined_rows
),

rows_per_file as (
    select
        'billing' as input_name,
        source_file,
        count(*) as rows_read,
        count(*) filter (where quarantine_reason = '' and is_in_window) as rows_loaded,
        count(*) filter (where quarantine_reason <> '') as rows_quarantined,
        count(*) filter (where quarantine_reason = '' and not is_in_window) as rows_outside_window,
        sum(billing_amount) filter (where quarantine_reason = '' and is_in_window) as billing_loaded,
        sum(billing_amount) filter (where quarantine_reason = '' and not is_in_window) as billing_outside_window
    from billing
    group by source_file
    union all
    select
        'engagement',
        source_file,
        count(*),
        count(*) filter (where quarantine_reason = '' and is_in_window),
        count(*) filter (where quarantine_reason <> ''),
        count(*) filter (where quarantine_reason = '' and not is_in_window),
        null,
        null
    from events
    group by source_file
    union all
    select
        'clients',
        source_file,
        count(*),
        count(*) filter (where quarantine_reason = ''),
        count(*) filter (where quarantine_reason <> ''),
        0,
        null,
        null
    from clients
    group by source_file
    union all
    select
        'opportunities',
        source_file,
        count(*),
        count(*) filter (where quarantine_reason = ''),
        count(*) filter (where quarantine_reason <> ''),
        0,
        null,
        null
    from deals
    group by source_file
    union all
    select 'prospects', source_file, count(*), count(*), 0, 0, null, null from prospects group by source_file
    union all
    select 'sellers', source_file, count(*), count(*), 0, 0, null, null from sellers group by source_file
    union all
    select 'fx_rates', source_file, count(*), count(*), 0, 0, null, null from fx_rates group by source_file
    union all
    select 'match_overrides', source_file, count(*), count(*), 0, 0, null, null from match_overrides
    group by source_file
    union all
    select 'seller_picks', source_file, count(*), count(*), 0, 0, null, null from seller_picks group by source_file
    union all
    select 'overrides', source_file, count(*), count(*), 0, 0, null, null from account_overrides group by source_file
    union all
    select 'seller_feedback', source_file, count(*), count(*), 0, 0, null, null from seller_feedback
    group by source_file
),

reason_counts as (
    select
        input_name,
        source_file,
        reason,
        action,
        count(*) as quarantined_rows
    from quarantine
    group by all
),

reasons_per_file as (
    select
        input_name,
        source_file,
        cast(sum(quarantined_rows) filter (where action <> 'excluded') as bigint) as rows_loaded_altered,
        string_agg(
            reason || case when action = 'excluded' then '' else ' (kept)' end || ' ' || quarantined_rows,
            ', ' order by action = 'excluded' desc, quarantined_rows desc, reason
        ) as quarantine_reasons
    from reason_counts
    group by all
)

select
    coalesce(files.input_name, rows_per_file.input_name) as input_name,
    coalesce(files.source_file, rows_per_file.source_file) as source_file,
    files.file_month,
    files.size_bytes,
    files.modified_at,
    files.source_file is not null as is_in_folder,
    coalesce(rows_per_file.rows_read, 0) as rows_read,
    coalesce(rows_per_file.rows_loaded, 0) as rows_loaded,
    coalesce(rows_per_file.rows_quarantined, 0) as rows_quarantined,
    coalesce(rows_per_file.rows_outside_window, 0) as rows_outside_window,
    coalesce(reasons_per_file.rows_loaded_altered, 0) as rows_loaded_altered,
    reasons_per_file.quarantine_reasons,
    case
        when coalesce(files.input_name, rows_per_file.input_name) = 'billing'
            then cast(coalesce(rows_per_file.billing_loaded, 0) as decimal(38, 2))
    end as billing_loaded,
    case
        when coalesce(files.input_name, rows_per_file.input_name) = 'billing'
            then cast(coalesce(rows_per_file.billing_outside_window, 0) as decimal(38, 2))
    end as billing_outside_window,
    $reporting_currency as reporting_currency
from files
full outer join rows_per_file
    on rows_per_file.input_name = files.input_name
    and rows_per_file.source_file = files.source_file
left join reasons_per_file
    on reasons_per_file.input_name = coalesce(files.input_name, rows_per_file.input_name)
    and reasons_per_file.source_file = coalesce(files.source_file, rows_per_file.source_file)
