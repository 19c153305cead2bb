"""Reading the input folder: the file-level contract (which files, which columns, which encodings).

Every input is read as text, exactly as the file holds it, with two columns added: `source_file` (the path relative
to the input folder) and `source_row` (the 1-based data row in that file; for a CSV file the line number is
`source_row + 1` because of the header). Parsing values into types happens later (`assets.rules.parsing`), so a
bad value becomes a quarantine row with its reason instead of an exception.

What stops a run (an `InputError` naming the file, and the row or column where it applies): a missing folder for a
required input, a subfolder that is not a month folder (`billing/2026-03/`), a symbolic link that leads out of the
input folder, a file that cannot be read (the OS error: permissions, a symbolic link loop, a dangling link), a file
of an unsupported type, an empty file, a file in UTF-16 / UTF-32 or with classic-Mac (CR-only) line ends, a required
column missing, a duplicated column name, a row with more or fewer fields than the header, bytes that are not UTF-8,
a Parquet column of a nested or binary type. The layout and every rule are in docs/inputs.md.
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

SUPPORTED_SUFFIXES = (".csv", ".parquet")


class InputError(ValueError):
    """An input file breaks the contract in a way that must stop the run. The message names file, row and column."""


@dataclass(frozen=True)
class InputSpec:
    """One input of the contract: where its files are and which columns it has."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    is_required_input: bool = True
    descriptions: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


CLIENTS = InputSpec(
    name="clients",
    required=("source_system", "source_client_id", "name"),
    optional=(
        "domain",
        "address",
        "city",
        "postal_code",
        "country",
        "phone",
        "industry",
        "employee_count",
        "owner_id",
        "segment",
        "customer_since",
    ),
)
BILLING = InputSpec(
    name="billing",
    required=(
        "source_system",
        "invoice_id",
        "line_number",
        "source_client_id",
        "invoice_date",
        "amount",
        "currency",
    ),
)
ENGAGEMENT = InputSpec(
    name="engagement",
    required=("source_system", "source_client_id", "event_date", "event_type"),
    optional=("quantity",),
    is_required_input=False,
)
SELLERS = InputSpec(name="sellers", required=("owner_id", "seller_name"), optional=("team",), is_required_input=False)
FX_RATES = InputSpec(name="fx_rates", required=("currency", "month", "rate_to_reporting"), is_required_input=False)

MATCH_OVERRIDES = InputSpec(
    name="match_overrides",
    required=(
        "source_system_1",
        "source_client_id_1",
        "source_system_2",
        "source_client_id_2",
        "decision",
        "set_by",
        "reason",
    ),
    is_required_input=False,
)

OPPORTUNITIES = InputSpec(
    name="opportunities",
    required=("source_system", "opportunity_id", "source_client_id", "stage", "amount", "currency"),
    optional=("expected_close_date", "probability", "created_date"),
    is_required_input=False,
    descriptions={
        "source_system": "System of the client record the deal belongs to (as in clients).",
        "opportunity_id": "Deal id, unique within its system.",
        "source_client_id": "Client id in that system.",
        "stage": "prospecting, qualification, proposal, negotiation, closed_won or closed_lost (scoring.yaml stages).",
        "amount": "Deal amount in its currency, a plain decimal (12500.00).",
        "currency": "ISO 4217 code (USD, CAD, EUR, ...); converted like billing.",
        "expected_close_date": "Expected close date (ISO); past for closed deals.",
        "probability": "Win probability in percent, 0-100; empty: the stage's probability applies.",
        "created_date": "When the deal was opened (ISO).",
    },
)
PROSPECTS = InputSpec(
    name="prospects",
    required=("prospect_id", "name"),
    optional=(
        "domain",
        "address",
        "city",
        "postal_code",
        "country",
        "phone",
        "industry",
        "employee_count",
        "owner_id",
        "source",
        "created_date",
    ),
    is_required_input=False,
    descriptions={
        "prospect_id": "Prospect id, unique.",
        "name": "Organisation name.",
        "domain": "Web domain (as in clients).",
        "address": "Street address.",
        "city": "City.",
        "postal_code": "ZIP or postal code.",
        "country": "Country (US, CA, ...).",
        "phone": "Main phone number, any format.",
        "industry": "Industry (as in clients).",
        "employee_count": "Employees, a whole number.",
        "owner_id": "Seller who owns the prospect (sellers.owner_id); empty: unassigned.",
        "source": "Where the prospect came from (event, referral, ...).",
        "created_date": "When the prospect was recorded (ISO).",
    },
)
SELLER_PICKS = InputSpec(
    name="seller_picks",
    required=("owner_id", "pick_type", "reference"),
    optional=("note",),
    is_required_input=False,
    descriptions={
        "owner_id": "The seller who picks (sellers.owner_id).",
        "pick_type": "target or lead.",
        "reference": "target: a client record as source_system:source_client_id; lead: a prospect_id.",
        "note": "Free text.",
    },
)
ACCOUNT_OVERRIDES = InputSpec(
    name="overrides",
    required=("source_system", "source_client_id", "field", "value", "set_by", "reason", "valid_until"),
    is_required_input=False,
    descriptions={
        "source_system": "A client record of the account: its system.",
        "source_client_id": "A client record of the account: its id.",
        "field": "tier or designation.",
        "value": "tier: high, medium or low; designation: key, target or secondary.",
        "set_by": "Who set it (name or email).",
        "reason": "Why.",
        "valid_until": "Last day it applies (YYYY-MM-DD); after it the override is reported as expired.",
    },
)

