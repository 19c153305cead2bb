-- Pairs of client records a person should decide, ranked by how much a decision would teach (review_rank 1
-- first): a label moves every pair with the same comparison pattern, so one pair of each uncertain pattern comes
-- first. Reasons: uncertain (probability between the review and the match threshold or near it), names_disagree
-- (probable, but a name rule holds it back), evidence_disagrees (name and place argue strongly opposite ways),
-- shared_evidence (a shared address, phone or domain, or names that share words). Decide with `alms review` (or a
-- must_link / cannot_link row in match_overrides.csv); the decision holds on every later run and teaches the
-- matcher.
with pairs as (
    select * from intermediate.int_match_pairs_reviewed
),

records as (
    select * from intermediate.int_clients_matched
)

select
    pairs.review_rank,
    pairs.source_system_1,
    pairs.source_client_id_1,
    first_record.name as name_1,
    first_record.address as address_1,
    first_record.city as city_1,
    first_record.postal_code as postal_code_1,
    first_record.phone as phone_1,
    first_record.domain as domain_1,
    first_record.account_id as account_id_1,
    pairs.source_system_2,
    pairs.source_client_id_2,
    second_record.name as name_2,
    second_record.address as address_2,
    second_record.city as city_2,
    second_record.postal_code as postal_code_2,
    second_record.phone as phone_2,
    second_record.domain as domain_2,
    second_record.account_id as account_id_2,
    pairs.match_probability,
    pairs.teaching_value,
    pairs.review_reason,
    pairs.name_level,
    pairs.evidence
from pairs
inner join records as first_record
    on first_record.source_system = pairs.source_system_1
    and first_record.source_client_id = pairs.source_client_id_1
inner join records as second_record
    on second_record.source_system = pairs.source_system_2
    and second_record.source_client_id = pairs.source_client_id_2
