"""The demo with billing history (what `make run` generates) only adds files; its figures at the as-of date and the
signal its history carries are checked on the demo's own runs (tests/test_demo_runs.py)."""

from pathlib import Path

from pipelines.commands.demo_data import generate_demo_data


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_history_only_adds_files_and_rows(tmp_path):
    generate_demo_data(tmp_path / "plain", clients=500, seed=3)
    summary = generate_demo_data(tmp_path / "history", clients=500, seed=3, history_months=6)
    plain, history = tree_bytes(tmp_path / "plain"), tree_bytes(tmp_path / "history")
    changed = sorted(name for name, content in plain.items() if history.get(name) != content)
    assert changed == ["fx_rates.csv"]  # rewritten with the earlier months first ...
    assert history["fx_rates.csv"].endswith(plain["fx_rates.csv"].split(b"\n", 1)[1])  # ... and its own rows after
    added = sorted(set(history) - set(plain))
    months = summary["history_months"]
    assert len(months) == 6 and months[-1] == "2025-08"
    assert {f"billing/{s}_{m}.csv" for s in ("nat_erp", "loc_billing", "crm_legacy") for m in months} <= set(added)
    assert "prospects/history_leads.csv" in added and "seller_feedback.csv" in added
    again = generate_demo_data(tmp_path / "again", clients=500, seed=3, history_months=6)
    assert tree_bytes(tmp_path / "again") == history and again["history_billing_lines"] > 0
