"""The rooms of the house (STYLE.md, "Rooms and what each may touch"): every import points down a floor, and the rules
import no Dagster. Read from the source (AST), so an import inside a function counts as much as one at the top. The SQL
models' arrows point one way too: a model reads its own layer or a lower one (raw -> staging -> intermediate -> marts),
read from the SQL by sqlglot.

    3  pipelines/commands/   commands a person runs        may import anything
    2  pipelines/            Dagster wiring                 assets, resources, rules, schemas
    1  assets/               asset modules and their helpers, resources, metadata
    0  assets/rules/, schemas/   Dagster-free rules and the pandera models
"""

from __future__ import annotations

import ast
import gc
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from assets.resources import LAYERS, REPO_ROOT

PACKAGES = ("assets", "pipelines", "schemas")
FLOORS = {0: "rules and schemas", 1: "assets", 2: "wiring", 3: "commands"}


def floor_of(module: str) -> int | None:
    """The floor of a project module (None for anything else: the standard library, third-party packages)."""
    if module.split(".")[0] not in PACKAGES:
        return None
    if module == "assets.rules" or module.startswith(("assets.rules.", "schemas")):
        return 0
    if module.startswith("assets"):
        return 1
    if module == "pipelines.commands" or module.startswith("pipelines.commands."):
        return 3
    return 2


@cache
def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")
            modules[name] = path
    return modules


def parse(path: Path) -> ast.Module:
    """The file's syntax tree, parsed with the garbage collector paused: on Python 3.11 a finalizer that the collector
    runs in the middle of ast.parse (an earlier test's unclosed SQLite connection logging its rollback) fails the parse
    with "AST constructor recursion depth mismatch" (seen under pytest-xdist)."""
    source = path.read_text()
    gc.disable()
    try:
        return ast.parse(source, filename=str(path))
    finally:
        gc.enable()