SELLER_FEEDBACK = InputSpec(
    name="seller_feedback",
    required=("owner_id", "reference", "verdict", "date"),
    optional=("reason",),
    is_required_input=False,
    descriptions={
        "owner_id": "The seller who gives the feedback (sellers.owner_id).",
        "reference": "An account as one of its client records (source_system:source_client_id), or a prospect_id.",
        "verdict": "agree, disagree, already_working or not_reachable.",
        "reason": "Why (required with disagree).",
        "date": "When the feedback was given (YYYY-MM-DD).",
    },
)

FILE_MONTH = re.compile(r"(?<![0-9])([0-9]{4})-(0[1-9]|1[0-2])(?![0-9])")


def file_month(relative: str) -> str | None:
    """The month a file's path names (`billing/nat_erp_2026-03.csv`, `billing/2026-03/x.csv`: 2026-03), or None."""
    found = FILE_MONTH.findall(relative)
    return f"{found[-1][0]}-{found[-1][1]}" if found else None


def first_month(data_dir: Path, not_before: str = "2000-01") -> str | None:
    """The earliest month (YYYY-MM) that a billing or engagement file's path names, not before `not_before`; None
    when no file names one, or the folder cannot be listed (its layout errors are the ingest's to report)."""
    months = []
    for spec in (BILLING, ENGAGEMENT):
        try:
            paths = find_input_files(Path(data_dir), spec)
        except (InputError, OSError):
            continue
        months += [m for p in paths if (m := file_month(p.relative_to(data_dir).as_posix())) and m >= not_before]
    return min(months, default=None)


ALL_INPUTS = (
    CLIENTS,
    BILLING,
    ENGAGEMENT,
    SELLERS,
    FX_RATES,
    MATCH_OVERRIDES,
    OPPORTUNITIES,
    PROSPECTS,
    SELLER_PICKS,
    ACCOUNT_OVERRIDES,
    SELLER_FEEDBACK,
)


MONTH_FOLDER = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")


def _is_ignored(name: str) -> bool:
    return name.startswith((".", "_"))


def os_error_text(error: OSError) -> str:
    """An OS error in a few words: `Permission denied (EACCES)`."""
    code = errno.errorcode.get(error.errno or 0)
    return f"{error.strerror or error}" + (f" ({code})" if code else "")


def _checked(path: Path, root: Path, data_dir: Path) -> Path:
    """`path` after following symbolic links, checked: it can be reached (no loop, no dangling link, permission to
    read) and stays inside the input folder. Every problem is one `InputError` line naming the path."""
    relative = path.relative_to(data_dir).as_posix()
    try:
        real = Path(os.path.realpath(path, strict=True))
    except OSError as error:
        target = f" (a symbolic link to {os.readlink(path)})" if path.is_symlink() else ""
        raise InputError(f"{relative}: cannot be read: {os_error_text(error)}{target}") from None
    if real != root and not real.is_relative_to(root):
        raise InputError(
            f"{relative}: a symbolic link to {real}, outside the input folder {root}; "
            "copy the file into the input folder instead"
        )
    try:
        if real.is_dir():
            os.listdir(real)
        else:
            os.close(os.open(real, os.O_RDONLY))
    except OSError as error:
        raise InputError(f"{relative}: cannot be read: {os_error_text(error)}") from None
    return real


