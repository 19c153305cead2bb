-- Every input row that did not reach the marts as it was, with the reason; one row per input row (the first
-- problem). action = excluded: the row was left out (for billing lines: its amount is in no account); action =
-- kept_with_nulls: the row was used but the named values were unusable and treated as empty; action = kept_cleaned:
-- the row was used after control characters in the named columns were replaced by spaces (control_characters).
-- record holds the row's values (trimmed, control characters replaced), separated by ' | '.
-- The billing lines are read in the two CTEs that use them, not through import CTEs: DuckDB materializes a CTE that
-- is referenced twice (a copy of 10M lines, 2 GB more at the benchmark's size).
with clients as (
    select * from staging.stg_clients__checked_records
),

events as (
    select * from staging.stg_engagement__checked_events
),

deals as (
    select * from intermediate.int_deals_checked
),

raw_deals as (
    select * from raw.opportunities
),

prospects as (
    select * from raw.prospects
),

quarantined_billing as (
    select
        'billing' as input_name,
        billing.source_file,
        billing.source_row,
        nullif(billing.quarantine_column, '') as column_name,
        billing.quarantine_reason as reason,
        'excluded' as action,
        concat_ws(' | ', coalesce(raw_billing.source_system, ''), coalesce(raw_billing.invoice_id, ''),
            coalesce(raw_billing.line_number, ''), coalesce(raw_billing.source_client_id, ''),
            coalesce(raw_billing.invoice_date_text, ''), coalesce(raw_billing.amount_text, ''),
            coalesce(raw_billing.currency, '')) as record
    from staging.stg_billing__checked_lines as billing
    inner join raw.billing_lines as raw_billing
        on raw_billing.source_file = billing.source_file
        and raw_billing.source_row = billing.source_row
    where billing.quarantine_reason <> ''
),

cleaned_billing as (
    select
        'billing' as input_name,
        raw_billing.source_file,
        raw_billing.source_row,
        raw_billing.cleaned_fields as column_name,
        'control_characters' as reason,
        'kept_cleaned' as action,
        concat_ws(' | ', coalesce(raw_billing.source_system, ''), coalesce(raw_billing.invoice_id, ''),
            coalesce(raw_billing.line_number, ''), coalesce(raw_billing.source_client_id, ''),
            coalesce(raw_billing.invoice_date_text, ''), coalesce(raw_billing.amount_text, ''),
            coalesce(raw_billing.currency, '')) as record
    from raw.billing_lines as raw_billing
    inner join staging.stg_billing__checked_lines as billing
        on billing.source_file = raw_billing.source_file
        and billing.source_row = raw_billing.source_row
    where raw_billing.cleaned_fields is not null and billing.quarantine_reason = ''
),

quarantined_clients as (
    select
        'clients' as input_name,
        source_file,
        source_row,
        case
            when quarantine_reason <> '' then nullif(quarantine_column, '')
            when name is null then 'name'
            when invalid_fields is not null then invalid_fields
            else cleaned_fields
        end as column_name,
        case
            when quarantine_reason <> '' then quarantine_reason
            when name is null then 'missing_value'
            when invalid_fields is not null then 'unparseable_value'
            else 'control_characters'
        end as reason,
        case
            when quarantine_reason <> '' then 'excluded'
            when name is null or invalid_fields is not null then 'kept_with_nulls'
            else 'kept_cleaned'
        end as action,
        concat_ws(' | ', coalesce(source_system, ''), coalesce(source_client_id, ''), coalesce(name, '')) as record
    from clients
    where quarantine_reason <> '' or name is null or invalid_fields is not null or cleaned_fields is not null
),

quarantined_events as (
    select
        'engagement' as input_name,
        source_file,
        source_row,
        case when quarantine_reason <> '' then nullif(quarantine_column, '') else cleaned_fields end as column_name,
        case when quarantine_reason <> '' then quarantine_reason else 'control_characters' end as reason,
        case when quarantine_reason <> '' then 'excluded' else 'kept_cleaned' end as action,
        concat_ws(' | ', coalesce(source_system, ''), coalesce(source_client_id, ''), coalesce(event_date_text, ''),
            coalesce(event_type, ''), coalesce(quantity_text, '')) as record
    from events
    where quarantine_reason <> '' or cleaned_fields is not null
),

quarantined_deals as (
    select
        'opportunities' as input_name,
        deals.source_file,
        deals.source_row,
        case
            when deals.quarantine_reason <> '' then nullif(deals.quarantine_column, '')
            else raw_deals.cleaned_fields
        end as column_name,
        case when deals.quarantine_reason <> '' then deals.quarantine_reason else 'control_characters' end as reason,
        case when deals.quarantine_reason <> '' then 'excluded' else 'kept_cleaned' end as action,
        concat_ws(' | ', coalesce(raw_deals.source_system, ''), coalesce(raw_deals.opportunity_id, ''),
            coalesce(raw_deals.source_client_id, ''), coalesce(raw_deals.stage, ''),
            coalesce(raw_deals.amount_text, ''), coalesce(raw_deals.currency, ''),
            coalesce(raw_deals.expected_close_date_text, ''), coalesce(raw_deals.probability_text, '')) as record
    from deals
    inner join raw_deals
        on raw_deals.source_file = deals.source_file
        and raw_deals.source_row = deals.source_row
    where deals.quarantine_reason <> '' or raw_deals.cleaned_fields is not null
),

quarantined_prospects as (
    select
        'prospects' as input_name,
        source_file,
        source_row,
        coalesce(invalid_fields, cleaned_fields) as column_name,
        case when invalid_fields is not null then 'unparseable_value' else 'control_characters' end as reason,
        case when invalid_fields is not null then 'kept_with_nulls' else 'kept_cleaned' end as action,
        concat_ws(' | ', prospect_id, name) as record
    from prospects
    where invalid_fields is not null or cleaned_fields is not null
)

select * from quarantined_billing
union all
select * from cleaned_billing
union all
select * from quarantined_clients
union all
select * from quarantined_events
union all
select * from quarantined_deals
union all
select * from quarantined_prospects