@cache
def imports_of(path: Path, module: str) -> tuple[tuple[int, str], ...]:
    """(line, imported module) of every import statement in the file, anywhere in it; `from a import b` counts as
    `a.b` when `a.b` is a module of the project, else as `a`."""
    found = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    modules = project_modules()
    for node in ast.walk(parse(path)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against this module's package
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.append((node.lineno, full if full in modules else base))
    return tuple(dict.fromkeys(found))  # `from a import b, c` is one import of a


def upward_imports() -> list[str]:
    problems = []
    for module, path in project_modules().items():
        here = floor_of(module)
        for line, imported in imports_of(path, module):
            there = floor_of(imported)
            if there is not None and there > here:
                problems.append(
                    f"{path.relative_to(REPO_ROOT)}:{line}: {module} ({FLOORS[here]}) imports {imported} "
                    f"({FLOORS[there]}), a floor up"
                )
    return problems


def test_every_import_points_down_a_floor():
    assert upward_imports() == []


def test_the_floors_are_where_the_house_says():
    modules = project_modules()
    assert floor_of("pipelines.definitions") == 2 and floor_of("pipelines.sql_models") == 2
    assert floor_of("pipelines.commands.cli") == 3 and floor_of("pipelines.commands") == 3
    assert floor_of("assets.resources") == 1 and floor_of("assets.scoring") == 1
    assert floor_of("assets.rules.scoring_run") == 0 and floor_of("schemas.marts") == 0
    assert floor_of("dagster") is None and floor_of("polars") is None
    # the wiring is wiring only: every module of pipelines/ outside commands/ is one of these
    wiring = {m for m in modules if floor_of(m) == 2}
    assert wiring == {"pipelines", "pipelines.definitions", "pipelines.automation", "pipelines.sql_models"}


@pytest.mark.parametrize(
    ("module", "source", "upward"),
    [
        ("assets.rules.x", "from assets.resources import Warehouse", True),
        ("assets.rules.x", "def f():\n    from pipelines.commands import cli", True),
        ("schemas.x", "import assets.marts", True),
        ("assets.marts", "from pipelines.definitions import defs", True),
        ("pipelines.definitions", "from pipelines.commands.cli import main", True),
        ("pipelines.definitions", "from assets import marts", False),
        ("pipelines.commands.cli", "from pipelines.definitions import defs", False),
        ("assets.marts", "from assets.rules.key_accounts import designate_key_accounts", False),
        ("assets.rules.x", "import dagster as dg", False),  # a third-party import: the next test's business
    ],
)
def test_the_walk_catches_an_import_up_a_floor(tmp_path, module, source, upward):
    path = tmp_path / "x.py"
    path.write_text(source)
    here = floor_of(module)
    ups = [name for _, name in imports_of(path, module) if floor_of(name) is not None and floor_of(name) > here]
    assert bool(ups) == upward


def _rules_modules() -> list[str]:
    return sorted(m for m in project_modules() if m == "assets.rules" or m.startswith("assets.rules."))


def test_rules_import_no_dagster_in_their_source():
    """No module under assets/rules/ imports dagster, directly or through a project module it imports."""
    modules = project_modules()
    problems, seen, todo = [], set(), [(m, m) for m in _rules_modules()]
    while todo:
        module, via = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        for line, imported in imports_of(modules[module], module):
            if imported.split(".")[0].startswith("dagster"):
                problems.append(f"{via}: {module}:{line} imports {imported}")
            elif imported in modules:
                todo.append((imported, via))
            elif imported.rpartition(".")[0] in modules:  # `from package import name` (not a module)
                todo.append((imported.rpartition(".")[0], via))
    assert problems == []


def test_importing_every_rule_loads_no_dagster():
    """The same, as the interpreter sees it (third-party packages included): every rules module imported in a fresh
    process leaves dagster out of sys.modules."""
    code = (
        "import importlib, sys\n"
        f"for name in {_rules_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0].startswith('dagster')))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    assert completed.stdout.strip() == "[]", completed.stdout


def layers_read(sql: str) -> set[tuple[str, str]]:
    """Every `(layer, table)` the SQL reads, by sqlglot's parse in DuckDB's dialect (independently of the SQL-model
    factory): the qualified tables of every `from` and `join`, in any CTE or subquery. A CTE reference is unqualified;
    the factory refuses a table without its layer."""
    return {(table.db, table.name) for table in sqlglot.parse_one(sql, read="duckdb").find_all(exp.Table) if table.db}


def upward_reads(sql_dir: Path) -> list[str]:
    problems = []
    for path in sorted(sql_dir.glob("*/*.sql")):
        layer = path.parent.name
        for read_layer, table in sorted(layers_read(path.read_text())):
            if read_layer not in LAYERS or LAYERS.index(read_layer) > LAYERS.index(layer):
                problems.append(f"{path.relative_to(sql_dir.parent)} ({layer}) reads {read_layer}.{table}, a layer up")
    return problems


def test_every_sql_model_reads_its_own_layer_or_a_lower_one():
    """Folder = layer = DuckDB schema; a staging model reading an intermediate table would be an arrow pointing up
    (what needs the reporting window is intermediate: docs/layers.md)."""
    assert {path.name for path in (REPO_ROOT / "sql").iterdir() if path.is_dir()} <= set(LAYERS)
    assert len(list((REPO_ROOT / "sql").glob("*/*.sql"))) >= 17
    assert upward_reads(REPO_ROOT / "sql") == []


@pytest.mark.parametrize(
    ("layer", "sql", "upward"),
    [
        ("staging", "with w as (select * from intermediate.int_reporting_windows_resolved) select * from w", True),
        ("staging", "select * from raw.billing_lines where exists (select 1 from marts.accounts)", True),
        ("intermediate", "select * from staging.stg_clients__records join raw.fx_rates on true", False),
        ("marts", "with marts as (select * from intermediate.int_accounts_aggregated) select * from marts", False),
        ("staging", "select * from staging.stg_clients__checked_records", False),
    ],
)
def test_the_walk_catches_a_model_reading_a_layer_up(tmp_path, layer, sql, upward):
    (tmp_path / "sql" / layer).mkdir(parents=True)
    (tmp_path / "sql" / layer / "model.sql").write_text(sql)
    assert bool(upward_reads(tmp_path / "sql")) == upward