def _listed(folder: Path, data_dir: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError as error:
        raise InputError(
            f"{folder.relative_to(data_dir).as_posix()}/: cannot be read: {os_error_text(error)}"
        ) from None


def find_input_files(data_dir: Path, spec: InputSpec) -> list[Path]:
    """The files of one input, in name order: `<name>/*.csv|*.parquet`, `<name>/<YYYY-MM>/*.csv|*.parquet` (month
    folders) and/or `<name>.csv|.parquet`.

    Files and folders whose name starts with `.` or `_` are ignored (editor and tool droppings, an `_archive/`);
    anything else that is not read is an error: a file of an unsupported type, a subfolder that is not a month
    folder (or a folder inside a month folder), a symbolic link leading out of the input folder, a file or folder
    that cannot be read. So nothing a user put there is skipped silently.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InputError(
            f"input folder {data_dir} does not exist (set ALMS_DATA_DIR to the folder holding your inputs)"
        )
    root = Path(os.path.realpath(data_dir))
    files: list[Path] = []
    folder = data_dir / spec.name
    if folder.is_dir() or folder.is_symlink():
        _checked(folder, root, data_dir)
        for path in _listed(folder, data_dir):
            if _is_ignored(path.name):
                continue
            if _checked(path, root, data_dir).is_dir():
                if not MONTH_FOLDER.match(path.name):
                    raise InputError(
                        f"{path.relative_to(data_dir).as_posix()}/: a subfolder that is not a month folder; "
                        f"{spec.name}/ holds files and month folders named YYYY-MM ({spec.name}/2026-03/); "
                        "move its files, rename it to the month, or start its name with _ to leave it out"
                    )
                for inner in _listed(path, data_dir):
                    if _is_ignored(inner.name):
                        continue
                    if _checked(inner, root, data_dir).is_dir():
                        raise InputError(
                            f"{inner.relative_to(data_dir).as_posix()}/: a folder inside a month folder; "
                            f"month folders hold files only ({spec.name}/2026-03/*.csv)"
                        )
                    files.append(_supported(inner, data_dir, spec))
                continue
            files.append(_supported(path, data_dir, spec))
    for suffix in SUPPORTED_SUFFIXES:
        single = data_dir / f"{spec.name}{suffix}"
        if single.is_file() or single.is_symlink():
            _checked(single, root, data_dir)
            files.append(single)
    files.sort(key=lambda p: p.relative_to(data_dir).as_posix())
    if not files and spec.is_required_input:
        raise InputError(
            f"no {spec.name} files in {data_dir}: expected {spec.name}/*.csv, {spec.name}/*.parquet "
            f"or {spec.name}.csv with columns {', '.join(spec.required)}"
        )
    return files


def _supported(path: Path, data_dir: Path, spec: InputSpec) -> Path:
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise InputError(
            f"{path.relative_to(data_dir).as_posix()}: unsupported file type {path.suffix or '(none)'!r}; "
            f"the {spec.name} folder accepts {', '.join(SUPPORTED_SUFFIXES)} files"
        )
    return path


def read_input(
    data_dir: Path, spec: InputSpec, progress: Callable[[str], None] | None = None
) -> tuple[pl.DataFrame, dict]:
    """Read every file of one input as text columns, plus `source_file` and `source_row`, into one frame.

    Returns the frame and a report: files read, rows per file, extra columns ignored, header-only files.
    """
    report = new_report()
    frames = [frame for _, frame in iter_input_files(data_dir, spec, report, progress)]
    if not frames:
        return empty_text_frame(spec), report
    return pl.concat(frames, how="vertical"), report


def new_report() -> dict:
    return {"files": {}, "ignored_columns": {}, "files_without_rows": []}


def empty_text_frame(spec: InputSpec) -> pl.DataFrame:
    return pl.DataFrame(
        schema={"source_file": pl.String, "source_row": pl.Int64, **{c: pl.String for c in spec.columns}}
    )


def iter_input_files(
    data_dir: Path,
    spec: InputSpec,
    report: dict,
    progress: Callable[[str], None] | None = None,
    only: Callable[[str], bool] | None = None,
) -> Iterator[tuple[str, pl.DataFrame]]:
    """Each file of one input as (relative path, text frame), one at a time, so memory holds one file, not all.
    `only` picks files by their relative path (a monthly partition reads its month's files)."""
    data_dir = Path(data_dir)
    for path in find_input_files(data_dir, spec):
        relative = path.relative_to(data_dir).as_posix()
        if only is not None and not only(relative):
            continue
        frame = read_input_file(path, relative, spec, report)
        if frame.height == 0:
            report["files_without_rows"].append(relative)
        report["files"][relative] = frame.height
        if progress:
            progress(f"{spec.name}: read {frame.height:,} rows from {relative}")
        yield relative, frame


def read_input_file(path: Path, relative: str, spec: InputSpec, report: dict) -> pl.DataFrame:
    """One file of one input as text: the contract's columns (an absent optional one as nulls), with `source_file`
    and `source_row`; columns outside the contract are noted in `report`."""
    frame = _conform_columns(read_text_table(path, relative), spec, relative, report)
    return with_source(frame, relative).select("source_file", "source_row", *spec.columns)


def with_source(frame: pl.DataFrame, relative: str) -> pl.DataFrame:
    """`source_row` (1-based, in the file's order) and `source_file` added to the rows of one file."""
    return frame.with_row_index("source_row", offset=1).with_columns(
        pl.col("source_row").cast(pl.Int64), pl.lit(relative).alias("source_file")
    )


def read_text_table(path: Path, relative: str) -> pl.DataFrame:
    """One CSV or Parquet file with every column as text and normalised header names (trimmed, lower case)."""
    try:
        if path.stat().st_size == 0:
            raise InputError(f"{relative}: empty file (0 bytes); expected a header row and data rows")
        if path.suffix.lower() == ".parquet":
            frame = _read_parquet_text(path, relative)
        else:
            frame = _read_csv_text(path, relative)
    except OSError as error:  # a file that vanished or became unreadable between listing and reading
        raise InputError(f"{relative}: cannot be read: {os_error_text(error)}") from None
    names = [name.strip().lower() for name in frame.columns]
    _fail_on_repeated_names(names, relative)
    return frame.rename(dict(zip(frame.columns, names, strict=True)))


def checked_header(path: Path, relative: str, spec: InputSpec, report: dict) -> list[str] | None:
    """The column names of a file (trimmed, lower case), checked as `read_input_file` checks them before any row is
    read: size, encoding and line ends, repeated names, required columns (extra ones noted in `report`). None when
    this cannot be told without reading the file (a header that is not UTF-8 or is empty, a Parquet file polars
    cannot open): `read_input_file` then reads it, with its own message."""
    try:
        if path.stat().st_size == 0:
            raise InputError(f"{relative}: empty file (0 bytes); expected a header row and data rows")
        if path.suffix.lower() == ".parquet":
            header = list(pl.read_parquet_schema(path))
        else:
            _check_encoding_and_line_ends(path, relative)
            header = _csv_header(path)
    except InputError:
        raise
    except OSError as error:
        raise InputError(f"{relative}: cannot be read: {os_error_text(error)}") from None
    except Exception:  # not UTF-8, not a Parquet file: read_input_file names the problem
        return None
    if not header:
        return None
    _fail_on_repeated_names(header, relative)
    names = [name.strip().lower() for name in header]
    _conform_columns(pl.DataFrame(schema=dict.fromkeys(names, pl.String)), spec, relative, report)
    return names


def _read_parquet_text(path: Path, relative: str) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(path)
    except Exception as error:  # polars raises several exception types for a broken file
        raise InputError(f"{relative}: not a readable Parquet file ({_first_line(error)})") from None
    for name, dtype in frame.schema.items():
        if dtype.is_nested() or dtype in (pl.Binary, pl.Object):
            raise InputError(
                f"{relative}: column {name} has type {dtype}, which has no text form; "
                "store it as text, a number or a date"
            )
    return frame.with_columns(_as_text(name, dtype) for name, dtype in frame.schema.items())


def _read_csv_text(path: Path, relative: str) -> pl.DataFrame:
    _check_encoding_and_line_ends(path, relative)
    try:
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8", null_values=[""], raise_if_empty=True)
    except pl.exceptions.NoDataError:
        raise InputError(f"{relative}: empty file; expected a header row and data rows") from None
    except pl.exceptions.ComputeError as error:
        raise InputError(_diagnose_csv(path, relative, error)) from None
    header = _csv_header(path)
    # polars renames a repeated header name (x_duplicated_0): check the header as the file writes it
    _fail_on_repeated_names(header, relative)
    if frame.height and frame.width > 1 and frame[frame.columns[-1]].null_count():
        # polars pads a row with fewer fields than the header with nulls; only a row whose last value is missing
        # can be one, so the exact check (which reads the file again) runs only then
        _fail_on_short_rows(path, relative)
    return frame


def _check_encoding_and_line_ends(path: Path, relative: str) -> None:
    """What polars would read as garbage without an error: UTF-16 / UTF-32 text and classic-Mac line ends."""
    with path.open("rb") as handle:
        head = handle.read(65536)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(
            f"{relative}: the file is UTF-16 or UTF-32 (it starts with a byte-order mark {head[:2].hex(' ').upper()}); "
            "save it as UTF-8 (for example from Excel: 'CSV UTF-8')"
        )
    if b"\x00" in head.split(b"\n", 1)[0]:
        raise InputError(
            f"{relative}: line 1 (the header) holds NUL bytes, as UTF-16 or UTF-32 text does; "
            "save the file as UTF-8 (for example from Excel: 'CSV UTF-8')"
        )
    if b"\r" in head and b"\n" not in head:
        raise InputError(
            f"{relative}: lines end with CR only (classic Mac line ends), so the whole file reads as one line; "
            "save it with LF or CRLF line ends"
        )


def _fail_on_short_rows(path: Path, relative: str) -> None:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        for row in reader:
            if 0 < len(row) < len(header):  # a blank line (no field at all) is a row of empty values
                line = reader.line_num
                raise InputError(
                    f"{relative}: line {line} (data row {line - 1}) has {len(row)} fields but the header has "
                    f"{len(header)}"
                )


def _csv_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle), [])


