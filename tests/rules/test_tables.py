"""assets/rules/tables.py: the scratch connection shared by small questions over frames."""

import multiprocessing
import threading

import duckdb
import polars as pl
import pytest

from assets.rules.tables import scratch


def test_a_scratch_connection_keeps_its_frames_to_itself():
    first, second = scratch(), scratch()
    first.register("words", pl.DataFrame({"token": ["acme", "globex"]}))
    second.register("words", pl.DataFrame({"token": ["initech"]}))
    assert first.sql("select count(*) from words").fetchall() == [(2,)]
    assert second.sql("select count(*) from words").fetchall() == [(1,)]
    first.close()
    with pytest.raises(duckdb.CatalogException):
        scratch().sql("select * from words").fetchall()  # a new cursor sees neither
    assert second.sql("select token from words").fetchall() == [("initech",)]  # closing one leaves the other's
    second.close()


def test_threads_ask_at_once():
    answers, errors = {}, []

    def ask(n: int) -> None:
        try:
            with scratch() as conn:
                conn.register("numbers", pl.DataFrame({"n": list(range(n))}))
                answers[n] = conn.sql("select sum(n) from numbers").fetchall()[0][0]
        except Exception as error:  # reported below: an assertion in a thread would not fail the test
            errors.append(error)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(10, 60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and answers == {n: n * (n - 1) // 2 for n in range(10, 60)}


def _child_answer(queue) -> None:
    with scratch() as conn:
        queue.put(conn.sql("select 41 + 1").fetchall()[0][0])


def test_a_forked_child_opens_its_own_database():
    """The parent's database was opened before the fork: the child must not use it (a DuckDB database is not
    shared across processes; using the inherited one can hang or crash the child)."""
    scratch().close()
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child_answer, args=(queue,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0 and queue.get(timeout=5) == 42
