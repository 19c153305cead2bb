"""The environment, chosen in one place: settings from environment variables, the warehouse, the I/O manager.

| variable | default | meaning |
| --- | --- | --- |
| ALMS_DATA_DIR | <repo>/data/demo | input folder (the input contract: docs/inputs.md) |
| ALMS_OUTPUT_DIR | <repo>/output | published outputs: alms.duckdb, Parquet copies, manifest.json |
| ALMS_AS_OF | (inferred) | last day of the 12-month window; default: end of the latest complete billing month |
| ALMS_KEY_SHARE | 0.25 | share of ranked accounts counted down to find the key level |
| ALMS_REPORTING_CURRENCY | USD | currency of all published amounts; fx_rates convert into it |
| ALMS_MAX_LINE_AMOUNT | 1000000000 | a billing line with |amount| at or above this is quarantined as absurd_amount |
| ALMS_MIN_DATE | 2000-01-01 | invoice, event and deal dates before this are quarantined as implausible_date |
| ALMS_MIN_MONTH_SHARE | 0.5 | a source system's month below this share of its trailing median is a gap |
| ALMS_ACCEPT_GAPS | (unset) | gaps accepted on purpose: nat_erp:2026-10, legacy:2026-05..2026-07, old:2026-03.. |
| ALMS_MATCHER | probabilistic | client deduplication: probabilistic (Fellegi-Sunter), or deterministic (rule-based, no overrides) |
| ALMS_MATCH_THRESHOLD | 0.5 | calibrated match probability at which two client records link |
| ALMS_REVIEW_THRESHOLD | 0.05 | uncertain pairs from here up go to marts.match_review_pairs |
| ALMS_REVIEW_MONTHS | 12 | review cadence: the key level is frozen for 6 or 12 months |
| ALMS_REVIEW_START_MONTH | 1 | month (1-12) in which review periods start (1 with 6: January and July) |
| ALMS_REVIEW_REASON | (unset) | set to re-run the current period's review with this run's data; the reason is audited |
| ALMS_PUBLISH_BACKFILL | (unset) | 1: a run for an as-of date earlier than the current publication's is made current too |
| ALMS_KEEP_PUBLICATIONS | 3 | complete publications kept in $ALMS_OUTPUT_DIR/publications (the current one always) |
| ALMS_REUSE_UNCHANGED | 1 | 0: match clients, read unpartitioned inputs, check billing lines and reconstruct past month ends again even when unchanged since they last ran (assets/rules/reuse.py) |
| ALMS_OUTCOME_MONTHS | 24 | past month ends reconstructed for the outcomes and the backtest, from the start of the review period of the oldest (0: recorded snapshots only) |
| ALMS_DUCKDB_MEMORY_LIMIT | 4GB | DuckDB memory limit of the pipeline's own connections |
| ALMS_DUCKDB_THREADS | (all cores) | DuckDB threads |
| ALMS_POSTGRES_DSN | (unset) | also publish to PostgreSQL (libpq string or URI; read at run time, never shown) |
| ALMS_POSTGRES_SCHEMA | alms | the PostgreSQL schema BI tools read |
| ALMS_POSTGRES_READER_ROLE | (unset) | the role granted USAGE + SELECT on it (BI tools log in as a member) |
| ALMS_POSTGRES_LOCK_TIMEOUT | 30 | seconds the swap waits for BI sessions that hold the published tables |
| ALMS_ALERT_WEBHOOK | (unset) | a failed run posts a one-line JSON alert here (read at run time, never shown) |
| ALMS_UI_URL | http://127.0.0.1:3000 | the Dagster UI's address, for the link to a failed run in the alert |
| ALMS_ENGINE | duckdb | what runs the SQL models, the transactional raw ingest and the client matcher's pairs: duckdb (embedded), or spark (docs/spark.md) |
| ALMS_SPARK_MASTER | local[2] | the Spark master: local[N], spark://host:7077, yarn, k8s://... (engine spark) |
| ALMS_SPARK_WAREHOUSE | $ALMS_OUTPUT_DIR/work/spark-warehouse | where Spark's tables go, <layer>/<table>/ Parquet folders |
| ALMS_SPARK_DRIVER_MEMORY | 2g | the Spark driver's memory (local mode: all of Spark's memory) |

The pipeline-private warehouse (every layer) is `$ALMS_OUTPUT_DIR/work/warehouse.duckdb`; BI tools connect to the
published `$ALMS_OUTPUT_DIR/alms.duckdb` instead, which resolves through the `current` publication (see
assets/rules/publish.py). A run holds `$ALMS_OUTPUT_DIR/.alms-run.lock` from its first warehouse connection to its end
(assets/rules/run_lock.py), and every operating-system or DuckDB I/O error inside a connection becomes a one-line
`dg.Failure` (assets/rules/causes.py).
"""

