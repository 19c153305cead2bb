-- One row per account: its 12-month billing and engagement, and its attributes by the survivorship rule.
-- Survivorship: the members of an account are ordered by their own 12-month billing (largest first), then by how
-- many optional fields they fill (most first), then by source_system and source_client_id; each attribute (name,
-- owner, segment, industry, country) takes the first non-empty value in that order. The first member is the
-- account's primary record. owner_id here is survivorship's proposal: marts.accounts keeps the owner of the
-- nearest recorded snapshot while a member record still carries it (owner_ids: every owner its records name;
-- assets/rules/ownership.py), so owners do not flip when billing reorders the members. employee_count follows the
-- same rule; customer_since is the earliest of the members;
-- segments lists every segment a member carries. billing_recent_6m is the billing of the window's last 6 months
-- (invoice dates after as_of_date - 6 months), billing_earlier_6m the rest of the window.
with matched as (
    select * from intermediate.int_clients_matched
),

billing_lines as (
    select * from intermediate.int_billing_lines_windowed
),

engagement_events as (
    select * from intermediate.int_engagement_events_windowed
),

reporting_window as (
    select * from intermediate.int_reporting_windows_resolved
),

lines as (
    select * from billing_lines
    where quarantine_reason = '' and is_in_window
),

events as (
    select * from engagement_events
    where quarantine_reason = '' and is_in_window
),

record_billing as (
    select
        source_system,
        source_client_id,
        sum(billing_amount) as billing_12m,
        sum(case when lines.invoice_date > reporting_window.recent_half_start then billing_amount else 0 end)
            as billing_recent_6m,
        count(*) as billing_line_count
    from lines
    cross join (
        select cast(as_of_date - interval 6 month as date) as recent_half_start from reporting_window
    ) as reporting_window
    group by source_system, source_client_id
),

record_events as (
    select
        source_system,
        source_client_id,
        cast(sum(quantity) as bigint) as engagement_events_12m
    from events
    group by source_system, source_client_id
),

members as (
    select
        matched.account_id,
        matched.source_system,
        matched.source_client_id,
        matched.name,
        matched.owner_id,
        matched.segment,
        matched.industry,
        matched.country,
        matched.employee_count,
        matched.customer_since,
        coalesce(record_billing.billing_12m, 0) as billing_12m,
        coalesce(record_billing.billing_recent_6m, 0) as billing_recent_6m,
        coalesce(record_billing.billing_line_count, 0) as billing_line_count,
        coalesce(record_events.engagement_events_12m, 0) as engagement_events_12m,
        row_number() over (
            partition by matched.account_id
            order by
                coalesce(record_billing.billing_12m, 0) desc,
                matched.filled_field_count desc,
                matched.source_system,
                matched.source_client_id
        ) as member_order
    from matched
    left join record_billing
        on record_billing.source_system = matched.source_system
        and record_billing.source_client_id = matched.source_client_id
    left join record_events
        on record_events.source_system = matched.source_system
        and record_events.source_client_id = matched.source_client_id
),

accounts as (
    select
        account_id,
        min_by(source_system || ':' || source_client_id, member_order) as primary_record,
        min_by(name, case when name is not null then member_order end) as account_name,
        min_by(owner_id, case when owner_id is not null then member_order end) as owner_id,
        min_by(segment, case when segment is not null then member_order end) as segment,
        min_by(industry, case when industry is not null then member_order end) as industry,
        min_by(country, case when country is not null then member_order end) as country,
        min_by(employee_count, case when employee_count is not null then member_order end) as employee_count,
        min(customer_since) as customer_since,
        list_sort(array_agg(distinct segment) filter (where segment is not null)) as segments,
        list_sort(array_agg(distinct owner_id) filter (where owner_id is not null)) as owner_ids,
        count(*) as client_record_count,
        count(distinct source_system) as source_system_count,
        cast(sum(billing_12m) as decimal(38, 2)) as billing_12m,
        cast(sum(billing_recent_6m) as decimal(38, 2)) as billing_recent_6m,
        cast(sum(billing_12m) - sum(billing_recent_6m) as decimal(38, 2)) as billing_earlier_6m,
        cast(sum(billing_line_count) as bigint) as billing_line_count,
        cast(sum(engagement_events_12m) as bigint) as engagement_events_12m
    from members
    group by account_id
)

select * from accounts