def _fail_on_repeated_names(header: list[str], relative: str) -> None:
    names = [name.strip().lower() for name in header]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InputError(f"{relative}: column {', '.join(repeated)} appears more than once in the header")


def _as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    column = pl.col(name)
    if dtype == pl.String:
        return column
    if dtype.is_temporal() and dtype != pl.Date:
        return column.dt.strftime("%Y-%m-%dT%H:%M:%S").alias(name)
    return column.cast(pl.String).alias(name)


def _conform_columns(frame: pl.DataFrame, spec: InputSpec, relative: str, report: dict) -> pl.DataFrame:
    missing = [c for c in spec.required if c not in frame.columns]
    if missing:
        hint = ""
        if frame.width == 1:
            for separator, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
                if separator in frame.columns[0]:
                    hint = f"; the header looks {name}-separated, and alms reads comma-separated files"
                    break
        raise InputError(
            f"{relative}: required column {', '.join(missing)} is missing "
            f"(found: {', '.join(frame.columns) or 'no columns'}; required for {spec.name}: {', '.join(spec.required)})"
            + hint
        )
    extra = [c for c in frame.columns if c not in spec.columns]
    if extra:
        report["ignored_columns"][relative] = extra
    absent = [c for c in spec.optional if c not in frame.columns]
    return frame.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in absent)


