"""Which reconstructed month ends of the outcomes a run keeps from the last one (assets/outcomes.py feeds it).

A reconstructed month end is kept when everything it is computed from is unchanged (a monthly run brings a month of
billing: the month ends before it read none of it): the fingerprint of each month end (assets/rules/reuse.py) covers
the client records known then, the clean deals and prospects created by then, the monthly billing and engagement up
to then, the first reconstructed month end, the scoring config, the key share and review settings, the code and its
libraries; the tables `marts.account_outcomes` and `marts.lead_outcomes` carry the fingerprint of each of their month
ends. A kept month end's outcomes (its accounts' and leads' billing after it) are kept too when that billing, which
windows are complete and today's deduplication are unchanged as well.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from assets.rules import outcomes, reuse, snapshots

OUTCOME_TABLES = ("marts.account_outcomes", "marts.lead_outcomes")  # they carry each month end's fingerprint
RECONSTRUCTION_LIBRARIES = ("polars", "duckdb")  # the libraries whose change can change a month end


def reconstruction_fingerprints(
    code: str, settings: dict, data: snapshots.History, dates: list[dt.date]
) -> dict[dt.date, str]:
    """The fingerprint of each reconstructed month end: everything its snapshot and the ones before it are computed
    from (snapshots.known_inputs), the `settings` (scoring config, key share, review cadence) and the `code` (a
    reuse.source_digest of what computes it; assets/rules/reuse.py)."""
    common = {"first_month_end": min(dates, default=None), **settings}
    return {
        as_of: reuse.fingerprint(
            known["frames"],
            {**common, "as_of_date": as_of, "monthly": known["monthly"]},
            code,
            RECONSTRUCTION_LIBRARIES,
        )
        for as_of, known in snapshots.iter_known_inputs(data, dates)  # one date's frames at a time
    }


WINDOW = "window "  # the fingerprint of a month end's outcomes: its part's name is WINDOW + the date


def window_fingerprints(
    code: str,
    reconstruction: dict[dt.date, str],
    monthly: snapshots.Monthly,
    now: pl.DataFrame,
    matched_now: pl.DataFrame,
    as_of: dt.date,
) -> dict[dt.date, str]:
    """The fingerprint of each reconstructed month end's outcomes (its accounts' and leads' billing after it): its
    snapshot's fingerprint, the billing of the 12 months after it as far as they are complete, which windows are
    complete, today's deduplication and the prospects that are clients today."""
    end = snapshots.last_complete_month(as_of)
    billing = monthly.month_digests()["billing"]
    common = {"now": reuse.frame_digest(now), "matched_now": reuse.frame_digest(matched_now)}
    windows = {}
    for day, fingerprint in reconstruction.items():
        m = snapshots.month_index(day)
        after = sorted([month, *billing[month]] for month in billing if m < month <= min(m + 12, end))
        complete = [m + n <= end for n in outcomes.HORIZONS]
        settings = {**common, "snapshot": fingerprint, "after": after, "complete": complete}
        windows[day] = reuse.fingerprint({}, settings, code, RECONSTRUCTION_LIBRARIES)
    return windows


def kept_windows(conn, windows: dict[dt.date, str], kept_dates: list[dt.date]) -> dict[str, pl.DataFrame] | None:
    """The outcome rows (accounts, leads) of the kept month ends whose outcomes' fingerprint is the stored one."""
    found = reuse.stored_by_part(conn, OUTCOME_TABLES)
    if found is None:
        return None
    same = [day for day in kept_dates if found[0].get(f"{WINDOW}{day}") == windows.get(day)]
    if not same:
        return None
    accounts = conn.sql(
        f"select {', '.join(outcomes.OUTCOME_SCHEMA)} from marts.account_outcomes "
        "where snapshot_source = $source and as_of_date in (select unnest($days))",
        params={"source": snapshots.RECONSTRUCTED, "days": same},
    ).pl()
    leads = conn.sql(
        f"select {', '.join(outcomes.LEAD_OUTCOME_SCHEMA)} from marts.lead_outcomes "
        "where as_of_date in (select unnest($days))",
        params={"days": same},
    ).pl()
    return {"accounts": accounts, "leads": leads}


def kept_reconstruction(conn, fingerprints: dict[dt.date, str]) -> tuple[snapshots.Reconstruction, str] | None:
    """The month ends the outcome tables hold with the same fingerprint as this run's, oldest first and none missing
    in between, as a Reconstruction of them, with the run that computed them; None when there is none."""
    found = reuse.stored_by_part(conn, OUTCOME_TABLES)
    if found is None:
        return None
    stored, run_id = found
    same = []
    for as_of in sorted(fingerprints):
        if stored.get(str(as_of)) != fingerprints[as_of]:
            break
        same.append(as_of)
    if not same:
        return None
    accounts = conn.sql(
        f"select {', '.join(snapshots.RECONSTRUCTED_SCHEMA)} from marts.account_outcomes "
        "where snapshot_source = $source and as_of_date between $first and $last",
        params={"source": snapshots.RECONSTRUCTED, "first": same[0], "last": same[-1]},
    ).pl()
    leads = conn.sql(
        "select as_of_date, prospect_id, owner_id, lead_score, false as is_client_then, is_recommended, "
        "cast(null as bigint) as lead_rank from marts.lead_outcomes where as_of_date between $first and $last",
        params={"first": same[0], "last": same[-1]},
    ).pl()
    return snapshots.Reconstruction(accounts=accounts, leads=leads), run_id


def record(conn, fingerprints: dict[dt.date, str], windows: dict[dt.date, str], days, run_id: str) -> None:
    """Mark the outcome tables (stored by now) with the fingerprints of the month ends `days` they hold, for the next
    run."""
    days = [day for day in days if day in fingerprints]
    computed = {**{str(day): fingerprints[day] for day in days}, **{f"{WINDOW}{day}": windows[day] for day in days}}
    reuse.record_by_part(conn, OUTCOME_TABLES, computed, run_id)
