"""Raw ingest on Spark (ALMS_ENGINE=spark, docs/spark.md): a transactional input's files read by Spark's CSV reader,
typed and validated on the executors by the DuckDB engine's own code, written as Parquet.

One source of rules: the executors run `assets.rules.parsing` (the `parse_*` functions) and the raw pandera model on
each file's rows, through `mapInArrow`; nothing here restates how a value parses. What Spark adds is the reading and
the distribution: every CSV column as text (`header`, `multiLine`, doubled quotes, a positional schema built from the
header the driver checked), the file from `_metadata.file_path`, and the file's order kept so that `source_row` is
the data row the DuckDB engine numbers (one file is one split with `multiLine`; `monotonically_increasing_id` keeps
its order through the shuffle that gathers each file's rows in one task).

Spark's CSV reader and polars' differ on a few inputs (Spark skips blank lines and NUL-led lines, takes a stray quote
literally, pads a short row, replaces bytes that are not UTF-8, may split mixed line ends differently). A file that
could be one of those (a row Spark marked malformed; a value with a control character, a quote or U+FFFD; a blank
line or a NUL byte in the file) is read again on its executor by `inputs.read_input_file`, the DuckDB engine's
reader: its rows, or its one-line `InputError`, are then exactly the DuckDB engine's. So are Parquet files (read by
polars on the executors, one task per file), whose typed columns get the DuckDB engine's text form (`_as_text`).

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
KEY, ORDER, MALFORMED = "_file", "_order", "_malformed"


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
    """One Spark DataFrame of every file's rows as text (`_file`, `_order`, `_malformed`, the contract's columns),
    plus one marker row per file (`_order` -1; `_malformed` 'exact' for a file Spark does not read); and the
    relative path of each `_file`. The driver's checks run here, file by file, raising the DuckDB engine's
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
    text = T.StructType([T.StructField(c, T.StringType()) for c in spec.columns])
    shape = T.StructType(
        [
            T.StructField(KEY, T.StringType()),
            T.StructField(ORDER, T.LongType()),
            T.StructField(MALFORMED, T.StringType()),
        ]
        + text.fields
    )
    frame = session.createDataFrame(
        [(key, -1, flag, *([None] * len(spec.columns))) for key, flag in markers], schema=shape
    )
    for names, members in groups.items():
        positional = T.StructType(
            [T.StructField(f"c{i}", T.StringType()) for i in range(len(names))]
            + [T.StructField(MALFORMED, T.StringType())]
        )
        read = session.read.options(**CSV_OPTIONS).schema(positional).csv([str(p) for p in members])
        columns = [
            (F.col(f"c{names.index(c)}") if c in names else F.lit(None).cast("string")).alias(c) for c in spec.columns
        ]
        frame = frame.unionByName(
            read.select(
                file_key(F.col("_metadata.file_path")).alias(KEY),
                F.monotonically_increasing_id().alias(ORDER),
                F.col(MALFORMED),
                *columns,
            )
        )
    return frame, relative_of


def parse_on_executors(
    data_dir: Path,
    spec: inputs.InputSpec,
    parse: Callable[[pl.DataFrame], pl.DataFrame],
    model,
    relative_of: dict[str, str],
    target,
) -> Callable:
    """The `mapInArrow` function: a partition's rows, sorted by file and order, typed and validated file by file
    with the DuckDB engine's rules (`parse`, the pandera `model`), as Arrow batches of the `target` schema."""
    data_dir = str(data_dir)

    def one_file(key: str, text: pl.DataFrame):
        relative = relative_of.get(key)
        if relative is None:
            raise RuntimeError(f"Spark read a file the driver did not list: {key}")
        path = Path(data_dir) / relative
        rows = text.filter(pl.col(ORDER) >= 0)
        exact = (text.filter(pl.col(ORDER) < 0)[MALFORMED] == "exact").any()
        if exact or needs_exact_read(path, rows, spec.columns):
            frame = inputs.read_input_file(path, relative, spec, inputs.new_report())
        else:
            frame = inputs.with_source(rows.select(spec.columns), relative).select(
                "source_file", "source_row", *spec.columns
            )
        return model.validate(parse(frame), lazy=True).to_arrow().cast(target)

    def run(batches: Iterator) -> Iterator:
        key, parts = None, []
        for batch in batches:
            frame = pl.from_arrow(batch)
            for (group,), part in frame.partition_by(KEY, maintain_order=True, as_dict=True).items():
                if group != key and parts:
                    yield from one_file(key, pl.concat(parts).sort(ORDER)).to_batches()
                    parts = []
                key = group
                parts.append(part)
        if parts:
            yield from one_file(key, pl.concat(parts).sort(ORDER)).to_batches()

    return run


def needs_exact_read(path: Path, rows: pl.DataFrame, columns) -> bool:
    """True when Spark's reading of this CSV file might differ from the DuckDB engine's (module docstring)."""
    if rows.height and (
        rows[MALFORMED].is_not_null().any()
        or rows.select(pl.any_horizontal(pl.col(c).str.contains(SUSPECT_TEXT) for c in columns).any()).item()
    ):
        return True
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
    partitions: int,
) -> None:
    """Read, type and validate `files` on Spark into the Parquet folder `folder` (replaced). An `InputError` raised
    on an executor is raised here with its own one-line message."""
    schema = model.validate(parse(inputs.empty_text_frame(spec)), lazy=True).schema
    target = arrow_schema(schema)
    if not files:  # an optional input without files: an empty table of the right shape
        Path(folder).mkdir(parents=True, exist_ok=True)
        pl.DataFrame(schema=schema).write_parquet(Path(folder) / "part-00000.parquet")
        return
    from pyspark.sql.pandas.types import from_arrow_schema

    text, relative_of = read_text_on_spark(session, data_dir, spec, files, report)
    run = parse_on_executors(data_dir, spec, parse, model, relative_of, target)
    typed = (
        text.repartition(max(1, min(partitions, len(files))), KEY)
        .sortWithinPartitions(KEY, ORDER)
        .mapInArrow(run, from_arrow_schema(target))
    )
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
