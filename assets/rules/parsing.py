"""Typing the text read from input files, without losing a row.

Transactional inputs (billing lines, client records, engagement events) keep every row: a value that does not parse
becomes null next to its original text, and the staging models turn that into a quarantine reason. Reference inputs
(sellers, FX rates) are small and every value matters to every account, so a bad row there stops the run with an
`InputError` naming file, row and column.

Value formats (documented in docs/inputs.md):
- text: trimmed; control characters (NUL, tab, CR, LF, DEL, the C1 range, zero-width space, line and paragraph
  separators, bidirectional overrides, a stray byte-order mark) are replaced, each run by one space, so they never
  reach a published table or the CRM file. Transactional rows keep the cleaned value and name the column in
  `cleaned_fields` (reported in marts.quarantined_rows as control_characters / kept_cleaned); reference inputs (sellers, FX
  rates, overrides, picks, match overrides) stop the run instead, naming file, row and column.
- dates: ISO 8601, `YYYY-MM-DD`, optionally followed by a valid clock time (`T` or a space, `HH:MM`, `HH:MM:SS`,
  optional fraction and `Z` / `+HH:MM` offset), the whole value; the date is taken as written (an offset is not
  applied). Nothing else is guessed, because `03/04/2026` means different days in different countries.
- amounts: a plain decimal with a point, optional sign, at most 6 decimals (`-1234.50`); no thousands separators.
- months (FX rates): `YYYY-MM` (or any ISO date in that month).
"""

from __future__ import annotations

import polars as pl

from assets.rules.inputs import InputError

AMOUNT = pl.Decimal(38, 6)
FX_RATE = pl.Decimal(38, 10)
_AMOUNT_PATTERN = r"^[+-]?[0-9]{1,15}(\.[0-9]{1,6})?$"
_CLOCK = r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])?"
_DATE_PATTERN = rf"^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}([T ]{_CLOCK})?$"
_INTEGER_PATTERN = r"^[+-]?[0-9]{1,18}$"
CONTROL_CHARACTERS = r"[\x00-\x1F\x7F-\x9F\x{200B}\x{2028}\x{2029}\x{202A}-\x{202E}\x{2066}-\x{2069}\x{FEFF}]"


def clean_text(name: str, has_control_characters: bool = True) -> pl.Expr:
    """Trimmed text without control characters (each run replaced by one space), with empty strings as null.
    `has_control_characters=False` (the column holds none) skips the replacement."""
    column = pl.col(name)
    if has_control_characters:
        column = column.str.replace_all(CONTROL_CHARACTERS + "+", " ")
    trimmed = column.str.strip_chars()
    return pl.when(trimmed == "").then(None).otherwise(trimmed).alias(name)


def has_control_characters(name: str) -> pl.Expr:
    return pl.col(name).str.contains(CONTROL_CHARACTERS)


def cleaned_fields(columns) -> pl.Expr:
    """The columns (comma-separated) whose text held control characters; null when none did."""
    if not columns:
        return pl.lit(None, dtype=pl.String).alias("cleaned_fields")
    listed = pl.concat_str(
        [pl.when(has_control_characters(c)).then(pl.lit(c)) for c in columns], separator=",", ignore_nulls=True
    )
    return pl.when(listed != "").then(listed).alias("cleaned_fields")


def _cleaned(text: pl.DataFrame, columns) -> pl.DataFrame:
    """Every text column cleaned (`clean_text`), with `cleaned_fields` naming the columns that held control
    characters (computed from the text as the file had it). Columns are first scanned once for any control
    character, so clean data (nearly all of it) pays for one scan per column, not for the replacement."""
    dirty = []
    if text.height:
        found = text.select(has_control_characters(c).any() for c in columns).row(0)
        dirty = [c for c, any_found in zip(columns, found, strict=True) if any_found]
    return text.with_columns(cleaned_fields(dirty), *(clean_text(c, c in dirty) for c in columns))


def parse_date(name: str) -> pl.Expr:
    """An ISO date, optionally with a valid clock time; null for anything else (the whole value must match)."""
    text = pl.col(name).str.strip_chars()
    return (
        pl.when(text.str.contains(_DATE_PATTERN))
        .then(text.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False))
        .otherwise(None)
    )


