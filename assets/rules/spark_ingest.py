"""Raw ingest on Spark (ALMS_ENGINE=spark, docs/spark.md): a transactional input's files read by Spark's CSV reader,
typed and validated on the executors by the DuckDB engine's own code, written as Parquet.

One source of rules: the executors run `assets.rules.parsing` (the `parse_*` functions) and the raw pandera model on
whole files' rows, through `mapInArrow`, in batches as the DuckDB engine batches them; nothing here restates how a
value parses. What Spark adds is the reading and the distribution: every CSV column as text (`header`, `multiLine`,
doubled quotes, a positional schema built from the header the driver checked), the file from `_metadata.file_path`,
and the file's order: with `multiLine` a file is one split, read in order by one task, so `source_row` is the data
row the DuckDB engine numbers, without a shuffle.

Spark's CSV reader and polars' differ on a few inputs (Spark skips blank lines and NUL-led lines, takes a stray quote
literally, pads a short row, replaces bytes that are not UTF-8, may split mixed line ends differently). A file that
could be one of those (a row Spark marked malformed; a value with a control character, a quote or U+FFFD; a blank
line or a NUL byte in the file) is read again on its executor by `inputs.read_input_file`, the DuckDB engine's
reader: its rows, or its one-line `InputError`, are then exactly the DuckDB engine's. So are Parquet files (read by
polars on the executors, the files spread over the tasks), whose typed columns get the DuckDB engine's text form (`_as_text`).

The file-level checks (layout, size, encoding, line ends, header, required columns) run on the driver before any row
is read, as in the DuckDB engine (`inputs.checked_header`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl

from assets.rules import inputs, parsing
from schemas import validate_frame

CSV_OPTIONS = {
    "header": "true",  # the header the driver checked is skipped; columns are positional (c0, c1, ...)
    "multiLine": "true",  # quoted line breaks, and one file per split, in order
    "quote": '"',
    "escape": '"',  # a quote inside a quoted value is doubled, as in polars and Python's csv
    "mode": "PERMISSIVE",
    "columnNameOfCorruptRecord": "_malformed",  # a row with more or fewer fields than the header
    "encoding": "UTF-8",
}
GLOB_CHARACTERS = re.compile(r"[*?\[\]{}\\]")  # Spark would read a path holding them as a pattern
SUSPECT_TEXT = '["\ufffd]|' + parsing.CONTROL_CHARACTERS
BLANK_LINE_OR_NUL = re.compile(rb"\n\r?\n|\x00")
KEY, MALFORMED = "_file", "_malformed"


def file_key(column):
    """The local path of `_metadata.file_path` (a URI), as `os.path.abspath` spells it on the driver."""
    from pyspark.sql import functions as F

    path = F.regexp_replace(column, r"^file:(//)?", "")
    return F.url_decode(F.replace(path, F.lit("+"), F.lit("%2B")))


def arrow_schema(schema: pl.Schema):
    """The Arrow schema of a typed raw frame, in the types Spark maps one to one (string, int64, date32, decimal)."""
    import pyarrow as pa

    def arrow_type(dtype: pl.DataType):
        if isinstance(dtype, pl.Decimal):
            return pa.decimal128(dtype.precision, dtype.scale)
        return {pl.String: pa.string(), pl.Int64: pa.int64(), pl.Float64: pa.float64(), pl.Date: pa.date32()}[dtype]

    return pa.schema([(name, arrow_type(dtype)) for name, dtype in schema.items()])


def read_text_on_spark(session, data_dir: Path, spec: inputs.InputSpec, files: list[Path], report: dict):
    """Every file's rows as text, read by Spark's CSV reader (`_file`, `_malformed`, the contract's columns; None when
    no file is read that way), one row per file (`_file`, `_malformed`: 'exact' for a file Spark does not read), and
    the relative path of each `_file`. The driver's checks run here, file by file, raising the DuckDB engine's
    `InputError` for a bad header."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    groups: dict[tuple[str, ...], list[Path]] = {}
    relative_of: dict[str, str] = {}
    markers = []
    for path in files:
        relative = path.relative_to(data_dir).as_posix()
        key = os.path.abspath(path)
        relative_of[key] = relative
        report["files"][relative] = 0
        names = inputs.checked_header(path, relative, spec, report)
        exact = names is None or path.suffix.lower() != ".csv" or bool(GLOB_CHARACTERS.search(key))
        markers.append((key, "exact" if exact else None))
        if not exact:
            groups.setdefault(tuple(names), []).append(path)
    shape = T.StructType([T.StructField(KEY, T.StringType()), T.StructField(MALFORMED, T.StringType())])
    each_file = session.createDataFrame(markers, schema=shape)
    rows = None
    for names, members in groups.items():
        positional = T.StructType(
            [T.StructField(f"c{i}", T.StringType()) for i in range(len(names))]
            + [T.StructField(MALFORMED, T.StringType())]
        )
        read = session.read.options(**CSV_OPTIONS).schema(positional).csv([str(p) for p in members])
        columns = [
            (F.col(f"c{names.index(c)}") if c in names else F.lit(None).cast("string")).alias(c) for c in spec.columns
        ]
        read = read.select(file_key(F.col("_metadata.file_path")).alias(KEY), F.col(MALFORMED), *columns)
        rows = read if rows is None else rows.unionByName(read)
    return rows, each_file, relative_of


