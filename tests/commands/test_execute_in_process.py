"""`pipelines.commands.cli.execute_in_process`: the runs `make run` and the benchmark start keep no step's output in
memory once the step has stored it (Dagster's own `execute_in_process` holds every output until the run ends)."""

import gc
import weakref

import dagster as dg

from pipelines.commands.cli import execute_in_process


class Table:
    """Stands for a step's polars frame: weakly referable, so the test sees whether anything still holds it."""


class Discarding(dg.IOManager):
    def handle_output(self, context, obj) -> None:  # stored elsewhere, as the warehouse IO manager does
        pass

    def load_input(self, context):
        return Table()


def a_job(seen: list):
    @dg.asset
    def table():
        value = Table()
        seen.append(weakref.ref(value))
        return value

    return dg.Definitions(
        assets=[table], resources={"io_manager": Discarding()}
    ).resolve_implicit_global_asset_job_def()


def test_a_run_started_here_keeps_no_output():
    seen = []
    result = execute_in_process(a_job(seen), raise_on_error=False)
    gc.collect()
    assert result.success
    assert seen[0]() is None


def test_dagsters_own_execute_in_process_still_keeps_its_outputs():
    """The wrapper leaves every other caller as Dagster made it (a test's `materialize()` reads output values)."""
    execute_in_process(a_job([]), raise_on_error=False)  # installs the wrapper
    seen = []
    result = a_job(seen).execute_in_process(raise_on_error=False)
    gc.collect()
    assert seen[0]() is not None
    assert isinstance(result.output_for_node("table"), Table)