def parse_amount(name: str) -> pl.Expr:
    text = pl.col(name).str.strip_chars()
    return pl.when(text.str.contains(_AMOUNT_PATTERN)).then(text.cast(AMOUNT, strict=False)).otherwise(None)


def parse_integer(name: str) -> pl.Expr:
    text = pl.col(name).str.strip_chars()
    return pl.when(text.str.contains(_INTEGER_PATTERN)).then(text.cast(pl.Int64, strict=False)).otherwise(None)


def _invalid(name: str, parsed: pl.Expr) -> pl.Expr:
    """True where the text had a value that did not parse."""
    return pl.col(name).is_not_null() & parsed.is_null()


def parse_billing_lines(text: pl.DataFrame) -> pl.DataFrame:
    """Billing lines: every row kept; `invoice_date` / `amount` are null where their text did not parse."""
    cleaned = _cleaned(text, [c for c in text.columns if c not in ("source_file", "source_row")])
    return cleaned.select(
        "source_file",
        "source_row",
        "source_system",
        "invoice_id",
        "line_number",
        "source_client_id",
        pl.col("invoice_date").alias("invoice_date_text"),
        parse_date("invoice_date").alias("invoice_date"),
        pl.col("amount").alias("amount_text"),
        parse_amount("amount").alias("amount"),
        pl.col("currency").str.to_uppercase().alias("currency"),
        "cleaned_fields",
    )


def parse_client_records(text: pl.DataFrame) -> pl.DataFrame:
    """Client records: optional values that do not parse become null and are listed in `invalid_fields`."""
    cleaned = _cleaned(text, [c for c in text.columns if c not in ("source_file", "source_row")])
    employee_count = parse_integer("employee_count")
    customer_since = parse_date("customer_since")
    segment = pl.col("segment").str.to_lowercase()
    segment_ok = segment.is_in(["local", "national"])
    invalid = pl.concat_list(
        pl.when(_invalid("employee_count", employee_count) | (employee_count < 0)).then(pl.lit("employee_count")),
        pl.when(_invalid("customer_since", customer_since)).then(pl.lit("customer_since")),
        pl.when(pl.col("segment").is_not_null() & ~segment_ok).then(pl.lit("segment")),
    ).list.drop_nulls()
    return cleaned.select(
        "source_file",
        "source_row",
        "source_system",
        "source_client_id",
        "name",
        "domain",
        "address",
        "city",
        "postal_code",
        "country",
        "phone",
        "industry",
        pl.when(employee_count >= 0).then(employee_count).alias("employee_count"),
        "owner_id",
        pl.when(segment_ok).then(segment).alias("segment"),
        customer_since.alias("customer_since"),
        pl.when(invalid.list.len() > 0).then(invalid.list.join(",")).alias("invalid_fields"),
        "cleaned_fields",
    )


def parse_engagement_events(text: pl.DataFrame) -> pl.DataFrame:
    """Engagement events: every row kept; a missing quantity counts as 1, an unparseable one stays null."""
    cleaned = _cleaned(text, ("source_system", "source_client_id", "event_type", "event_date", "quantity"))
    quantity = parse_integer("quantity")
    return cleaned.select(
        "source_file",
        "source_row",
        "source_system",
        "source_client_id",
        pl.col("event_date").alias("event_date_text"),
        parse_date("event_date").alias("event_date"),
        pl.col("event_type").str.to_lowercase().alias("event_type"),
        pl.col("quantity").alias("quantity_text"),
        pl.when(pl.col("quantity").is_null()).then(pl.lit(1, pl.Int64)).otherwise(quantity).alias("quantity"),
        "cleaned_fields",
    )


def parse_sellers(text: pl.DataFrame) -> pl.DataFrame:
    """Sellers: reference data, so a missing name or a repeated owner_id stops the run."""
    _fail_on_control_characters(text, "sellers", ["owner_id", "seller_name", "team"])
    sellers = text.with_columns(clean_text(c) for c in ("owner_id", "seller_name", "team"))
    _fail_on_nulls(sellers, "sellers", ["owner_id", "seller_name"])
    _fail_on_duplicates(sellers, "sellers", ["owner_id"])
    return sellers.select("source_file", "source_row", "owner_id", "seller_name", "team")


