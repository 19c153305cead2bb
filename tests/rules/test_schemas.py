"""schemas.validate_frame: pandera's validation on polars' in-memory engine, polars' engine setting set back afterwards
and the environment's (POLARS_ENGINE_AFFINITY) never touched."""

import os
import threading

import pandera.errors
import pandera.polars as pa
import polars as pl
import pytest
from polars.lazyframe import engine_config

from schemas import validate_frame

SEEN: list[str | None] = []  # the engine each check ran under: its class name, or None for polars' default


class Amounts(pa.DataFrameModel):
    amount: int = pa.Field(ge=0)
    currency: str = pa.Field(isin=["USD", "CAD"])

    @pa.dataframe_check
    @classmethod
    def engine_seen(cls, data) -> bool:
        override = engine_config.get_engine_affinity_override()
        SEEN.append(type(override).__name__ if override is not None else None)
        return True


@pytest.fixture(autouse=True)
def clean():
    before = os.environ.get("POLARS_ENGINE_AFFINITY"), engine_config.get_engine_affinity_override()
    SEEN.clear()
    yield
    pl.Config.set_engine_affinity(before[0])
    engine_config.set_engine_affinity_override(before[1])


def test_a_valid_frame_is_returned_and_checked_in_memory():
    pl.Config.set_engine_affinity(None)
    frame = pl.DataFrame({"amount": [1, 2], "currency": ["USD", "CAD"]})
    assert validate_frame(Amounts, frame).equals(frame)
    assert SEEN == ["InMemoryEngine"]
    assert engine_config.get_engine_affinity_override() is None and "POLARS_ENGINE_AFFINITY" not in os.environ


def test_every_problem_is_reported_and_the_engine_set_back():
    pl.Config.set_engine_affinity(pl.StreamingEngine())  # what a user chose stays theirs
    with pytest.raises(pandera.errors.SchemaErrors) as raised:
        validate_frame(Amounts, pl.DataFrame({"amount": [-1, 2], "currency": ["USD", "EUR"]}))
    report = str(raised.value)
    assert "greater_than_or_equal_to(0)" in report and "isin" in report  # both columns' failures, in one report
    assert SEEN == ["InMemoryEngine"] and isinstance(engine_config.get_engine_affinity_override(), pl.StreamingEngine)


def test_threads_validating_at_once_leave_the_engine_as_it_was():
    pl.Config.set_engine_affinity("streaming")  # in the environment: read, never written, while validating
    frame = pl.DataFrame({"amount": list(range(100)), "currency": ["USD"] * 100})
    errors = []

    def check() -> None:
        try:
            for _ in range(20):
                validate_frame(Amounts, frame)
        except Exception as error:  # reported below: an assertion in a thread would not fail the test
            errors.append(error)

    threads = [threading.Thread(target=check) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(SEEN) == 80 and set(SEEN) == {"InMemoryEngine"}
    assert os.environ["POLARS_ENGINE_AFFINITY"] == "streaming" and engine_config.get_engine_affinity_override() is None