import datetime as dt
import os
import re
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
from pydantic import PrivateAttr

from assets.metadata import table_metadata
from assets.rules import reuse, run_lock
from assets.rules.causes import first_line, one_line_cause
from assets.rules.completeness import completeness_parameters, parse_accepted_gaps
from assets.rules.key_accounts import check_key_share
from assets.rules.old_names import upgrade_warehouse
from assets.rules.postgres import DEFAULT_LOCK_TIMEOUT, DEFAULT_SCHEMA, IDENTIFIER, parse_dsn
from assets.rules.publish import DEFAULT_KEEP, remove_leftovers
from assets.rules.tables import transaction, write_frame
from assets.spark import SparkEngine

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_UI_URL = "http://127.0.0.1:3000"  # `make dev`
LAYERS = ("raw", "staging", "intermediate", "marts")
ENGINES = ("duckdb", "spark")


class SettingsError(ValueError):
    """A setting (environment variable or run config) has an unusable value."""


class AlmsSettings(dg.ConfigurableResource):
    """What the run works on and the rules' parameters."""

    data_dir: str
    output_dir: str
    as_of: str = ""
    key_share: float = 0.25
    reporting_currency: str = "USD"
    max_line_amount: float = 1_000_000_000.0
    min_date: str = "2000-01-01"
    min_month_share: float = 0.5
    accept_gaps: str = ""
    matcher: str = "probabilistic"
    match_threshold: float = 0.5
    review_threshold: float = 0.05
    review_months: int = 12
    review_start_month: int = 1
    review_reason: str = ""
    publish_backfill: bool = False
    keep_publications: int = DEFAULT_KEEP
    outcome_months: int = 24
    # a step whose inputs, settings and code are unchanged since its stored result keeps it (assets/rules/reuse.py)
    reuse_unchanged: bool = True
    # PostgreSQL target (assets/rules/postgres.py): the DSN is a dg.EnvVar, resolved only inside a run, so the UI, the
    # run's config and its snapshot show the variable's name and never the value (the password)
    postgres_dsn: str = ""
    postgres_schema: str = DEFAULT_SCHEMA
    postgres_reader_role: str = ""
    postgres_lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    # failure alerts (pipelines/automation.py, assets/rules/alerts.py): the URL holds a secret, so a dg.EnvVar too
    alert_webhook: str = ""
    ui_url: str = DEFAULT_UI_URL
    # what runs the SQL models (assets/spark.py): recorded in the run summary and the publication's manifest
    engine: str = "duckdb"

    @property
    def as_of_date(self) -> dt.date | None:
        return parse_as_of(self.as_of)

    def sql_parameters(self) -> dict:
        """Every value a SQL model may bind (each model binds the `$name`s it uses)."""
        return {
            "as_of": self.as_of_date,
            "today": dt.datetime.now(dt.UTC).date(),
            "reporting_currency": self.reporting_currency,
            "max_line_amount": self.max_line_amount,
            "min_date": dt.date.fromisoformat(self.min_date),
            "min_month_share": self.min_month_share,
            **completeness_parameters(parse_accepted_gaps(self.accept_gaps)),
        }


_UPGRADED: set[str] = set()  # warehouse files whose old table and column names this process has renamed