def parse_fx_rates(text: pl.DataFrame) -> pl.DataFrame:
    """FX rates: one positive rate per currency and month, else the run stops (a wrong rate misstates every amount)."""
    _fail_on_control_characters(text, "fx_rates", ["currency", "month", "rate_to_reporting"])
    rates = text.with_columns(clean_text(c) for c in ("currency", "month", "rate_to_reporting")).with_columns(
        pl.col("currency").str.to_uppercase()
    )
    _fail_on_nulls(rates, "fx_rates", ["currency", "month", "rate_to_reporting"])
    month_text = pl.col("month")
    month = (
        pl.when(month_text.str.contains(r"^[0-9]{4}-[0-9]{2}$"))
        .then((month_text + "-01").str.to_date("%Y-%m-%d", strict=False))
        .otherwise(parse_date("month").dt.month_start())
    )
    rate = pl.col("rate_to_reporting").cast(FX_RATE, strict=False)
    typed = rates.with_columns(month.alias("month_start"), rate.alias("rate"))
    _fail_where(typed, "fx_rates", "month", pl.col("month_start").is_null(), "is not a month (expected YYYY-MM)")
    _fail_where(typed, "fx_rates", "currency", ~pl.col("currency").str.contains(r"^[A-Z]{3}$"), "is not an ISO code")
    _fail_where(
        typed,
        "fx_rates",
        "rate_to_reporting",
        pl.col("rate").is_null() | (pl.col("rate") <= 0),
        "is not a positive number",
    )
    _fail_on_duplicates(typed, "fx_rates", ["currency", "month_start"])
    return typed.select(
        "source_file",
        "source_row",
        "currency",
        pl.col("month_start").alias("month"),
        pl.col("rate").alias("rate_to_reporting"),
    )


def parse_match_overrides(text: pl.DataFrame) -> pl.DataFrame:
    """Match overrides: must_link / cannot_link between two client records, with who and why. Every value is
    required; a decision other than must_link or cannot_link stops the run."""
    columns = [c for c in text.columns if c not in ("source_file", "source_row")]
    _fail_on_control_characters(text, "match_overrides", columns)
    overrides = text.with_columns(clean_text(c) for c in columns).with_columns(
        pl.col("decision").str.to_lowercase().str.replace_all(r"[ -]", "_")
    )
    _fail_on_nulls(overrides, "match_overrides", columns)
    _fail_where(
        overrides,
        "match_overrides",
        "decision",
        ~pl.col("decision").is_in(["must_link", "cannot_link"]),
        "is not a decision (use must_link or cannot_link)",
    )
    return overrides.select("source_file", "source_row", *columns)


def parse_opportunities(text: pl.DataFrame) -> pl.DataFrame:
    """Opportunities (deals): every row kept; values that do not parse are null next to their text and the staging
    model quarantines the row with the reason. `probability` is a percent (0-100); `stage` is lower case with
    spaces and hyphens as underscores ("Closed Won" -> closed_won)."""
    cleaned = _cleaned(
        text,
        (
            "source_system",
            "opportunity_id",
            "source_client_id",
            "stage",
            "amount",
            "currency",
            "expected_close_date",
            "probability",
            "created_date",
        ),
    )
    probability = pl.col("probability").cast(pl.Float64, strict=False)
    return cleaned.select(
        "source_file",
        "source_row",
        "source_system",
        "opportunity_id",
        "source_client_id",
        pl.col("stage").str.to_lowercase().str.replace_all(r"[ -]+", "_").alias("stage"),
        pl.col("amount").alias("amount_text"),
        parse_amount("amount").alias("amount"),
        pl.col("currency").str.to_uppercase().alias("currency"),
        pl.col("expected_close_date").alias("expected_close_date_text"),
        parse_date("expected_close_date").alias("expected_close_date"),
        pl.col("probability").alias("probability_text"),
        probability.alias("probability"),
        pl.col("created_date").alias("created_date_text"),
        parse_date("created_date").alias("created_date"),
        "cleaned_fields",
    )


