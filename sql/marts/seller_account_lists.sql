-- Per seller, their accounts ordered by 12-month billing (largest first), each marked key or secondary.
-- Accounts whose owner is empty or not in the sellers file are listed under their owner_id (null: unassigned)
-- with has_known_seller = false, so no account drops out of the lists.
with accounts as (
    select * from marts.accounts
),

sellers as (
    select * from raw.sellers
)

select
    accounts.owner_id,
    coalesce(sellers.seller_name, case when accounts.owner_id is null then '(unassigned)' else '(unknown seller)' end)
        as seller_name,
    sellers.team,
    sellers.owner_id is not null as has_known_seller,
    row_number() over (
        partition by accounts.owner_id
        order by accounts.billing_12m desc, accounts.account_id
    ) as seller_rank,
    accounts.account_id,
    accounts.account_name,
    accounts.segment,
    accounts.billing_12m,
    accounts.billing_rank,
    accounts.is_key_account,
    case when accounts.is_key_account then 'key' else 'secondary' end as designation
from accounts
left join sellers
    on sellers.owner_id = accounts.owner_id
