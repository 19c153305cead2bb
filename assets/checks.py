"""Business-rule checks on the marts, each an independent SQL query over the warehouse.

All but one are blocking: when one fails, nothing downstream runs, so nothing is published and BI readers keep the
previous, consistent tables. `overrides_all_applied` warns (an expired override is news, not an error).
"""

import functools
import math
from collections.abc import Callable, Iterator
from fractions import Fraction

import dagster as dg

from assets.resources import AlmsSettings, Warehouse
from assets.rules.completeness import accepted_gaps_in_use, describe_gaps
from assets.rules.scoring_config import CRITERIA, MAX_LEADS, MAX_TARGETS


def _one(conn, sql: str, parameters: dict | list | None = None) -> tuple:
    """The one row of a query; values go in as `$name` / `?` parameters, never into the SQL text."""
    return conn.execute(sql, parameters).fetchall()[0]


FAILED_CHECK = "alms/failed_check"  # metadata key of the dg.Failure a failed blocking check stops its step with


def one_line(*reasons: str | None) -> str | None:
    """The reasons that apply (None: does not), joined into one line; None when none applies."""
    found = [" ".join(reason.split()) for reason in reasons if reason]
    return "; ".join(found) or None


def check(asset: list[str], blocking: bool = True) -> Callable:
    """`@dg.asset_check` for a function returning its `dg.AssetCheckResult`, whose description (when it failed) is
    its reason in one line. The step yields that result, then, when a blocking check failed, stops with a `dg.Failure`
    of that line: the run's failure message is the reason, where Dagster's own error would name the check only, under
    a stack trace. Calling the check (a test) gives a generator: `evaluate(check, **resources)` gives the result."""

    def decorate(evaluate: Callable[..., dg.AssetCheckResult]) -> dg.AssetChecksDefinition:
        @functools.wraps(evaluate)
        def step(*args, **kwargs) -> Iterator[dg.AssetCheckResult]:
            result = evaluate(*args, **kwargs)
            if not result.passed and not result.description:  # every check words its reasons; this is a fallback
                shown = ", ".join(f"{k}={getattr(v, 'value', v)}" for k, v in result.metadata.items())
                result = result._replace(description=f"{evaluate.__name__} failed: {shown}")
            elif result.description:
                result = result._replace(description=one_line(result.description))
            yield result
            if blocking and not result.passed and result.severity == dg.AssetCheckSeverity.ERROR:
                raise dg.Failure(
                    description=result.description, allow_retries=False, metadata={FAILED_CHECK: evaluate.__name__}
                )

        return dg.asset_check(asset=dg.AssetKey(asset), name=evaluate.__name__, blocking=blocking)(step)

    return decorate


def evaluate(definition: dg.AssetChecksDefinition, **resources) -> dg.AssetCheckResult:
    """The result of a check called directly (tests): the first thing its step yields."""
    return next(iter(definition(**resources)))


