-- Open pipeline per account and stage, in the reporting currency: the row-heavy half of the likelihood criterion.
-- weighted_amount sums amount x probability / 100 over deals that carry their own probability; unweighted_amount
-- sums the amounts of deals without one (the scoring step weighs those by the stage's probability in scoring.yaml).
with deals as (
    select * from intermediate.int_deals_checked
),

matched as (
    select * from intermediate.int_clients_matched
)

select
    matched.account_id,
    deals.stage,
    cast(count(*) as bigint) as open_deals,
    cast(coalesce(sum(deals.amount_reporting * deals.probability / 100.0), 0) as double) as weighted_amount,
    cast(coalesce(sum(case when deals.probability is null then deals.amount_reporting end), 0) as double)
        as unweighted_amount
from deals
inner join matched
    on matched.source_system = deals.source_system
    and matched.source_client_id = deals.source_client_id
where deals.quarantine_reason = '' and deals.is_open
group by all