def parse_on_executors(
    data_dir: Path,
    spec: inputs.InputSpec,
    parse: Callable[[pl.DataFrame], pl.DataFrame],
    model,
    relative_of: dict[str, str],
    target,
    batch_rows: int,
) -> tuple[Callable, Callable]:
    """The two `mapInArrow` functions: one over Spark's rows (a file's rows come in order, in one partition: one
    split per file with `multiLine`), one over the one-row-per-file frame (the files read exactly, and those Spark
    may have read otherwise, `needs_exact_read`). Each file's text gets its `source_file` and `source_row`; whole
    files are then typed and validated in batches of about `batch_rows` rows with the DuckDB engine's rules
    (`parse`, the pandera `model`), as the DuckDB engine batches them, and leave as Arrow batches of `target`."""
    data_dir = str(data_dir)

    def located(key: str) -> tuple[str, Path]:
        relative = relative_of.get(key)
        if relative is None:
            raise RuntimeError(f"Spark read a file the driver did not list: {key}")
        return relative, Path(data_dir) / relative

    def exactly(relative: str, path: Path) -> pl.DataFrame:
        return inputs.read_input_file(path, relative, spec, inputs.new_report())

    def spark_rows(key: str, rows: pl.DataFrame) -> pl.DataFrame | None:
        relative, path = located(key)
        if has_blank_line_or_nul(path):
            return None  # the one-row-per-file pass reads it exactly
        if is_suspect(rows, spec.columns):
            return exactly(relative, path)
        return inputs.with_source(rows.select(spec.columns), relative).select(
            "source_file", "source_row", *spec.columns
        )

    def one_file(key: str, marker: pl.DataFrame) -> pl.DataFrame | None:
        relative, path = located(key)
        if marker[MALFORMED][0] == "exact" or has_blank_line_or_nul(path):
            return exactly(relative, path)
        return None  # read by Spark (or header only)

    def typed(frames: list[pl.DataFrame]) -> Iterator:
        if frames:
            frame = validate_frame(model, parse(pl.concat(frames, how="vertical")))
            yield from frame.to_arrow().cast(target).to_batches()

    def per_file(batches: Iterator, text: Callable) -> Iterator:
        key, parts, done, size = None, [], [], 0
        for batch in batches:
            frame = pl.from_arrow(batch)
            for (group,), part in frame.partition_by(KEY, maintain_order=True, as_dict=True).items():
                if group != key and parts:
                    if (found := text(key, pl.concat(parts))) is not None:
                        done.append(found)
                        size += found.height
                    parts = []
                    if size >= batch_rows:
                        yield from typed(done)
                        done, size = [], 0
                key = group
                parts.append(part)
        if parts and (found := text(key, pl.concat(parts))) is not None:
            done.append(found)
        yield from typed(done)

    return (lambda batches: per_file(batches, spark_rows)), (lambda batches: per_file(batches, one_file))


def is_suspect(rows: pl.DataFrame, columns) -> bool:
    """A row Spark marked malformed, or a value with a control character, a quote or U+FFFD (module docstring)."""
    return bool(
        rows[MALFORMED].is_not_null().any()
        or rows.select(pl.any_horizontal(pl.col(c).str.contains(SUSPECT_TEXT) for c in columns).any()).item()
    )


def has_blank_line_or_nul(path: Path) -> bool:
    """A CSV file with a blank line (a row of nulls for the DuckDB engine, nothing for Spark) or a NUL byte."""
    if path.suffix.lower() != ".csv":
        return False
    with path.open("rb") as handle:
        tail = b""
        while chunk := handle.read(16 << 20):
            if BLANK_LINE_OR_NUL.search(tail + chunk):
                return True
            tail = chunk[-2:]
    return False


def ingest_on_spark(
    session,
    data_dir: Path,
    spec: inputs.InputSpec,
    parse: Callable[[pl.DataFrame], pl.DataFrame],
    model,
    files: list[Path],
    report: dict,
    folder: str,
    batch_rows: int = 2_000_000,
) -> None:
    """Read, type and validate `files` on Spark into the Parquet folder `folder` (replaced). An `InputError` raised
    on an executor is raised here with its own one-line message."""
    schema = validate_frame(model, parse(inputs.empty_text_frame(spec))).schema
    target = arrow_schema(schema)
    if not files:  # an optional input without files: an empty table of the right shape
        Path(folder).mkdir(parents=True, exist_ok=True)
        pl.DataFrame(schema=schema).write_parquet(Path(folder) / "part-00000.parquet")
        return
    from pyspark.sql.pandas.types import from_arrow_schema

    rows, each_file, relative_of = read_text_on_spark(session, data_dir, spec, files, report)
    over_rows, over_files = parse_on_executors(data_dir, spec, parse, model, relative_of, target, batch_rows)
    shape = from_arrow_schema(target)
    parallelism = session.sparkContext.defaultParallelism
    typed = each_file.repartition(max(1, min(len(files), parallelism)), KEY).mapInArrow(over_files, shape)
    if rows is not None:
        typed = rows.mapInArrow(over_rows, shape).unionByName(typed)
    try:
        typed.write.mode("overwrite").parquet(folder)
    except Exception as error:
        message = input_error_in(str(error))
        if message is None:
            raise
        raise inputs.InputError(message) from None


def input_error_in(text: str) -> str | None:
    """The message of the `InputError` an executor raised, from the text of Spark's error (its traceback)."""
    found = re.findall(r"^(?:assets\.rules\.inputs\.)?InputError: (.*)$", text, flags=re.MULTILINE)
    return found[-1] if found else None
