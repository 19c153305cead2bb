-- Every usable client record, once: (source_system, source_client_id) -> account_id, with how it was joined
-- (match_rule, match_confidence, match_evidence: the fields that agreed on its strongest link) and whether it is
-- the account's primary record (the one whose attributes win, see int_accounts_aggregated).
with matched as (
    select * from intermediate.int_clients_matched
),

accounts as (
    select * from intermediate.int_accounts_aggregated
)

select
    matched.source_system,
    matched.source_client_id,
    matched.account_id,
    matched.match_rule,
    matched.match_confidence,
    matched.match_evidence,
    accounts.primary_record = matched.source_system || ':' || matched.source_client_id as is_primary_record,
    matched.name as client_name,
    matched.source_file
from matched
inner join accounts
    on accounts.account_id = matched.account_id