@check(["marts", "accounts"])
def one_row_per_account(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Each account appears once in marts.accounts, and every account the matcher formed is there."""
    with warehouse.connect() as conn:
        rows, distinct, matched = _one(
            conn,
            "select count(*), count(distinct account_id), "
            "(select count(distinct account_id) from intermediate.int_clients_matched) from marts.accounts",
        )
    passed = bool(rows == distinct == matched)
    return dg.AssetCheckResult(
        passed=passed,
        description=None
        if passed
        else f"marts.accounts has {rows:,} rows for {distinct:,} distinct account ids; the matcher formed "
        f"{matched:,} accounts",
        metadata={"rows": rows, "distinct_account_ids": distinct, "accounts_from_matcher": matched},
    )


@check(["marts", "accounts"])
def key_count_rule(warehouse: Warehouse, settings: AlmsSettings) -> dg.AssetCheckResult:
    """Recomputes the cut-off independently: n positive billers, k = ceil(share * n), the k-th billing is today's
    level, and is_key_at_next_review is exactly billing >= that level. Key accounts are exactly those with
    positive billing >= the frozen level of the current review period in marts.key_levels; when that level was computed
    from this run's data, it is the k-th billing and the key count matches the recorded one."""
    with warehouse.connect() as conn:
        n, level_applied, as_of, key_count, wrong_flags, above = _one(
            conn,
            """
            select
                count(*) filter (where billing_12m > 0),
                max(key_level),
                max(as_of_date),
                count(*) filter (where is_key_account),
                count(*) filter (where is_key_account <> (billing_12m > 0 and billing_12m >= key_level)),
                count(*) filter (where billing_12m > key_level)
            from marts.accounts
            """,
        )
        k = math.ceil(Fraction(str(settings.key_share)) * n)
        kth = conn.execute(
            "select billing_12m from marts.accounts where billing_12m > 0 "
            "order by billing_12m desc, account_id limit 1 offset ?",
            [k - 1],
        ).fetchall()
        kth_billing = kth[0][0] if kth else None
        wrong_next = (
            conn.execute(
                "select count(*) filter (where is_key_at_next_review <> (billing_12m > 0 and billing_12m >= ?)) "
                "from marts.accounts",
                [kth_billing],
            ).fetchall()[0][0]
            if kth_billing is not None
            else None
        )
        current = conn.sql(
            "select key_level, as_of_date, key_count_rule, key_accounts from marts.key_levels where is_current"
        ).fetchall()
    level_recorded, level_as_of, k_recorded, key_recorded = current[0] if len(current) == 1 else (None,) * 4
    passed = kth_billing is not None and wrong_next == 0 and wrong_flags == 0 and level_applied == level_recorded
    same_data = passed and level_as_of == as_of  # the level was computed from this very data: the whole rule holds
    if same_data:
        passed = (
            kth_billing == level_applied and above < k <= key_count and k == k_recorded and key_count == key_recorded
        )
    reason = None
    if not passed:
        share = settings.key_share
        reason = one_line(
            "no account has positive billing, so there is no k-th billing" if kth_billing is None else None,
            f"{wrong_flags:,} accounts have is_key_account <> (billing_12m >= the applied level {level_applied})"
            if wrong_flags
            else None,
            f"{wrong_next:,} accounts have is_key_at_next_review <> (billing_12m >= the k-th billing {kth_billing})"
            if wrong_next
            else None,
            f"{len(current)} current review periods in marts.key_levels (one expected)" if len(current) != 1 else None,
            f"the applied level {level_applied} is not the current period's recorded level {level_recorded}"
            if len(current) == 1 and level_applied != level_recorded
            else None,
            f"the level {level_applied} was computed from this data but the k-th billing is {kth_billing} "
            f"(k = ceil({share} x {n:,}) = {k:,}; recorded k {k_recorded}, {key_count:,} key accounts of "
            f"{key_recorded} recorded, {above:,} above the level)"
            if same_data
            else None,
        )
    return dg.AssetCheckResult(
        passed=bool(passed),
        description=reason,
        metadata={
            "ranked_accounts": n,
            "k": k,
            "kth_billing": str(kth_billing),
            "key_level_applied": str(level_applied),
            "key_level_recorded_for_period": str(level_recorded),
            "level_computed_from_as_of": str(level_as_of),
            "key_accounts": key_count,
            "accounts_with_wrong_flag": wrong_flags,
            "accounts_with_wrong_next_review_flag": wrong_next,
            "current_periods_recorded": len(current),
        },
    )


@check(["marts", "accounts"])
def billing_rows_conserved(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Every raw billing line is in an account, quarantined, or outside the window; and the accounts' billing adds
    up to the clean lines' billing to the cent."""
    with warehouse.connect() as conn:
        raw_lines, quarantined, outside_window, in_accounts, line_total, account_total = _one(
            conn,
            """
            select
                (select count(*) from raw.billing_lines),
                (select count(*) from staging.stg_billing__checked_lines where quarantine_reason <> ''),
                (select count(*) from intermediate.int_billing_lines_windowed
                    where quarantine_reason = '' and not is_in_window),
                (select coalesce(sum(billing_line_count), 0) from marts.accounts),
                (select coalesce(sum(billing_amount), 0) from intermediate.int_billing_lines_windowed
                    where quarantine_reason = '' and is_in_window),
                (select coalesce(sum(billing_12m), 0) from marts.accounts)
            """,
        )
    unaccounted = raw_lines - quarantined - outside_window - in_accounts
    passed = unaccounted == 0 and line_total == account_total
    return dg.AssetCheckResult(
        passed=bool(passed),
        description=one_line(
            f"{unaccounted:,} raw billing lines are in no account, not quarantined and not outside the window "
            f"({raw_lines:,} raw = {quarantined:,} quarantined + {outside_window:,} outside + {in_accounts:,} in "
            "accounts)"
            if unaccounted
            else None,
            f"the accounts' billing {account_total} <> the clean lines' billing {line_total}"
            if line_total != account_total
            else None,
        ),
        metadata={
            "raw_lines": raw_lines,
            "quarantined_lines": quarantined,
            "lines_outside_window": outside_window,
            "lines_in_accounts": in_accounts,
            "unaccounted_lines": unaccounted,
            "billing_of_clean_lines": str(line_total),
            "billing_of_accounts": str(account_total),
        },
    )


@check(["marts", "client_crosswalk"])
def every_client_record_once(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Each usable client record is in the crosswalk exactly once; raw records = usable + excluded."""
    with warehouse.connect() as conn:
        raw_records, usable, excluded, crosswalk, distinct_keys = _one(
            conn,
            """
            select
                (select count(*) from raw.clients),
                (select count(*) from staging.stg_clients__records),
                (select count(*) from staging.stg_clients__checked_records where quarantine_reason <> ''),
                (select count(*) from marts.client_crosswalk),
                (select count(distinct (source_system, source_client_id)) from marts.client_crosswalk)
            """,
        )
    passed = raw_records == usable + excluded and usable == crosswalk == distinct_keys
    return dg.AssetCheckResult(
        passed=bool(passed),
        description=one_line(
            f"{raw_records:,} raw client records <> {usable:,} usable + {excluded:,} excluded"
            if raw_records != usable + excluded
            else None,
            f"{usable:,} usable records but {crosswalk:,} crosswalk rows for {distinct_keys:,} distinct records"
            if not usable == crosswalk == distinct_keys
            else None,
        ),
        metadata={
            "raw_records": raw_records,
            "usable_records": usable,
            "excluded_records": excluded,
            "crosswalk_rows": crosswalk,
            "distinct_keys": distinct_keys,
        },
    )


@check(["marts", "quarantined_rows"])
def no_row_dropped_silently(warehouse: Warehouse) -> dg.AssetCheckResult:
    """For every transactional input, rows in = clean rows + rows excluded in marts.quarantined_rows."""
    with warehouse.connect() as conn:
        counts = {}
        for input_name, raw, checked in (
            ("billing", "raw.billing_lines", "staging.stg_billing__checked_lines"),
            ("clients", "raw.clients", "staging.stg_clients__checked_records"),
            ("engagement", "raw.engagement_events", "staging.stg_engagement__checked_events"),
            ("opportunities", "raw.opportunities", "intermediate.int_deals_checked"),
        ):
            counts[input_name] = _one(
                conn,
                f"""
                select
                    (select count(*) from {raw}),
                    (select count(*) from {checked} where quarantine_reason = ''),
                    (select count(*) from marts.quarantined_rows where input_name = $input_name and action = 'excluded')
                """,
                {"input_name": input_name},
            )
    passed = all(rows_in == clean + excluded for rows_in, clean, excluded in counts.values())
    return dg.AssetCheckResult(
        passed=passed,
        description=one_line(
            *(
                f"{name}: {rows_in:,} rows in <> {clean:,} clean + {excluded:,} excluded in marts.quarantined_rows"
                for name, (rows_in, clean, excluded) in counts.items()
                if rows_in != clean + excluded
            )
        ),
        metadata={
            f"{name}_in_clean_excluded": dg.MetadataValue.text(" / ".join(f"{v:,}" for v in values))
            for name, values in counts.items()
        },
    )


@check(["intermediate", "int_reporting_windows_resolved"])
def reporting_window_is_set(warehouse: Warehouse) -> dg.AssetCheckResult:
    """The as-of date is known: ALMS_AS_OF is set or the billing files have at least one valid, past invoice date."""
    with warehouse.connect() as conn:
        as_of, start, latest = _one(
            conn,
            "select as_of_date, window_start_date, latest_invoice_date from intermediate.int_reporting_windows_resolved",
        )
    return dg.AssetCheckResult(
        passed=as_of is not None,
        description=None
        if as_of is not None
        else "no billing line has a valid invoice_date up to today, so the as-of date cannot be inferred; "
        "check the billing files or set ALMS_AS_OF=YYYY-MM-DD",
        metadata={"as_of_date": str(as_of), "window_start_date": str(start), "latest_invoice_date": str(latest)},
    )


@check(["marts", "account_scores"])
def scores_explain_themselves(warehouse: Warehouse) -> dg.AssetCheckResult:
    """One score per account of marts.accounts; every score is the sum of its criteria's contributions (so "why is
    this account high?" always has a complete answer) and lies within 0-100."""
    contributions = " + ".join(f"coalesce({c}_contribution, 0)" for c in CRITERIA)
    with warehouse.connect() as conn:
        rows, distinct, accounts, unexplained, out_of_range = _one(
            conn,
            f"""
            select
                count(*),
                count(distinct account_id),
                (select count(*) from marts.accounts),
                count(*) filter (where abs(({contributions}) - priority_score) > 1e-6),
                count(*) filter (where priority_score < 0 or priority_score > 100)
            from marts.account_scores
            """,
        )
    return dg.AssetCheckResult(
        passed=bool(rows == distinct == accounts and unexplained == 0 and out_of_range == 0),
        description=one_line(
            f"{rows:,} scores for {distinct:,} distinct accounts of {accounts:,} in marts.accounts"
            if not rows == distinct == accounts
            else None,
            f"{unexplained:,} scores are not the sum of their criteria's contributions" if unexplained else None,
            f"{out_of_range:,} scores lie outside 0-100" if out_of_range else None,
        ),
        metadata={
            "scored_accounts": rows,
            "accounts": accounts,
            "scores_not_equal_to_contributions": unexplained,
            "scores_out_of_range": out_of_range,
        },
    )


@check(["marts", "seller_account_lists"])
def seller_list_limits(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Every account is listed once; no seller has more targets or leads than the method allows (MAX_TARGETS,
    MAX_LEADS of the scoring rules: 9 and 10); key accounts are never targets."""
    with warehouse.connect() as conn:
        listed, accounts, max_targets, max_leads, key_targets = _one(
            conn,
            """
            with per_seller as (
                select
                    owner_id,
                    count(*) filter (where designation = 'target') as targets,
                    count(*) filter (where designation = 'lead') as leads
                from marts.seller_account_lists
                group by owner_id
            )
            select
                (select count(distinct account_id) from marts.seller_account_lists where row_type = 'account'),
                (select count(*) from marts.accounts),
                (select coalesce(max(targets), 0) from per_seller),
                (select coalesce(max(leads), 0) from per_seller),
                (select count(*) from marts.seller_account_lists where designation_computed = 'target' and is_key_account)
            """,
        )
    return dg.AssetCheckResult(
        passed=bool(listed == accounts and max_targets <= MAX_TARGETS and max_leads <= MAX_LEADS and key_targets == 0),
        description=one_line(
            f"{listed:,} accounts listed of {accounts:,} in marts.accounts" if listed != accounts else None,
            f"a seller has {max_targets} targets (at most {MAX_TARGETS})" if max_targets > MAX_TARGETS else None,
            f"a seller has {max_leads} leads (at most {MAX_LEADS})" if max_leads > MAX_LEADS else None,
            f"{key_targets:,} key accounts are recommended as targets" if key_targets else None,
        ),
        metadata={
            "listed_accounts": listed,
            "accounts": accounts,
            "most_targets_of_a_seller": max_targets,
            "most_leads_of_a_seller": max_leads,
            "key_accounts_recommended_as_target": key_targets,
        },
    )


@check(["marts", "account_overrides"], blocking=False)
def overrides_all_applied(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Warns when an override was not applied (expired, or naming an unknown client record): someone should renew
    or remove it. Which rows: marts.account_overrides where status <> 'applied'."""
    with warehouse.connect() as conn:
        counts = dict(conn.sql("select status, count(*) from marts.account_overrides group by all").fetchall())
    not_applied = sum(v for k, v in counts.items() if k != "applied")
    return dg.AssetCheckResult(
        passed=not_applied == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=None if not_applied == 0 else f"{not_applied} override(s) not applied; see marts.account_overrides",
        metadata={status: count for status, count in sorted(counts.items())} or {"overrides": 0},
    )


# Raw tables per input of marts.input_files: the rows of each file are counted here again, from the raw tables.
_RAW_TABLES = {
    "billing": "raw.billing_lines",
    "clients": "raw.clients",
    "engagement": "raw.engagement_events",
    "opportunities": "raw.opportunities",
    "prospects": "raw.prospects",
    "sellers": "raw.sellers",
    "fx_rates": "raw.fx_rates",
    "match_overrides": "raw.match_overrides",
    "seller_picks": "raw.seller_picks",
    "overrides": "raw.account_overrides",
    "seller_feedback": "raw.seller_feedback",
}


@check(["marts", "input_files"])
def every_input_row_accounted(warehouse: Warehouse) -> dg.AssetCheckResult:
    """Per file: rows read (counted again in the raw table) = rows loaded + quarantined + outside the window; the
    quarantined rows are the file's excluded rows in marts.quarantined_rows; every file the raw tables hold has its row
    and is in the input folder (rows of a file that is gone would count in no file); the billing loaded from the
    files is the billing of marts.accounts."""
    raw_counts = " union all ".join(
        f"select ? as input_name, source_file, count(*) as rows_in from {table} group by source_file"
        for table in _RAW_TABLES.values()
    )
    with warehouse.connect() as conn:
        wrong = conn.execute(
            f"""
            with raw_counts as ({raw_counts}),
            excluded as (
                select input_name, source_file, count(*) as rows_excluded
                from marts.quarantined_rows where action = 'excluded' group by all
            )
            select
                coalesce(files.input_name, raw_counts.input_name),
                coalesce(files.source_file, raw_counts.source_file),
                coalesce(raw_counts.rows_in, 0),
                files.rows_read, files.rows_loaded, files.rows_quarantined, files.rows_outside_window,
                coalesce(excluded.rows_excluded, 0), coalesce(files.is_in_folder, false)
            from marts.input_files as files
            full outer join raw_counts
                on raw_counts.input_name = files.input_name and raw_counts.source_file = files.source_file
            left join excluded
                on excluded.input_name = files.input_name and excluded.source_file = files.source_file
            where files.source_file is null
                or not files.is_in_folder
                or coalesce(raw_counts.rows_in, 0) <> files.rows_read
                or files.rows_read <> files.rows_loaded + files.rows_quarantined + files.rows_outside_window
                or files.rows_quarantined <> coalesce(excluded.rows_excluded, 0)
            order by 1, 2
            """,
            list(_RAW_TABLES),
        ).fetchall()
        files, listed, rows, loaded, quarantined, outside, billing_loaded, billing_accounts = _one(
            conn,
            """
            select
                count(*),
                (select count(*) from raw.input_files),
                sum(rows_read), sum(rows_loaded), sum(rows_quarantined), sum(rows_outside_window),
                coalesce(sum(billing_loaded), 0),
                (select coalesce(sum(billing_12m), 0) from marts.accounts)
            from marts.input_files
            """,
        )
    problems = [file for _, file, *_ in wrong]
    description = None
    if wrong:
        name, file, rows_in, read, ok, out_q, out_w, excluded, in_folder = wrong[0]
        description = (
            f"{file}: {rows_in} rows in the raw table, {read} read = {ok} loaded + {out_q} quarantined + {out_w} "
            f"outside the window, {excluded} excluded in marts.quarantined_rows"
            + ("" if in_folder else "; the file is not in the input folder")
            + (f" ({len(wrong) - 1} more files like it)" if len(wrong) > 1 else "")
        )
    elif billing_loaded != billing_accounts:
        description = f"billing loaded from the files {billing_loaded} <> billing of marts.accounts {billing_accounts}"
    return dg.AssetCheckResult(
        passed=not wrong and billing_loaded == billing_accounts,
        description=description,
        metadata={
            "files": files,
            "files_in_folder": listed,
            "rows_read": int(rows or 0),
            "rows_loaded": int(loaded or 0),
            "rows_quarantined": int(quarantined or 0),
            "rows_outside_window": int(outside or 0),
            "billing_loaded": str(billing_loaded),
            "billing_of_accounts": str(billing_accounts),
            "files_not_accounted": dg.MetadataValue.json(problems[:50]),
        },
    )


def _completeness_check(warehouse: Warehouse, settings: AlmsSettings, table: str, measure: str, median: str):
    input_name = table.removesuffix("_completeness")
    with warehouse.connect() as conn:
        gaps = conn.sql(
            f"select source_system, strftime(month_start_date, '%Y-%m'), status, {measure}, {median} from marts.{table} "
            "where is_blocking order by month_start_date, source_system"
        ).fetchall()
        statuses = dict(conn.sql(f"select status, count(*) from marts.{table} group by all").fetchall())
        accepted = [row for row in accepted_gaps_in_use(conn) if row["input"] == input_name]
    unit = settings.reporting_currency if input_name == "billing" else "events"
    return dict(
        passed=not gaps,
        description=describe_gaps(gaps, unit, settings.min_month_share, input_name) if gaps else None,
        metadata={
            "gaps": dg.MetadataValue.json([f"{s}:{m} {st}" for s, m, st, *_ in gaps]),
            "accepted_gaps": dg.MetadataValue.json(accepted),
            "accept_gaps_setting": settings.accept_gaps or "(unset)",
            "min_month_share": settings.min_month_share,
            **{f"months_{status}": count for status, count in sorted(statuses.items())},
        },
    )


@check(["marts", "billing_completeness"])
def billing_months_complete(warehouse: Warehouse, settings: AlmsSettings) -> dg.AssetCheckResult:
    """No source system is missing a month of billing, or bills less than ALMS_MIN_MONTH_SHARE of its trailing
    median, unless ALMS_ACCEPT_GAPS accepts it: a missing extract would otherwise lower every account's billing and
    the key level without a word. The accepted gaps are in the metadata and in marts.billing_completeness."""
    return dg.AssetCheckResult(
        **_completeness_check(warehouse, settings, "billing_completeness", "billing_amount", "trailing_median")
    )


@check(["marts", "engagement_completeness"], blocking=False)
def engagement_months_complete(warehouse: Warehouse, settings: AlmsSettings) -> dg.AssetCheckResult:
    """Warns when a source system's engagement events are missing in a month, or fall below ALMS_MIN_MONTH_SHARE
    of its trailing median (engagement feeds scores, not the key level: a warning, not a stop)."""
    return dg.AssetCheckResult(
        severity=dg.AssetCheckSeverity.WARN,
        **_completeness_check(warehouse, settings, "engagement_completeness", "events", "trailing_median"),
    )


CHECKS = [
    one_row_per_account,
    key_count_rule,
    billing_rows_conserved,
    every_client_record_once,
    no_row_dropped_silently,
    reporting_window_is_set,
    scores_explain_themselves,
    seller_list_limits,
    overrides_all_applied,
    every_input_row_accounted,
    billing_months_complete,
    engagement_months_complete,
]
