"""PostgreSQL as a publication target, against a real throwaway PostgreSQL (Debian's server binaries, a cluster in a
temporary folder, Unix socket only, password authentication). One pipeline run per module (the small inputs, with a
seller who owns nothing), many assertions on it; then an outage and two more publications with BI readers querying.

Also here, because that one run publishes everything: every published table and column is documented in DuckDB,
Parquet and PostgreSQL, and marts.sellers adds up to every account once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import duckdb
import psycopg
import pyarrow.parquet as pq
import pytest
from conftest import KEY_LEVEL_ASSETS, downstream_of, new_dagster_home, parquet_files, parquet_location
from psycopg import errors

from assets.publish import PUBLISHED_TABLES
from assets.resources import REPO_ROOT, SettingsError, settings_from_env
from assets.rules.documentation import DESCRIPTION
from assets.rules.postgres import (
    PostgresError,
    PostgresTarget,
    describe_target,
    parse_dsn,
    postgres_type,
    publish_to_postgres,
    scrub,
)
from assets.rules.publish import current_publication, read_manifest
from pipelines.commands.cli import execute_pipeline
from schemas.renamed import OLD_NAMES

pytestmark = pytest.mark.slow

PASSWORD = "Pw-s3cret-4f7a9c"  # the publisher's password: searched for everywhere a run leaves text
READER_PASSWORD = "reader-pw-8812"
SCHEMA = "alms"


def _server_binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        pytest.fail("PostgreSQL's server binaries are missing: `make test` installs Debian's postgresql (apt)")
    return Path(found[-1]).parent


class Cluster:
    """A throwaway PostgreSQL cluster: initdb'd in a temporary folder, listening on a Unix socket only. As root it
    runs as the `postgres` user (initdb refuses root)."""

    def __init__(self) -> None:
        self.bin = _server_binaries()
        self.folder = Path(tempfile.mkdtemp(prefix="alms-postgres-"))
        self.data = self.folder / "data"
        self.port = 5432  # the socket's name; nothing listens on TCP
        self.as_user = {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}
        if self.as_user:
            shutil.chown(self.folder, "postgres", "postgres")
        superuser_password = self.folder / "superuser"
        superuser_password.write_text("superuser-pw\n")
        if self.as_user:
            shutil.chown(superuser_password, "postgres", "postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=scram-sha-256",
            f"--pwfile={superuser_password}",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        self.start()
        with self.connect() as conn:
            conn.execute("create database alms")
            conn.execute(f"create role alms_publisher login password '{PASSWORD}'")
            conn.execute("alter database alms owner to alms_publisher")
            conn.execute("create role bi_reader nologin")
            conn.execute(f"create role metabase login password '{READER_PASSWORD}' in role bi_reader")
            conn.execute(f"create role someone_else login password '{READER_PASSWORD}'")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([str(self.bin / tool), *args], check=True, capture_output=True, timeout=120, **self.as_user)

    def start(self) -> None:
        options = f"-c listen_addresses='' -c unix_socket_directories='{self.folder}' -c port={self.port} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def dsn(self, user: str = "alms_publisher", password: str = PASSWORD, dbname: str = "alms") -> str:
        return f"host={self.folder} port={self.port} dbname={dbname} user={user} password={password}"

    def connect(self, user: str = "postgres", password: str = "superuser-pw", dbname: str = "postgres"):
        return psycopg.connect(self.dsn(user, password, dbname), autocommit=True)

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    made = Cluster()
    yield made
    made.remove()


def _environment(base: Path, cluster: Cluster) -> dict:
    from conftest import SMALL_INPUT_GAPS, small_inputs, write_csv

    inputs = small_inputs(base / "inputs")
    write_csv(
        inputs / "sellers.csv",
        ["owner_id", "seller_name", "team"],
        [["S1", "Sam Seller", "East"], ["S2", "Alex Account", "West"], ["S3", "Nora New", "East"]],
    )
    home = new_dagster_home(base / "dagster_home")
    return {
        "ALMS_DATA_DIR": str(inputs),
        "ALMS_OUTPUT_DIR": str(base / "output"),
        "ALMS_ACCEPT_GAPS": SMALL_INPUT_GAPS,
        "DAGSTER_HOME": str(home),
        "ALMS_POSTGRES_DSN": cluster.dsn(),
        "ALMS_POSTGRES_READER_ROLE": "bi_reader",
    }


@pytest.fixture(scope="module")
def published(tmp_path_factory, cluster):
    """One run on the small inputs that publishes to DuckDB, Parquet and PostgreSQL."""
    base = tmp_path_factory.mktemp("postgres")
    env = _environment(base, cluster)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        started = time.perf_counter()
        success, failures, run_id = execute_pipeline(quiet=True, log_level="CRITICAL")
        seconds = time.perf_counter() - started
    assert success, failures
    output = Path(env["ALMS_OUTPUT_DIR"])
    return {
        "env": env,
        "output": output,
        "run_id": run_id,
        "publication": current_publication(output),
        "seconds": seconds,
    }


def pg_rows(cluster: Cluster, query: str, params=None) -> list[tuple]:
    with cluster.connect(dbname="alms") as conn:
        return conn.execute(query, params).fetchall()


def _comparable(value):
    if isinstance(value, dt.datetime):  # a naive DuckDB timestamp is UTC; PostgreSQL's timestamptz says so
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return value


def test_every_table_lands_with_the_duckdb_rows_types_and_comments(published, cluster):
    publication = published["publication"]
    manifest = read_manifest(publication)
    assert manifest["postgres"]["state"] == "published" and manifest["postgres"]["run_id"] == published["run_id"]
    tables = {name for (name,) in pg_rows(cluster, "select tablename from pg_tables where schemaname = %s", [SCHEMA])}
    assert tables == {table for _, table in PUBLISHED_TABLES}
    with duckdb.connect(str(publication / "alms.duckdb"), read_only=True) as source:
        for schema, table in PUBLISHED_TABLES:
            expected = [
                tuple(map(_comparable, row)) for row in source.sql(f"select * from {schema}.{table}").fetchall()
            ]
            loaded = [tuple(map(_comparable, row)) for row in pg_rows(cluster, f"select * from {SCHEMA}.{table}")]
            assert len(loaded) == manifest["tables"][f"{schema}.{table}"], table
            assert sorted(map(repr, loaded)) == sorted(map(repr, expected)), table  # every value, exactly
    types = dict(
        pg_rows(
            cluster,
            "select table_name || '.' || column_name, data_type || coalesce('(' || "
            "numeric_precision || ',' || numeric_scale || ')', '') from information_schema.columns "
            "where table_schema = %s",
            [SCHEMA],
        )
    )
    assert types["accounts.billing_12m"] == "numeric(38,2)" and types["key_levels.key_level"] == "numeric(38,2)"
    assert types["accounts.as_of_date"] == "date" and types["key_levels.computed_at"] == "timestamp with time zone"
    assert (
        types["input_files.modified_at"] == "timestamp with time zone" and types["accounts.is_key_account"] == "boolean"
    )
    views = dict(
        pg_rows(
            cluster,
            "select c.relname, obj_description(c.oid, 'pg_class') from pg_class c "
            "where c.relnamespace = %s::regnamespace and c.relkind = 'v'",
            [SCHEMA],
        )
    )
    with duckdb.connect(str(publication / "alms.duckdb"), read_only=True) as source:
        expected_views = dict(
            source.sql("select view_name, comment from duckdb_views() where schema_name = 'marts'").fetchall()
        )
        assert views == expected_views and len(views) == 6  # the old names of renamed tables, deprecated
        for view in views:
            expected = [tuple(map(_comparable, row)) for row in source.sql(f"select * from marts.{view}").fetchall()]
            loaded = [tuple(map(_comparable, row)) for row in pg_rows(cluster, f"select * from {SCHEMA}.{view}")]
            assert sorted(map(repr, loaded)) == sorted(map(repr, expected)), view
            columns = [
                c
                for (c,) in pg_rows(
                    cluster,
                    "select column_name from information_schema.columns where "
                    "table_schema = %s and table_name = %s order by ordinal_position",
                    [SCHEMA, view],
                )
            ]
            assert columns == source.sql(f"select * from marts.{view} limit 0").columns, view
    comment = pg_rows(cluster, "select obj_description(%s::regnamespace, 'pg_namespace')", [SCHEMA])[0][0]
    assert comment.startswith(f"alms publication {publication.name} (run {published['run_id']}")
    leftovers = pg_rows(cluster, "select nspname from pg_namespace where nspname like 'alms\\_%%'")
    assert leftovers == []  # no stage or old schema left behind


def published_rows(published, table: str) -> int:
    return read_manifest(published["publication"])["tables"][f"marts.{table}"]


def test_every_published_column_is_documented_in_duckdb_parquet_and_postgres(published, cluster):
    publication = published["publication"]
    with duckdb.connect(str(publication / "alms.duckdb"), read_only=True) as conn:
        undocumented = conn.sql(
            "select table_name, column_name from duckdb_columns() where database_name = current_database() "
            "and schema_name = 'marts' and coalesce(comment, '') = ''"
        ).fetchall()
        tables = conn.sql("select table_name, comment from duckdb_tables() where schema_name = 'marts'").fetchall()
        column_comment = conn.sql(
            "select comment from duckdb_columns() where schema_name = 'marts' "
            "and table_name = 'accounts' and column_name = 'billing_12m'"
        ).fetchall()[0][0]
    assert undocumented == []
    assert len(tables) == len(PUBLISHED_TABLES) and all(comment for _, comment in tables)
    from schemas.marts import BILLING_12M

    assert column_comment == BILLING_12M  # the text comes from the pandera model
    for _, table in PUBLISHED_TABLES:
        for path in parquet_files(parquet_location(publication, table)):  # a file, or a folder's (account_snapshots)
            schema = pq.read_schema(path)
            assert schema.metadata and schema.metadata[DESCRIPTION.encode()], table
            missing = [f.name for f in schema if not (f.metadata or {}).get(DESCRIPTION.encode())]
            assert missing == [], (table, missing)
    assert (
        pg_rows(
            cluster,
            """
        select c.relname, a.attname from pg_attribute a join pg_class c on c.oid = a.attrelid
        where c.relnamespace = %s::regnamespace and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped
          and coalesce(col_description(c.oid, a.attnum), '') = ''""",
            [SCHEMA],
        )
        == []
    )
    assert pg_rows(
        cluster,
        "select count(*) from pg_class c where c.relnamespace = %s::regnamespace and "
        "c.relkind = 'r' and coalesce(obj_description(c.oid, 'pg_class'), '') <> ''",
        [SCHEMA],
    ) == [(len(PUBLISHED_TABLES),)]
    assert pg_rows(cluster, "select col_description('alms.accounts'::regclass, 10)")[0][0] == BILLING_12M


def test_sellers_add_up_to_every_account_once_and_amounts_say_their_currency(published, cluster):
    sellers = {
        row[0]: row
        for row in pg_rows(
            cluster,
            "select owner_id, seller_name, has_known_seller, accounts, "
            "billing_12m, reporting_currency from alms.sellers",
        )
    }
    accounts, billing = pg_rows(cluster, "select count(*), sum(billing_12m) from alms.accounts")[0]
    assert sum(row[3] for row in sellers.values()) == accounts
    assert sum(row[4] for row in sellers.values()) == billing
    assert sellers["S3"][1:4] == ("Nora New", True, 0)  # a seller without accounts has a row
    assert sellers[None][1:3] == ("(unassigned)", False)  # loc:L9 has no owner
    amounts = pg_rows(
        cluster,
        "select distinct c.table_name from information_schema.columns c join "
        "information_schema.tables t using (table_schema, table_name) where c.table_schema = %s "
        "and c.data_type = 'numeric' and t.table_type = 'BASE TABLE'",
        [SCHEMA],
    )
    # accounts, key_levels, key_level_reruns, seller lists, scores, history, files, billing, sellers, outcomes
    assert len(amounts) == 10
    for (table,) in amounts:  # key_level_reruns is empty until a review is re-run (the readers' test re-runs two)
        assert set(pg_rows(cluster, f"select distinct reporting_currency from alms.{table}")) <= {("USD",)}, table


def test_the_reader_role_can_select_and_nothing_more(published, cluster):
    with cluster.connect("metabase", READER_PASSWORD, "alms") as reader:
        assert reader.execute("select count(*) from alms.accounts").fetchone()[0] > 0
        with pytest.raises(errors.InsufficientPrivilege):
            reader.execute("insert into alms.sellers (owner_id, seller_name) values ('X', 'x')")
        with pytest.raises(errors.InsufficientPrivilege):
            reader.execute("delete from alms.accounts")
        with pytest.raises(errors.InsufficientPrivilege):
            reader.execute("create table alms.mine (x int)")
        with pytest.raises(errors.InsufficientPrivilege):
            reader.execute("drop table alms.accounts")
    with cluster.connect("metabase", READER_PASSWORD, "alms") as reader:  # and the deprecated views of old names
        for new, old in OLD_NAMES.items():
            if old.table != new:
                assert reader.execute(f"select count(*) from alms.{old.table}").fetchone()[0] == published_rows(
                    published, new
                ), old.table
    with cluster.connect("someone_else", READER_PASSWORD, "alms") as other, pytest.raises(errors.InsufficientPrivilege):
        other.execute("select count(*) from alms.accounts")  # only the configured role reads


def _everything_a_run_leaves(env: dict) -> str:
    """The text of every place a run writes: Dagster's event log (every log line and metadata), run tags, run config
    and job snapshots, the files under DAGSTER_HOME (compute logs included) and the output folder."""
    from dagster._serdes import serialize_value

    texts = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
        with dg.DagsterInstance.get() as instance:
            for run in instance.get_runs():
                texts += [serialize_value(run), serialize_value(instance.get_job_snapshot(run.job_snapshot_id))]
                texts += [serialize_value(record) for record in instance.all_logs(run.run_id)]
    for root in (env["DAGSTER_HOME"], env["ALMS_OUTPUT_DIR"]):
        for path in Path(root).rglob("*"):
            if path.is_file() and not path.is_symlink():
                texts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(texts)


def test_the_password_never_appears(published, cluster):
    text = _everything_a_run_leaves(published["env"])
    assert published["env"]["ALMS_DATA_DIR"] in text  # the search reaches run tags and snapshots
    assert "ALMS_POSTGRES_DSN" in text  # the job snapshot names the variable ...
    assert PASSWORD not in text  # ... and nothing anywhere holds its value
    assert cluster.dsn() not in text
    # a failed connection's error: wrong password, and an unparseable DSN
    target = PostgresTarget(dsn=cluster.dsn(password=PASSWORD + "-wrong"), schema=SCHEMA)
    with pytest.raises(PostgresError) as failed:
        publish_to_postgres(target, published["publication"], read_manifest(published["publication"]), run_id="x")
    message = str(failed.value)
    assert "password authentication failed" in message and "\n" not in message
    assert PASSWORD not in message and describe_target(cluster.dsn(), SCHEMA) in message
    with pytest.raises(SettingsError) as unparseable:
        settings_from_env({"ALMS_POSTGRES_DSN": f"host=x password={PASSWORD} {PASSWORD}"})
    assert PASSWORD not in str(unparseable.value) and str(unparseable.value).startswith("ALMS_POSTGRES_DSN is not")


def test_what_is_shown_of_a_dsn():
    uri = f"postgresql://alms:{PASSWORD}@db.example:5433/bi?sslmode=require"
    assert describe_target(uri, "alms") == "host=db.example port=5433 dbname=bi user=alms sslmode=require schema=alms"
    assert parse_dsn(uri)["password"] == PASSWORD
    assert scrub(f"could not connect with {uri}:\n {PASSWORD}", uri) == "could not connect with ***: ***"
    assert scrub(f"x {PASSWORD}", f"host=h password='{PASSWORD}'") == "x ***"
    assert (
        postgres_type("DECIMAL(38,2)") == "numeric(38, 2)"
        and postgres_type("TIMESTAMP WITH TIME ZONE") == "timestamptz"
    )
    with pytest.raises(PostgresError, match="no equivalent type for DuckDB INTEGER\\[\\]"):
        postgres_type("INTEGER[]")


def test_a_mismatch_with_the_duckdb_publication_fails_with_one_line(published, cluster):
    publication = published["publication"]
    manifest = read_manifest(publication)
    wrong = {**manifest, "publication": "mismatch", "tables": {**manifest["tables"], "marts.accounts": 1}}
    target = PostgresTarget(dsn=cluster.dsn(), schema=SCHEMA)
    with pytest.raises(
        PostgresError,
        match=r"^PostgreSQL: the DuckDB publication does not match its manifest: "
        r"marts.accounts 1 in the manifest, \d+ in the file$",
    ):
        publish_to_postgres(target, publication, wrong, run_id="mismatch")
    assert pg_rows(cluster, "select obj_description(%s::regnamespace, 'pg_namespace')", [SCHEMA])[0][0].startswith(
        f"alms publication {publication.name}"
    )


def test_a_session_holding_the_tables_makes_the_swap_wait_then_fail_with_one_line(published, cluster):
    publication = published["publication"]
    other = {**read_manifest(publication), "publication": "lock-test"}
    target = PostgresTarget(dsn=cluster.dsn(), schema=SCHEMA, reader_role="bi_reader", lock_timeout=1)
    with cluster.connect("metabase", READER_PASSWORD, "alms") as holder:
        holder.autocommit = False
        holder.execute("select count(*) from alms.key_levels")  # an open transaction holds its lock
        pid = holder.info.backend_pid
        started = time.perf_counter()
        with pytest.raises(PostgresError) as failed:
            publish_to_postgres(target, publication, other, run_id="lock-test")
        waited = time.perf_counter() - started
        assert holder.execute("select count(*) from alms.accounts").fetchone()[0] > 0  # the reader went on, unharmed
        holder.rollback()
    message = str(failed.value)
    assert message.startswith("PostgreSQL: the tables of schema alms stayed in use for 1 s (held by pid "), message
    assert f"pid {pid} user metabase" in message and "\n" not in message and 1 <= waited < 10
    assert pg_rows(cluster, "select nspname from pg_namespace where nspname like 'alms\\_%%'") == []  # stage dropped
    assert pg_rows(cluster, "select obj_description(%s::regnamespace, 'pg_namespace')", [SCHEMA])[0][0].startswith(
        f"alms publication {publication.name}"
    )
    result = publish_to_postgres(target, publication, other, run_id="lock-test")  # free: it goes through
    assert result.state == "published" and result.swap_attempts == 1
    with cluster.connect("metabase", READER_PASSWORD, "alms") as reader:  # grants hold on the swapped-in schema
        assert reader.execute("select count(*) from alms.accounts").fetchone()[0] > 0


def test_a_view_of_someone_else_over_the_tables_stops_the_swap_instead_of_being_dropped(published, cluster):
    publication = published["publication"]
    other = {**read_manifest(publication), "publication": "view-test"}
    target = PostgresTarget(dsn=cluster.dsn(), schema=SCHEMA, reader_role="bi_reader")
    with cluster.connect(dbname="alms") as admin:
        admin.execute("create view public.key_accounts as select * from alms.accounts where is_key_account")
        try:
            with pytest.raises(
                PostgresError,
                match=r"cannot drop desired object\(s\) because other objects depend on them "
                r"\(view key_accounts depends on table alms_old_viewtest\.accounts\)$",
            ):
                publish_to_postgres(target, publication, other, run_id="view-test")
            assert admin.execute("select count(*) from public.key_accounts").fetchone()[0] >= 0  # still there
        finally:
            admin.execute("drop view public.key_accounts")
    assert pg_rows(cluster, "select nspname from pg_namespace where nspname like 'alms\\_%%'") == []


def test_an_outage_fails_the_step_with_one_line_and_leaves_duckdb_published(published, cluster):
    env = published["env"]
    before = current_publication(published["output"])
    cluster.stop()
    try:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            # the publications only, on the module run's tables
            publication = downstream_of("marts/publication")
            success, failures, run_id = execute_pipeline(quiet=True, log_level="CRITICAL", selection=publication)
    finally:
        cluster.start()
    assert not success and len(failures) == 1, failures
    line = failures[0]
    assert line.startswith(
        f"step marts__postgres_publication failed: PostgreSQL ({describe_target(cluster.dsn(), SCHEMA)}): "
        "connection is bad: connection to server on socket "
    ), line
    assert line.endswith("Is the server running locally and accepting connections on that socket?")
    assert PASSWORD not in line and "\n" not in line
    now = current_publication(published["output"])
    assert now != before and read_manifest(now)["run_id"] == run_id  # DuckDB published and current
    recorded = read_manifest(now)["postgres"]
    assert recorded["state"] == "failed" and recorded["error"] == line.removeprefix(
        "step marts__postgres_publication failed: "
    )
    comment = pg_rows(cluster, "select obj_description(%s::regnamespace, 'pg_namespace')", [SCHEMA])[0][0]
    assert not comment.startswith(f"alms publication {now.name}")  # PostgreSQL still shows an earlier publication
    assert PASSWORD not in _everything_a_run_leaves(env)


READER = r"""
import json, os, sys, time
import psycopg

