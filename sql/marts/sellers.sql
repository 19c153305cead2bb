-- One row per seller: the accounts they own, how many are key, their 12-month billing in the reporting currency, their
-- targets and leads (designations after overrides and picks, as in marts.seller_account_lists). Every seller of the
-- sellers input has a row, with or without accounts. Accounts are never left out: those whose owner_id is not in the
-- sellers input get one row per such owner_id (seller_name '(unknown seller)'), those without an owner one row
-- (owner_id null, '(unassigned)'), as in the seller lists; so the rows add up to every account once.
with sellers as (
    select * from raw.sellers
),

seller_lists as (
    select * from marts.seller_account_lists
),

per_owner as (
    select
        owner_id,
        count(*) filter (where row_type = 'account') as accounts,
        count(*) filter (where row_type = 'account' and is_key_account) as key_accounts,
        sum(billing_12m) filter (where row_type = 'account') as billing_12m,
        count(*) filter (where row_type = 'account' and designation = 'target') as targets,
        count(*) filter (where row_type = 'lead' and designation = 'lead') as leads
    from seller_lists
    group by owner_id
),

owners as (
    select
        owner_id,
        seller_name,
        team,
        true as has_known_seller
    from sellers
    union all
    select
        owner_id,
        case when owner_id is null then '(unassigned)' else '(unknown seller)' end as seller_name,
        null as team,
        false as has_known_seller
    from per_owner
    where owner_id is null or owner_id not in (select sellers.owner_id from sellers)
)

select
    owners.owner_id,
    owners.seller_name,
    owners.team,
    owners.has_known_seller,
    coalesce(per_owner.accounts, 0) as accounts,
    coalesce(per_owner.key_accounts, 0) as key_accounts,
    cast(coalesce(per_owner.billing_12m, 0) as decimal(38, 2)) as billing_12m,
    $reporting_currency as reporting_currency,
    coalesce(per_owner.targets, 0) as targets,
    coalesce(per_owner.leads, 0) as leads
from owners
left join per_owner
    on per_owner.owner_id is not distinct from owners.owner_id