class Warehouse(dg.ConfigurableResource):
    """The pipeline's own DuckDB file, one schema per layer. Only the pipeline connects to it.

    Inside a run, the first connection takes the output folder's run lock (released when the run ends) and removes
    what killed or failed publications left; any OS or DuckDB I/O error inside a connection fails the step with its
    cause in one line."""

    path: str
    memory_limit: str = "4GB"
    threads: int = 0
    data_dir: str = ""  # only to name ALMS_DATA_DIR in a failure's line
    _run_id: str | None = PrivateAttr(default=None)
    _log: object = PrivateAttr(default=None)
    _database: object = PrivateAttr(default=None)  # inside a run: the connection every step's cursor comes from
    _cursors: int = PrivateAttr(default=0)  # inside a run: the step's cursors open now (a step may nest `connect`)

    @property
    def output_dir(self) -> Path:
        return Path(self.path).parent.parent

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._run_id = context.run.run_id if context.run is not None else None
        self._log = context.log

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        try:
            if self._database is not None:
                self._database.close()  # the file's last connection: DuckDB checkpoints it here
        finally:
            self._database = None
            if self._run_id:
                run_lock.release(self.output_dir, self._run_id)

    def _open(self) -> duckdb.DuckDBPyConnection:
        # Row order of a table carries no meaning here (every model orders what it needs), and not preserving it
        # makes large CTAS about a third faster and lighter; publishing restores order for BI readers.
        config = {"memory_limit": self.memory_limit, "preserve_insertion_order": False}
        if self.threads:
            config["threads"] = self.threads
        conn = duckdb.connect(self.path, config=config)
        for layer in LAYERS:  # once per database opened, not per step's cursor
            conn.execute(f"create schema if not exists {layer}")
        return conn

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        places = {"ALMS_OUTPUT_DIR": self.output_dir, **({"ALMS_DATA_DIR": self.data_dir} if self.data_dir else {})}
        try:
            if self._run_id:
                for note in take_output_folder(self.output_dir, self._run_id):
                    if self._log is not None:
                        self._log.warning(note)
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            if self._run_id is None:  # outside a run (a command, a test): a connection of its own
                conn = self._open()
            else:  # a run's steps share the database the run's first connection opened (each step its own cursor):
                # opening and checkpointing the file once per step cost about 20 ms each, 200 times a run
                if self._database is None:
                    self._database = self._open()
                conn = self._database.cursor()
                self._cursors += 1
        except run_lock.RunLockBusy as error:
            raise dg.Failure(description=str(error), allow_retries=False) from None
        except (OSError, duckdb.Error) as error:
            raise dg.Failure(description=one_line_cause(error, places) or first_line(error)) from None
        try:
            if self.path not in _UPGRADED:  # once per warehouse and process: tables an earlier version named
                for renamed in upgrade_warehouse(conn):
                    if self._log is not None:
                        self._log.info(f"warehouse upgraded: renamed {renamed}")
                _UPGRADED.add(self.path)
            yield conn
        except (OSError, duckdb.IOException, duckdb.OutOfMemoryException) as error:
            raise dg.Failure(description=one_line_cause(error, places) or first_line(error)) from None
        except duckdb.Error as error:  # e.g. a commit that could not write its log: "No space left on device"
            line = one_line_cause(error, places)
            if line is None:
                raise
            raise dg.Failure(description=line) from None
        finally:
            conn.close()
            if self._run_id is not None:
                self._cursors -= 1
                if self._cursors == 0:  # the step is done with the database
                    return_freed_memory(self._database, self.memory_limit)


def return_freed_memory(database: duckdb.DuckDBPyConnection, memory_limit: str) -> None:
    """Hand the memory DuckDB's finished queries freed back to the system, between a run's steps.

    DuckDB's allocator keeps what a query freed for the next one. Measured at 1M client records (10M billing lines):
    between steps the run's process held 1.3-3.6 GB while `duckdb_memory()` counted 60-576 MB, and the next step's
    polars work came on top of it (peak 4.9 GB). Lowering the memory limit makes DuckDB evict its buffers and flush
    its allocator; the limit is set back at once. Same run with this: peak 4.1 GB, not slower."""
    try:
        database.execute("set memory_limit = '64MB'")
    except duckdb.Error:  # what cannot be evicted now stays; the run does not depend on this
        pass
    finally:
        database.execute(f"set memory_limit = '{memory_limit}'")


def take_output_folder(output_dir: Path | str, holder: str) -> list[str]:
    """Take the output folder's run lock for `holder` (RunLockBusy when another process has it); the first holder in
    this process also removes the leftovers of killed or failed publications. Returns what an operator should read."""
    held, fresh = run_lock.acquire(output_dir, holder)
    notes = []
    if fresh:
        if held.taken_over:
            notes.append(f"{output_dir}: {run_lock.describe_takeover(held.taken_over)}")
        removed = remove_leftovers(output_dir)
        if removed:
            notes.append(f"removed what killed or failed publications left: {', '.join(removed)}")
    return notes


