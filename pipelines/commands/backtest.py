"""Backtest: how well would the scoring config in force, or a candidate, have ranked past snapshots by the growth
that followed, and which weights would have ranked best? Nothing published changes.

    python -m pipelines.commands backtest                              # the config in force
    python -m pipelines.commands backtest --config candidate.yaml      # a candidate (sections merge over the default)
    python -m pipelines.commands backtest --horizon 12 --name yearly

Reads the current publication (`$ALMS_OUTPUT_DIR/current`: `scoring_inputs/account_outcomes/`, a file per month
end, or `scoring_inputs/account_outcomes.parquet` of a publication made before 2026-12-02: every account of every
reconstructed past snapshot with its criteria and the billing that followed), never the working
warehouse; scores it with `assets/rules/backtest.py` and writes to `$ALMS_OUTPUT_DIR/backtest/<name>/`:
`summary.csv` (per ranking: the score, the suggested weights' score, each criterion), `per_snapshot.csv`,
`suggested_scoring.yaml` (a `criteria:` section with the weights that would have ranked best: a suggestion, never
applied), `nearby_scoring.yaml` (the best weights with none moved more than 0.10 from today's) and `config.txt`. docs/outcomes.md explains how to read them and what they cannot say.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from assets.rules.backtest import (
    BACKTEST_INPUTS,
    BacktestResult,
    default_horizon,
    raw_sections_changed,
    run_backtest,
    suggestion_yaml,
)
from assets.rules.inputs import InputError
from assets.rules.publish import SCORING_INPUTS, current_publication, read_manifest
from assets.rules.scoring_config import load_scoring_config

(INPUT,) = BACKTEST_INPUTS  # what every publication copies (account_outcomes): a folder, a file per as-of date
SUGGESTED, NEARBY = "suggested_scoring.yaml", "nearby_scoring.yaml"
HORIZONS = (3, 6, 12)


class BacktestError(InputError):
    """The backtest cannot run (nothing published, a publication without its backtest inputs, a bad config)."""


@dataclass
class BacktestRun:
    result: BacktestResult
    in_force: BacktestResult | None  # the config in force, beside a candidate
    out_dir: Path
    publication: Path
    as_of_date: str
    run_id: str
    notes: list[str]


def run(
    output_dir: Path, data_dir: Path, config_path: Path | None, horizon: int | None, name: str, search: bool = True
) -> BacktestRun:
    publication = current_publication(output_dir)  # resolved once: a switch meanwhile does not mix publications
    if publication is None:
        raise BacktestError(f"{output_dir}: nothing published yet; run the pipeline once (make run) before a backtest")
    folder, older = publication / SCORING_INPUTS / INPUT, publication / SCORING_INPUTS / f"{INPUT}.parquet"
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else [older] if older.is_file() else []
    if not files:
        raise BacktestError(
            f"{publication}: the publication has no {SCORING_INPUTS}/{INPUT}/ (published by an older version); run "
            "the pipeline once more"
        )
    if horizon is not None and horizon not in HORIZONS:
        raise BacktestError(f"--horizon must be one of {', '.join(map(str, HORIZONS))} (months); got {horizon}")
    manifest = read_manifest(publication)
    frame = pl.read_parquet(files)  # in name order: the month ends in order
    in_force = load_scoring_config(data_dir)
    config = load_scoring_config(data_dir, path=config_path) if config_path is not None else in_force
    notes = list(config.notes)
    changed = raw_sections_changed(config, in_force)
    if changed:
        notes.append(
            f"the candidate changes {', '.join(changed)}: those sections change raw criterion values, which the "
            "backtest takes as the snapshots were reconstructed; its weights, normalisations and tiers do apply"
        )
    horizon = horizon or default_horizon(frame)
    result = run_backtest(frame, config, horizon, search)
    baseline = run_backtest(frame, in_force, horizon, search=False) if config_path is not None else None
    out_dir = Path(output_dir) / "backtest" / name
    out_dir.mkdir(parents=True, exist_ok=True)
    result.summary.write_csv(out_dir / "summary.csv", float_precision=4)
    result.per_snapshot.write_csv(out_dir / "per_snapshot.csv", float_precision=4)
    header = [
        f"alms backtest of {config.label} on the publication as of {manifest.get('as_of_date')} "
        f"(run {str(manifest.get('run_id'))[:8]}): {len(result.snapshots)} snapshots "
        f"({', '.join(str(d) for d in result.snapshots)}), {horizon}-month growth",
    ]
    for file, nearby in ((SUGGESTED, False), (NEARBY, True)):
        if result.suggestion is not None:
            (out_dir / file).write_text(suggestion_yaml(result.suggestion, config, header, nearby=nearby))
        else:
            (out_dir / file).unlink(missing_ok=True)
    (out_dir / "config.txt").write_text(
        f"publication: {publication}\nas_of_date: {manifest.get('as_of_date')}\nrun_id: {manifest.get('run_id')}\n"
        f"config: {config.source}\nversion: {config.label}\nin_force: {in_force.label}\nhorizon_months: {horizon}\n"
        f"snapshots: {', '.join(str(d) for d in result.snapshots) or '-'}\n"
        f"computed_at: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}\n"
        + "".join(f"note: {note}\n" for note in [*notes, *result.notes])
    )
    return BacktestRun(
        result=result,
        in_force=baseline,
        out_dir=out_dir,
        publication=publication,
        as_of_date=str(manifest.get("as_of_date")),
        run_id=str(manifest.get("run_id")),
        notes=notes + result.notes,
    )


def report_lines(run: BacktestRun) -> list[str]:
    """What the command prints."""
    result = run.result
    lines = [
        f"backtest of {result.config_label} on the publication as of {run.as_of_date} (run {run.run_id[:8]}, "
        f"{run.publication}): {len(result.snapshots)} snapshots with {result.horizon_months} complete months after "
        f"them, {result.accounts:,} account rows",
    ]
    if run.in_force is not None:
        score = run.in_force.summary.filter(pl.col("ranking") == "score")
        if score.height and score["spearman"][0] is not None:
            lines.append(f"  the config in force ({run.in_force.config_label}): Spearman {score['spearman'][0]:.3f}")
    if result.summary.height:
        lines.append(
            f"  {'ranking':<16} {'Spearman':>8} {'gain share':>10} {'precision':>9} {'base rate':>9} {'lift':>5}"
        )
        for r in result.summary.iter_rows(named=True):
            if r["spearman"] is None:
                continue
            lines.append(
                f"  {r['ranking']:<16} {r['spearman']:>8.3f} {_pct(r['gain_share']):>10} {_pct(r['precision']):>9} "
                f"{_pct(r['base_rate']):>9} {r['lift'] or 0:>5.2f}"
            )
    suggestion = result.suggestion
    if suggestion is not None:
        weights = ", ".join(
            f"{c} {suggestion.current_weights.get(c, 0):.2f}->{w:.2f}"
            for c, w in suggestion.weights.items()
            if w > 0 or suggestion.current_weights.get(c, 0) > 0
        )
        lines.append(
            f"suggested weights (NOT applied; mean Spearman {suggestion.spearman_current:.3f} -> "
            f"{suggestion.spearman_suggested:.3f}): {weights}"
        )
        nearby = ", ".join(
            f"{c} {suggestion.current_weights.get(c, 0):.2f}->{w:.2f}"
            for c, w in suggestion.nearby.items()
            if abs(w - suggestion.current_weights.get(c, 0)) > 1e-9
        )
        lines.append(
            f"nearby weights (each within 0.10 of today's; NOT applied; {suggestion.spearman_current:.3f} -> "
            f"{suggestion.spearman_nearby:.3f}): {nearby or 'no move improves the ranking'}"
        )
        if suggestion.holdout:
            h = suggestion.holdout
            lines.append(
                f"  fitted on the earlier {len(h['fit_snapshots'])} snapshots, scored on the later "
                f"{len(h['test_snapshots'])}: {h['spearman_current']:.3f} (current) vs {h['spearman_suggested']:.3f}"
            )
    lines += [f"note: {note}" for note in run.notes]
    written = ["summary.csv", "per_snapshot.csv", "config.txt"]
    if suggestion is not None:
        written[2:2] = [SUGGESTED, NEARBY]
    lines.append(f"written: {run.out_dir}/{', '.join(written)} (published tables untouched)")
    return lines


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"