def parse_prospects(text: pl.DataFrame) -> pl.DataFrame:
    """Prospects (lead candidates): a missing prospect_id or name, or a repeated prospect_id, stops the run (a lead
    must be addressable); an unparseable employee count becomes null and is listed in `invalid_fields`."""
    cleaned = _cleaned(text, [c for c in text.columns if c not in ("source_file", "source_row")])
    _fail_on_nulls(cleaned, "prospects", ["prospect_id", "name"])
    _fail_on_duplicates(cleaned, "prospects", ["prospect_id"])
    employee_count = parse_integer("employee_count")
    created_date = parse_date("created_date")
    invalid = pl.concat_str(
        [
            pl.when(_invalid("employee_count", employee_count) | (employee_count < 0)).then(pl.lit("employee_count")),
            pl.when(_invalid("created_date", created_date)).then(pl.lit("created_date")),
        ],
        separator=",",
        ignore_nulls=True,
    )
    return cleaned.select(
        "source_file",
        "source_row",
        "prospect_id",
        "name",
        "domain",
        "address",
        "city",
        "postal_code",
        "country",
        "phone",
        "industry",
        pl.when(employee_count >= 0).then(employee_count).alias("employee_count"),
        "owner_id",
        pl.col("source").alias("lead_source"),
        created_date.alias("created_date"),
        pl.when(invalid != "").then(invalid).alias("invalid_fields"),
        "cleaned_fields",
    )


def parse_seller_picks(text: pl.DataFrame) -> pl.DataFrame:
    """Sellers' own targets and leads, as text: the rules (limits, ownership) are checked against the accounts."""
    _fail_on_control_characters(text, "seller_picks", ["owner_id", "pick_type", "reference", "note"])
    return text.with_columns(clean_text(c) for c in ("owner_id", "pick_type", "reference", "note")).select(
        "source_file", "source_row", "owner_id", pl.col("pick_type").str.to_lowercase(), "reference", "note"
    )


def parse_account_overrides(text: pl.DataFrame) -> pl.DataFrame:
    """Front-line overrides of tier or designation, as text: checked against the as-of date and the accounts."""
    columns = ("source_system", "source_client_id", "field", "value", "set_by", "reason", "valid_until")
    _fail_on_control_characters(text, "overrides", list(columns))
    return text.with_columns(clean_text(c) for c in columns).select("source_file", "source_row", *columns)


def _fail_where(frame: pl.DataFrame, input_name: str, column: str, condition: pl.Expr, problem: str) -> None:
    bad = frame.filter(condition)
    if bad.height:
        first = bad.row(0, named=True)
        raise InputError(
            f"{first['source_file']}: row {first['source_row']}, column {column}: {first[column]!r} {problem}"
            + (f" ({bad.height - 1} more rows like it)" if bad.height > 1 else "")
        )


def _fail_on_control_characters(frame: pl.DataFrame, input_name: str, columns: list[str]) -> None:
    """Reference data: a control character (NUL, tab, line break, ...) in a value stops the run, naming it."""
    for column in columns:
        _fail_where(
            frame,
            input_name,
            column,
            has_control_characters(column),
            "holds a control character; remove it (reference data is not cleaned automatically)",
        )


def _fail_on_nulls(frame: pl.DataFrame, input_name: str, columns: list[str]) -> None:
    for column in columns:
        _fail_where(frame, input_name, column, pl.col(column).is_null(), "is empty; a value is required")


def _fail_on_duplicates(frame: pl.DataFrame, input_name: str, key: list[str]) -> None:
    repeated = frame.filter(pl.struct(key).is_duplicated()).sort("source_file", "source_row")
    if repeated.height:
        first = repeated.row(0, named=True)
        again = repeated.filter(pl.all_horizontal(pl.col(c) == first[c] for c in key)).row(1, named=True)
        raise InputError(
            f"{first['source_file']}: row {first['source_row']} and {again['source_file']}: row {again['source_row']} "
            f"have the same {' + '.join(key)} ({', '.join(str(first[c]) for c in key)}); {input_name} needs one row per key"
        )