# Output metadata naming a column: the frame replaces only the table's rows with its values of that column (a table
# that carries its past, written one snapshot at a time), instead of the whole table.
REPLACE_ROWS_BY = "alms/replace_rows_by"


class KeptTable:
    """An output whose table already holds this run's result (a step reusing its stored result, assets/rules/reuse.py):
    the IO manager leaves the table as it is and records its row count and columns."""


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Stores polars frames as tables `<layer>.<name>` (the asset key) and loads them back as polars frames. An output
    whose metadata names a `REPLACE_ROWS_BY` column replaces only the rows with the frame's values of that column; a
    `KeptTable` output leaves the table as it is."""

    warehouse: Warehouse

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame | KeptTable) -> None:
        layer, name = _table_of(context.asset_key)
        by = (context.definition_metadata or {}).get(REPLACE_ROWS_BY)
        with self.warehouse.connect() as conn:
            if isinstance(obj, KeptTable):
                rows = conn.sql(f"select count(*) from {layer}.{name}").fetchall()[0][0]
                schema = dict(conn.sql(f"select * from {layer}.{name} limit 0").pl().schema)
            elif by:
                rows = replace_rows(conn, f"{layer}.{name}", obj, by)
                schema = dict(conn.sql(f"select * from {layer}.{name} limit 0").pl().schema)
            else:
                write_frame(conn, f"{layer}.{name}", obj)
                rows, schema = obj.height, obj.schema
        context.add_output_metadata(table_metadata(layer, name, schema, rows))

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        """The table as a polars frame; an input declared with `metadata={"columns": [...]}` loads only those."""
        layer, name = _table_of(context.asset_key)
        columns = (context.definition_metadata or {}).get("columns")
        selected = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        with self.warehouse.connect() as conn:
            return conn.sql(f"select {selected} from {layer}.{name}").pl()


def replace_rows(conn: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, by: str) -> int:
    """In one transaction: the table's rows whose `by` value the frame has are replaced by the frame's rows (the table
    is created when missing; columns the frame brings are added), and the digest of each value's rows is recorded
    with the table (reuse.record_value_digests: the publication and the outcomes then hash only the values written
    since, not every snapshot kept). Returns the table's row count."""
    layer, name = table.split(".")
    existing = {
        row[0]
        for row in conn.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [layer, name],
        ).fetchall()
    }
    conn.register("frame_to_write", frame)
    try:
        with transaction(conn):
            if not existing:
                conn.execute(f"create table {table} as select * from frame_to_write")
            else:
                relation = conn.sql("select * from frame_to_write limit 0")
                types = dict(zip(relation.columns, (str(dtype) for dtype in relation.types), strict=True))
                for column in frame.columns:
                    if column not in existing:
                        conn.execute(f'alter table {table} add column "{column}" {types[column]}')
                conn.execute(f'delete from {table} where "{by}" in (select distinct "{by}" from frame_to_write)')
                conn.execute(f"insert into {table} by name select * from frame_to_write")
            reuse.record_value_digests(conn, table, by, frame[by].unique().to_list())
    finally:
        conn.unregister("frame_to_write")
    return conn.sql(f"select count(*) from {table}").fetchall()[0][0]


def _table_of(asset_key: dg.AssetKey) -> tuple[str, str]:
    if len(asset_key.path) != 2 or asset_key.path[0] not in LAYERS:
        raise ValueError(f"asset key {asset_key.to_user_string()} is not <layer>/<table> with a layer in {LAYERS}")
    return asset_key.path[0], asset_key.path[1]


