"""The matching evaluation script runs and prints figures that agree with the truth it was given."""

import subprocess
import sys
from pathlib import Path

import polars as pl

from pipelines.evaluate_matching import false_merges_by_kind, main, pairwise_scores, recall_by_variation

REPO_ROOT = Path(__file__).resolve().parents[1]


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


def test_recall_per_variation_kind_counts_a_pair_for_each_kind_of_either_record():
    truth = pl.DataFrame(
        {"source_system": "s", "source_client_id": ["1", "2", "3", "4", "5"], "entity_id": ["a", "a", "a", "b", "b"]}
    )
    variations = truth.with_columns(variations=pl.Series(["", "acronym", "typo;acronym", "typo", None]))
    # found: {1,2} and {3}, {4,5}: pairs 1-2 (acronym) found, 1-3 and 2-3 (acronym, typo) missed, 4-5 (typo) found
    crosswalk = truth.select("source_system", "source_client_id").with_columns(
        account_id=pl.Series(["x", "x", "y", "z", "z"])
    )
    got = {row["kind"]: (row["true_pairs"], row["found_pairs"]) for row in
           recall_by_variation(truth, variations, crosswalk).iter_rows(named=True)}  # fmt: skip
    assert got == {"acronym": (3, 1), "typo": (3, 1), "all": (4, 2), "outside_large_clusters": (4, 2)}


def test_false_merges_count_pairs_of_different_organisations_of_one_group():
    truth = pl.DataFrame(
        {"source_system": "s", "source_client_id": ["1", "2", "3", "4", "5"], "entity_id": ["a", "a", "b", "c", "d"]}
    )
    groups = pl.DataFrame({"group_id": ["g1", "g2"], "kind": ["franchise", "same_building"],
                           "entity_ids": ["a;b;c", "c;d"]})  # fmt: skip
    # accounts: {1,2,3} and {4,5}: franchise pairs a-b merged twice (records 1-3, 2-3), a-c and b-c apart
    crosswalk = truth.select("source_system", "source_client_id").with_columns(
        account_id=pl.Series(["x", "x", "x", "y", "y"])
    )
    got = {row["kind"]: row for row in false_merges_by_kind(truth, groups, crosswalk).iter_rows(named=True)}
    assert (got["franchise"]["record_pairs"], got["franchise"]["merged_pairs"]) == (5, 2)
    assert (got["franchise"]["organisation_pairs"], got["franchise"]["merged_organisation_pairs"]) == (3, 1)
    assert (got["same_building"]["record_pairs"], got["same_building"]["merged_pairs"]) == (1, 1)


def test_the_script_reports_variation_kinds_and_hard_negatives_on_the_hard_profile(tmp_path, capsys):
    assert main(["--work-dir", str(tmp_path), "--clients", "1500", "--noise", "1.0", "--quality-only"]) == 0
    out = capsys.readouterr().out
    assert (
        "profile hard" in out and (tmp_path / "quality-hard-1500-noise1.0" / "_truth" / "hard_negatives.csv").exists()
    )
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    assert {"acronym", "location_qualifier", "large_cluster", "all", "generic_name", "same_building"} <= set(rows)
    assert len(rows["acronym"]) == 3 and 0 <= float(rows["acronym"][1]) <= 1  # pairs, probabilistic, deterministic
    assert rows["same_building"][0].replace(",", "").isdigit()


def test_the_script_prints_quality_and_speed(tmp_path, capsys):
    assert main(["--work-dir", str(tmp_path), "--clients", "1500", "--noise", "1.0", "--sizes", "2000",
                 "--profile", "demo"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    lines = [line.split() for line in out.splitlines()]
    quality = {row[1]: float(row[4]) for row in lines if len(row) == 6 and row[0] == "1.0"}
    assert set(quality) == {"probabilistic", "deterministic"} and quality["probabilistic"] >= 0.95
    speed = [row for row in lines if row and row[0] == "2,000"]
    assert len(speed) == 1 and float(speed[0][5]) >= 0.95  # F1 at the speed size


def test_the_script_runs_from_the_command_line(tmp_path):
    completed = subprocess.run([sys.executable, "-m", "pipelines.evaluate_matching", "--help"], cwd=REPO_ROOT,
                               capture_output=True, text=True, check=True)  # fmt: skip
    assert "--noise" in completed.stdout and "--profile" in completed.stdout