dsn, stop_file, report_file, kind = sys.argv[1:5]
errors, versions, queries = [], set(), 0
conn = psycopg.connect(dsn, autocommit=True)  # held for the whole test, like a BI tool's pooled connection
ONE_STATEMENT = '''
    select
        (select count(*) from alms.accounts where is_key_account),
        (select count(*) from alms.accounts where is_key_account and key_level = (select key_level from alms.key_levels where is_current)),
        (select count(*) from alms.seller_account_lists where designation = 'key'),
        (select sum(key_accounts) from alms.sellers),
        (select max(computed_at)::text from alms.key_levels)
'''
print("ready", flush=True)
while not os.path.exists(stop_file):
    try:
        if kind == "statement":  # each query its own transaction
            counts = conn.execute(ONE_STATEMENT).fetchone()
        else:  # several statements in one transaction
            with conn.transaction():
                version = conn.execute("select max(computed_at)::text from alms.key_levels").fetchone()[0]
                in_accounts = conn.execute("select count(*) from alms.accounts where is_key_account").fetchone()[0]
                time.sleep(0.02)  # a transaction open most of the time: a swap that did not wait for it would show
                in_lists = conn.execute("select count(*) from alms.seller_account_lists where designation = 'key'").fetchone()[0]
                in_sellers = conn.execute("select sum(key_accounts) from alms.sellers").fetchone()[0]
                level = conn.execute("select count(*) from alms.accounts where key_level = (select key_level from alms.key_levels where is_current)").fetchone()[0]
                total = conn.execute("select count(*) from alms.accounts").fetchone()[0]
            counts = (in_accounts, in_accounts if level == total else -1, in_lists, in_sellers, version)
        if not counts[0] == counts[1] == counts[2] == counts[3]:
            errors.append(f"a mix of two publications: {counts}")
        versions.add(counts[4])
    except Exception as error:
        errors.append(f"{type(error).__name__}: {error}")
    queries += 1
    time.sleep(0.02)  # a dashboard polling hard, not a busy loop: the suite shares two cores
