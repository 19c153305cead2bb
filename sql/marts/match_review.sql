-- Pairs of client records a person should confirm or reject, most probable first: near the match threshold
-- (near_threshold), or strong evidence held back because the names disagree (names_disagree: branches,
-- subsidiaries, or a name the matcher would not trust). Decide by adding a must_link or cannot_link row to
-- match_overrides in the input folder; the decision holds on every later run.
with pairs as (
    select * from intermediate.int_match_pairs_reviewed
),

records as (
    select * from intermediate.int_clients_matched
)

select
    pairs.source_system_1,
    pairs.source_client_id_1,
    first_record.name as name_1,
    first_record.account_id as account_id_1,
    pairs.source_system_2,
    pairs.source_client_id_2,
    second_record.name as name_2,
    second_record.account_id as account_id_2,
    pairs.match_probability,
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