def parse_as_of(text: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise SettingsError(f"ALMS_AS_OF={text!r} is not a date; use YYYY-MM-DD (or leave it unset)") from None


def settings_from_env(environ: dict | None = None) -> AlmsSettings:
    """Settings from ALMS_* environment variables, each checked with a clear message."""
    env = os.environ if environ is None else environ
    output_dir = env.get("ALMS_OUTPUT_DIR") or str(REPO_ROOT / "output")
    settings = AlmsSettings(
        data_dir=env.get("ALMS_DATA_DIR") or str(REPO_ROOT / "data" / "demo"),
        output_dir=output_dir,
        as_of=env.get("ALMS_AS_OF", "").strip(),
        key_share=_number(env, "ALMS_KEY_SHARE", 0.25),
        reporting_currency=env.get("ALMS_REPORTING_CURRENCY", "USD").strip().upper(),
        max_line_amount=_number(env, "ALMS_MAX_LINE_AMOUNT", 1_000_000_000.0),
        min_date=env.get("ALMS_MIN_DATE", "").strip() or "2000-01-01",
        min_month_share=_number(env, "ALMS_MIN_MONTH_SHARE", 0.5),
        accept_gaps=env.get("ALMS_ACCEPT_GAPS", "").strip(),
        matcher=env.get("ALMS_MATCHER", "probabilistic").strip().lower() or "probabilistic",
        match_threshold=_number(env, "ALMS_MATCH_THRESHOLD", 0.5),
        review_threshold=_number(env, "ALMS_REVIEW_THRESHOLD", 0.05),
        review_months=int(_number(env, "ALMS_REVIEW_MONTHS", 12)),
        review_start_month=int(_number(env, "ALMS_REVIEW_START_MONTH", 1)),
        review_reason=env.get("ALMS_REVIEW_REASON", "").strip(),
        publish_backfill=_flag(env, "ALMS_PUBLISH_BACKFILL"),
        keep_publications=int(_number(env, "ALMS_KEEP_PUBLICATIONS", DEFAULT_KEEP)),
        outcome_months=int(_number(env, "ALMS_OUTCOME_MONTHS", 24)),
        reuse_unchanged=_flag(env, "ALMS_REUSE_UNCHANGED", default=True),
        postgres_dsn=_postgres_dsn(env),
        postgres_schema=env.get("ALMS_POSTGRES_SCHEMA", "").strip() or DEFAULT_SCHEMA,
        postgres_reader_role=env.get("ALMS_POSTGRES_READER_ROLE", "").strip(),
        postgres_lock_timeout=_number(env, "ALMS_POSTGRES_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT),
        alert_webhook=_alert_webhook(env),
        ui_url=(env.get("ALMS_UI_URL", "").strip() or DEFAULT_UI_URL).rstrip("/"),
        engine=env.get("ALMS_ENGINE", "").strip().lower() or "duckdb",
    )
    check_settings(settings)
    return settings


def _postgres_dsn(env) -> str:
    """dg.EnvVar("ALMS_POSTGRES_DSN") when it is set and parses (the message never echoes it), else ""."""
    dsn = env.get("ALMS_POSTGRES_DSN", "").strip()
    if not dsn:
        return ""
    try:
        parse_dsn(dsn)
    except ValueError as error:
        raise SettingsError(f"ALMS_POSTGRES_DSN {error}") from None
    return dg.EnvVar("ALMS_POSTGRES_DSN")


def _alert_webhook(env) -> str:
    """dg.EnvVar("ALMS_ALERT_WEBHOOK") when it is set to an http(s) URL (the message never echoes it), else ""."""
    url = env.get("ALMS_ALERT_WEBHOOK", "").strip()
    if not url:
        return ""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError("ALMS_ALERT_WEBHOOK must be an http:// or https:// URL (its value is not shown)")
    return dg.EnvVar("ALMS_ALERT_WEBHOOK")


def check_settings(settings: AlmsSettings) -> None:
    parse_as_of(settings.as_of)
    try:
        check_key_share(settings.key_share)
    except ValueError as error:
        raise SettingsError(f"ALMS_KEY_SHARE: {error}") from None
    if len(settings.reporting_currency) != 3 or not settings.reporting_currency.isalpha():
        raise SettingsError(f"ALMS_REPORTING_CURRENCY={settings.reporting_currency!r} is not an ISO 4217 code")
    if settings.engine not in ENGINES:
        raise SettingsError(f"ALMS_ENGINE={settings.engine!r}: use duckdb or spark")
    if settings.matcher not in ("probabilistic", "deterministic"):
        raise SettingsError(f"ALMS_MATCHER={settings.matcher!r}: use probabilistic or deterministic")
    if not 0 < settings.review_threshold <= settings.match_threshold < 1:
        raise SettingsError(
            "ALMS_REVIEW_THRESHOLD and ALMS_MATCH_THRESHOLD must satisfy 0 < review <= match < 1; got "
            f"{settings.review_threshold} and {settings.match_threshold}"
        )
    if settings.review_months not in (6, 12):
        raise SettingsError(f"ALMS_REVIEW_MONTHS must be 6 or 12; got {settings.review_months}")
    if not 1 <= settings.review_start_month <= 12:
        raise SettingsError(f"ALMS_REVIEW_START_MONTH must be a month number 1-12; got {settings.review_start_month}")
    if settings.outcome_months < 0:
        raise SettingsError(f"ALMS_OUTCOME_MONTHS must be 0 or more; got {settings.outcome_months}")
    if settings.keep_publications < 1:
        raise SettingsError(f"ALMS_KEEP_PUBLICATIONS must be 1 or more; got {settings.keep_publications}")
    if settings.max_line_amount <= 0:
        raise SettingsError(f"ALMS_MAX_LINE_AMOUNT must be positive; got {settings.max_line_amount}")
    try:
        min_date = dt.date.fromisoformat(settings.min_date)
    except ValueError:
        raise SettingsError(f"ALMS_MIN_DATE={settings.min_date!r} is not a date; use YYYY-MM-DD") from None
    if not dt.date(1900, 1, 1) <= min_date <= dt.datetime.now(dt.UTC).date():
        raise SettingsError(f"ALMS_MIN_DATE={settings.min_date} must lie between 1900-01-01 and today")
    if not 0 <= settings.min_month_share <= 1:
        raise SettingsError(
            f"ALMS_MIN_MONTH_SHARE must be a share from 0 to 1 (0 turns the share test off); got {settings.min_month_share}"
        )
    try:
        parse_accepted_gaps(settings.accept_gaps)
    except ValueError as error:
        raise SettingsError(f"ALMS_ACCEPT_GAPS: {error}") from None
    if not IDENTIFIER.match(settings.postgres_schema):
        raise SettingsError(
            f"ALMS_POSTGRES_SCHEMA={settings.postgres_schema!r}: use a lower-case name of letters, digits and _ "
            "(at most 40)"
        )
    if settings.postgres_reader_role and not re.match(r"^[a-z_][a-z0-9_]{0,62}$", settings.postgres_reader_role):
        raise SettingsError(
            f"ALMS_POSTGRES_READER_ROLE={settings.postgres_reader_role!r}: use a lower-case role name of letters, "
            "digits and _"
        )
    if settings.postgres_lock_timeout <= 0:
        raise SettingsError(
            f"ALMS_POSTGRES_LOCK_TIMEOUT must be a positive number of seconds; got {settings.postgres_lock_timeout}"
        )


def _number(env, name: str, default: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not a number") from None


def _flag(env, name: str, default: bool = False) -> bool:
    text = env.get(name, "").strip().lower()
    if not text:
        return default
    if text in ("0", "false", "no"):
        return False
    if text in ("1", "true", "yes"):
        return True
    raise SettingsError(f"{name}={text!r}: use 1 or 0")


def warehouse_path(output_dir: str) -> str:
    return str(Path(output_dir) / "work" / "warehouse.duckdb")


def build_resources(environ: dict | None = None) -> dict:
    env = os.environ if environ is None else environ
    settings = settings_from_env(env)
    threads = env.get("ALMS_DUCKDB_THREADS", "").strip()
    warehouse = Warehouse(
        path=warehouse_path(settings.output_dir),
        memory_limit=env.get("ALMS_DUCKDB_MEMORY_LIMIT", "").strip() or "4GB",
        threads=int(threads) if threads.isdigit() else 0,
        data_dir=settings.data_dir,
    )
    spark = SparkEngine(
        master=env.get("ALMS_SPARK_MASTER", "").strip() or "local[2]",
        warehouse_dir=env.get("ALMS_SPARK_WAREHOUSE", "").strip()
        or str(Path(settings.output_dir) / "work" / "spark-warehouse"),
        driver_memory=env.get("ALMS_SPARK_DRIVER_MEMORY", "").strip() or "2g",
    )
    return {
        "settings": settings,
        "warehouse": warehouse,
        "io_manager": WarehouseIOManager(warehouse=warehouse),
        "spark": spark,  # used only when settings.engine is spark; starts nothing until a model asks for a session
    }