with open(report_file, "w") as handle:
    json.dump({"errors": errors[:20], "error_count": len(errors), "queries": queries, "versions": sorted(versions)}, handle)
"""


def test_readers_see_the_old_or_the_new_publication_never_a_mix(published, cluster, tmp_path):
    env = published["env"]
    stop_file = tmp_path / "stop"
    readers = {
        kind: subprocess.Popen(
            [
                sys.executable,
                "-c",
                READER,
                cluster.dsn("metabase", READER_PASSWORD),
                str(stop_file),
                str(tmp_path / f"{kind}.json"),
                kind,
            ],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for kind in ("statement", "transaction")
    }
    outcomes = []
    try:
        for reader in readers.values():
            assert reader.stdout.readline().strip() == "ready", reader.stderr.read()
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            changed = downstream_of(*KEY_LEVEL_ASSETS)  # what a new key share changes, on the module run's tables
            for share in ("0.5", "1"):  # each publication has other key counts
                patch.setenv("ALMS_KEY_SHARE", share)
                patch.setenv("ALMS_REVIEW_REASON", f"key share changed to {share}")
                outcomes.append(execute_pipeline(quiet=True, log_level="CRITICAL", selection=changed))
                time.sleep(0.3)
    finally:
        stop_file.touch()
        for reader in readers.values():
            reader.communicate(timeout=60)
    assert all(success for success, _, _ in outcomes), outcomes
    reports = {kind: json.loads((tmp_path / f"{kind}.json").read_text()) for kind in readers}
    for kind, report in reports.items():
        print(
            f"PostgreSQL reader ({kind}): {report['queries']} queries, {report['error_count']} errors, "
            f"{len(report['versions'])} publications seen"
        )
        assert report["error_count"] == 0, (kind, report["errors"])
        assert report["queries"] > 50, kind
        assert len(report["versions"]) >= 2, kind  # it saw the publications change under it
    publication = current_publication(published["output"])
    manifest = read_manifest(publication)
    assert manifest["postgres"]["state"] == "published"  # after the outage, the next run caught up
    assert pg_rows(cluster, "select key_share from alms.key_levels") == [(1.0,)]
    assert pg_rows(cluster, "select count(*), min(reporting_currency) from alms.key_level_reruns") == [(2, "USD")]
    assert pg_rows(cluster, "select obj_description(%s::regnamespace, 'pg_namespace')", [SCHEMA])[0][0].startswith(
        f"alms publication {publication.name}"
    )