def _diagnose_csv(path: Path, relative: str, error: Exception) -> str:
    """Turn a polars CSV error into a message with the line: this runs only on the failure path."""
    message = _first_line(error)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        line = raw.count(b"\n", 0, bad.start) + 1
        return (
            f"{relative}: line {line} (data row {line - 1}) is not valid UTF-8 (byte {raw[bad.start]:#04x}); "
            "save the file as UTF-8 (for example from Excel: 'CSV UTF-8')"
        )
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    for row in reader:
        if len(row) != len(header) and row:
            line = reader.line_num
            quote = "; a quote in it may not be closed" if any("," in f or "\n" in f for f in row) else ""
            return (
                f"{relative}: line {line} (data row {line - 1}) has {len(row)} fields but the header has "
                f"{len(header)}{quote}"
            )
    return (
        f"{relative}: could not be read as CSV ({message}); check its quotes (a value holding a comma, a quote or a "
        "line break must be quoted, and a quote inside it doubled)"
    )


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


INVENTORY_SCHEMA = {
    "input_name": pl.String,
    "source_file": pl.String,
    "file_month": pl.String,
    "size_bytes": pl.Int64,
    "modified_at": pl.Datetime("us"),
}


def list_input_files(data_dir: Path) -> pl.DataFrame:
    """Every file of every input in the folder (the layout checked as `find_input_files` checks it): input name,
    path relative to the input folder, the month its path names, size and modification time (UTC)."""
    data_dir = Path(data_dir)
    rows = []
    for spec in ALL_INPUTS:
        for path in find_input_files(data_dir, spec):
            relative = path.relative_to(data_dir).as_posix()
            try:
                stat = path.stat()
            except OSError as error:
                raise InputError(f"{relative}: cannot be read: {os_error_text(error)}") from None
            modified = dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC).replace(tzinfo=None)
            rows.append((spec.name, relative, file_month(relative), stat.st_size, modified))
    return pl.DataFrame(rows, schema=INVENTORY_SCHEMA, orient="row")
