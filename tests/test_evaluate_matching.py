"""The matching evaluation script runs and prints figures that agree with the truth it was given."""

import subprocess
import sys
from pathlib import Path

import polars as pl

from pipelines.evaluate_matching import main, pairwise_scores

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


def test_the_script_prints_quality_and_speed(tmp_path, capsys):
    assert main(["--work-dir", str(tmp_path), "--clients", "1500", "--noise", "1.0", "--sizes", "2000"]) == 0
    out = capsys.readouterr().out
    lines = [line.split() for line in out.splitlines()]
    quality = {row[1]: float(row[4]) for row in lines if len(row) == 6 and row[0] == "1.0"}
    assert set(quality) == {"probabilistic", "deterministic"} and quality["probabilistic"] >= 0.95
    speed = [row for row in lines if row and row[0] == "2,000"]
    assert len(speed) == 1 and float(speed[0][5]) >= 0.95  # F1 at the speed size


def test_the_script_runs_from_the_command_line(tmp_path):
    completed = subprocess.run([sys.executable, "-m", "pipelines.evaluate_matching", "--help"], cwd=REPO_ROOT,
                               capture_output=True, text=True, check=True)  # fmt: skip
    assert "--noise" in completed.stdout
