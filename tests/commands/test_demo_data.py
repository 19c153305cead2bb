"""The demo / benchmark data generator: determinism, the input contract, realism and the truth files."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

import polars as pl
import pytest

from assets.rules.inputs import ACCOUNT_OVERRIDES, BILLING, ENGAGEMENT, OPPORTUNITIES, PROSPECTS, SELLER_PICKS
from assets.rules.inputs import CLIENTS as CLIENTS_SPEC
from pipelines.commands import cli
from pipelines.commands.demo_data import FAULT_REASONS, SYSTEMS, generate_demo_data, main

CLIENTS = 2000
CLIENT_COLUMNS = list(CLIENTS_SPEC.columns)
BILLING_COLUMNS = list(BILLING.columns)
ENGAGEMENT_COLUMNS = list(ENGAGEMENT.columns)
OPEN_STAGES = ["prospecting", "qualification", "proposal", "negotiation"]
STAGE_PERCENT = {
    "prospecting": (5, 15),
    "qualification": (15, 30),
    "proposal": (35, 65),
    "negotiation": (60, 90),
    "closed_won": (100, 100),
    "closed_lost": (0, 0),
}
AS_OF, EXTRACT_END = "2026-10-31", "2026-11-10"  # the default window: end_month 2026-10, extract to 10 November
KNOWN_CURRENCIES = {"USD", "CAD", "EUR"}
AMOUNT_RE = re.compile(r"^-?[0-9]+\.[0-9]{2}$")
ID_RE = {
    "nat_erp": re.compile(r"^N[0-9]{7}$"),
    "loc_billing": re.compile(r"^L-[0-9]{6}$"),
    "crm_legacy": re.compile(r"^CRM-[0-9]{5}$"),
}


def read(path: Path) -> pl.DataFrame:
    """Every column as text (empty -> null), whatever the format."""
    if path.suffix == ".parquet":
        return pl.read_parquet(path).select(pl.all().cast(pl.String))
    return pl.read_csv(path, infer_schema=False)


def read_dir(folder: Path, pattern: str) -> pl.DataFrame:
    return pl.concat([read(p) for p in sorted(folder.glob(pattern))])


def iso_date(text: str | None) -> bool:
    if text is None or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        return False
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo")
    messages: list[str] = []
    summary = generate_demo_data(out, clients=CLIENTS, seed=11, progress=messages.append)
    assert messages, "progress callback was never called"
    return out, summary


@pytest.fixture(scope="module")
def tables(demo) -> dict[str, pl.DataFrame]:
    out, _ = demo
    billing = pl.concat(
        [
            read(p).with_columns(source_file=pl.lit(f"billing/{p.name}")).with_row_index("source_row", offset=1)
            for p in sorted((out / "billing").glob("*.csv"))
        ]
    )
    return {
        "clients": read_dir(out / "clients", "*.csv"),
        "billing": billing,
        "engagement": read_dir(out / "engagement", "*.csv"),
        "truth": read(out / "_truth" / "client_entities.csv"),
        "faults": read(out / "_truth" / "faults.csv"),
        "fx": read(out / "fx_rates.csv"),
        "sellers": read(out / "sellers.csv"),
        "opportunities": read_dir(out / "opportunities", "*.csv"),
        "prospects": read(out / "prospects" / "prospects.csv"),
        "prospect_truth": read(out / "_truth" / "prospect_entities.csv"),
        "picks": read(out / "seller_picks.csv"),
        "overrides": read(out / "overrides.csv"),
    }


def clean_lines(tables) -> pl.DataFrame:
    """Billing lines not listed in faults.csv, with the amount as a number."""
    faults = tables["faults"].select("source_file", pl.col("source_row").cast(pl.UInt32))
    return (
        tables["billing"]
        .join(faults, on=["source_file", "source_row"], how="anti")
        .with_columns(value=pl.col("amount").cast(pl.Float64))
    )


# --------------------------------------------------------------------------------------------------------------------


def test_same_seed_gives_identical_files(tmp_path, demo):
    out, _ = demo
    again = tmp_path / "again"
    generate_demo_data(again, clients=CLIENTS, seed=11)
    assert tree_bytes(again) == tree_bytes(out)
    other = tmp_path / "other"
    generate_demo_data(other, clients=CLIENTS, seed=12)
    assert (other / "clients" / "nat_erp.csv").read_bytes() != (out / "clients" / "nat_erp.csv").read_bytes()


def test_demo_profile_files_are_unchanged(tmp_path):
    """The demo profile's bytes, as the generator wrote them before the hard profile existed (tests and the README
    quote its figures). A deliberate change to the demo data updates this digest."""
    digest = hashlib.sha256()
    generate_demo_data(tmp_path / "default", clients=500, seed=3)
    generate_demo_data(tmp_path / "demo", clients=500, seed=3, profile="demo")
    files = tree_bytes(tmp_path / "default")
    assert files == tree_bytes(tmp_path / "demo")
    for name, content in files.items():
        digest.update(name.encode())
        digest.update(hashlib.sha256(content).hexdigest().encode())
    assert digest.hexdigest() == "4d20fbd00c69e89a991af5ada158fd8b899b7c6efb51372d01dca3904b3b0d6d"
    assert not (tmp_path / "demo" / "_truth" / "record_variations.csv").exists()


def test_layout_and_column_contract(demo):
    out, summary = demo
    months = summary["months"]
    assert len(months) == 14 + 1 and months[-2] == "2026-10" and months[-1] == "2026-11"
    assert sorted(p.name for p in (out / "clients").iterdir()) == sorted(f"{s}.csv" for s in SYSTEMS)
    expected_billing = {f"{s}_{m}.csv" for s in SYSTEMS for m in months}
    assert {p.name for p in (out / "billing").iterdir()} == expected_billing
    assert {p.name for p in (out / "engagement").iterdir()} == expected_billing
    assert sorted(p.name for p in (out / "opportunities").iterdir()) == sorted(f"{s}.csv" for s in SYSTEMS)
    assert [p.name for p in (out / "prospects").iterdir()] == ["prospects.csv"]
    headers = {
        "clients/*.csv": CLIENT_COLUMNS,
        "billing/*.csv": BILLING_COLUMNS,
        "engagement/*.csv": ENGAGEMENT_COLUMNS,
        "opportunities/*.csv": list(OPPORTUNITIES.columns),
        "prospects/*.csv": list(PROSPECTS.columns),
        "seller_picks.csv": list(SELLER_PICKS.columns),
        "overrides.csv": list(ACCOUNT_OVERRIDES.columns),
        "sellers.csv": ["owner_id", "seller_name", "team"],
        "fx_rates.csv": ["currency", "month", "rate_to_reporting"],
        "_truth/client_entities.csv": ["source_system", "source_client_id", "entity_id"],
        "_truth/faults.csv": ["input", "source_file", "source_row", "expected_reason"],
        "_truth/prospect_entities.csv": ["prospect_id", "entity_id"],
    }
    written = 0
    for pattern, columns in headers.items():
        files = sorted(out.glob(pattern))
        assert files, pattern
        for path in files:
            assert path.read_text(encoding="utf-8").splitlines()[0] == ",".join(columns), path
            written += 1
    assert summary["files_written"] == written == len([p for p in out.rglob("*") if p.is_file()])
    assert summary["client_records"] == CLIENTS


def test_client_values(tables):
    clients, sellers = tables["clients"], tables["sellers"]
    assert clients.height == CLIENTS
    assert clients["segment"].is_in(["local", "national"]).all()
    assert clients.filter(pl.col("source_system") == "nat_erp")["segment"].eq("national").all()
    assert clients.filter(pl.col("source_system") == "loc_billing")["segment"].eq("local").all()
    for system, pattern in ID_RE.items():
        ids = clients.filter(pl.col("source_system") == system)["source_client_id"]
        assert ids.len() > 0 and all(pattern.match(i) for i in ids), system
    assert clients.select(pl.struct("source_system", "source_client_id").is_duplicated().any()).item() is False
    assert all(iso_date(d) for d in clients["customer_since"])
    employees = clients["employee_count"].drop_nulls()
    assert employees.str.contains(r"^[0-9]+$").all() and employees.cast(pl.Int64).min() >= 1
    assert 0.5 < clients["domain"].is_not_null().mean() < 0.7
    assert clients["domain"].drop_nulls().str.contains(r"^(https?://)?(www\.)?[a-z0-9-]+\.[a-z]+/?$").all()
    assert (
        clients["postal_code"].str.contains(r"^([0-9]{5}(-[0-9]{4})?|[A-Za-z][0-9][A-Za-z] ?[0-9][A-Za-z][0-9])$").all()
    )
    assert set(clients["country"].drop_nulls()) <= {"US", "USA", "United States", "CA", "Canada"}
    phones = clients["phone"].drop_nulls()
    assert phones.str.replace_all(r"[^0-9]", "").str.len_chars().is_in([10, 11]).all()
    assert phones.str.slice(0, 1).n_unique() >= 3  # several formats: "(415) ...", "415-...", "+1 ...", "1-..."
    # owners reference sellers (some records have none); ~1 seller per 150 organisations, at least 5
    assert clients["owner_id"].drop_nulls().is_in(sellers["owner_id"].implode()).all()
    assert clients["owner_id"].is_null().any()
    assert sellers.height >= 5 and sellers["owner_id"].is_unique().all()
    assert clients["industry"].drop_nulls().n_unique() >= 10


def test_truth_covers_every_client_record_once(tables):
    truth, clients = tables["truth"], tables["clients"]
    assert truth.height == clients.height
    key = ["source_system", "source_client_id"]
    assert truth.select(pl.struct(key).is_unique().all()).item()
    assert clients.join(truth, on=key, how="anti").height == 0
    assert truth["entity_id"].is_not_null().all()


def test_overlap_between_and_within_systems(tables):
    per_entity = tables["truth"].group_by("entity_id").agg(records=pl.len(), systems=pl.col("source_system").n_unique())
    cross = (per_entity["systems"] >= 2).mean()
    within = (per_entity["records"] > per_entity["systems"]).mean()
    assert 0.2 <= cross <= 0.3
    assert 0.005 <= within <= 0.03


def test_name_variation_and_hard_cases(tables):
    joined = tables["clients"].join(tables["truth"], on=["source_system", "source_client_id"])
    names = joined.group_by("entity_id").agg(pl.col("name").n_unique().alias("names"), pl.len().alias("n"))
    multi = names.filter(pl.col("n") >= 2)
    assert (multi["names"] >= 2).mean() > 0.5  # records of one organisation usually differ
    all_names = joined["name"]
    for marker in (r"\bL\.L\.C\.", r"\bIncorporated\b", r"\band\b", r"^The ", r"^[^a-z]+$", r"[éèà]"):
        assert all_names.str.contains(marker).any(), marker
    # distinct organisations sharing one head-office address and switchboard phone (branches)
    shared = (
        joined.filter(pl.col("phone").is_not_null())
        .with_columns(phone_digits=pl.col("phone").str.replace_all(r"[^0-9]", "").str.slice(-10))
        .group_by("phone_digits")
        .agg(pl.col("entity_id").n_unique().alias("entities"))
    )
    assert (shared["entities"] >= 2).any()


def test_billing_values_and_invoices(tables):
    lines = clean_lines(tables)
    assert lines["invoice_date"].map_elements(iso_date, return_dtype=pl.Boolean).all()
    assert lines["amount"].str.contains(AMOUNT_RE.pattern).all()
    key = ["source_system", "invoice_id", "line_number"]
    assert lines.select(pl.struct(key).is_unique().all()).item()
    per_invoice = lines.group_by("source_system", "invoice_id").agg(
        n=pl.len(), max_line=pl.col("line_number").cast(pl.Int64).max(), clients=pl.col("source_client_id").n_unique()
    )
    assert per_invoice["n"].min() >= 1 and per_invoice["n"].max() <= 5 and (per_invoice["n"] >= 2).any()
    assert (per_invoice["n"] == per_invoice["max_line"]).all() and (per_invoice["clients"] == 1).all()
    # dates: `months` full months plus days 1-10 of the next one
    dates = lines["invoice_date"]
    assert dates.min() >= "2025-09-01" and dates.max() <= "2026-11-10" and dates.max() >= "2026-11-01"
    # roughly 10 lines per client record
    assert 8 * CLIENTS <= lines.height <= 12 * CLIENTS


def test_heavy_tail_credit_notes_and_dormant_accounts(tables):
    lines = clean_lines(tables).join(tables["truth"], on=["source_system", "source_client_id"])
    fx = tables["fx"].with_columns(pl.col("rate_to_reporting").cast(pl.Float64))
    usd = (
        lines.with_columns(month=pl.col("invoice_date").str.slice(0, 7))
        .join(fx, on=["currency", "month"], how="left")
        .with_columns(usd=pl.col("value") * pl.col("rate_to_reporting").fill_null(1.0))
    )
    per_entity = (
        usd.group_by("entity_id")
        .agg(positive=pl.col("usd").clip(0).sum(), net=pl.col("usd").sum())
        .sort("positive", descending=True)
    )
    organisations = tables["truth"]["entity_id"].n_unique()
    top = per_entity["positive"].head(organisations // 4).sum() / per_entity["positive"].sum()
    assert top > 0.6
    credit_share = (lines["value"] < 0).mean()
    assert 0.01 < credit_share < 0.05
    assert (per_entity["net"] < 0).any()  # some organisations with credit notes exceeding invoices
    assert per_entity.height < organisations  # some organisations with no billing in the window (dormant)


def test_currencies_and_fx_rates(tables):
    lines = clean_lines(tables)
    fx = tables["fx"]
    by_system = {s: set(lines.filter(pl.col("source_system") == s)["currency"]) for s in SYSTEMS}
    assert by_system["nat_erp"] == {"USD"}
    assert by_system["loc_billing"] == {"CAD", "USD"}
    assert by_system["crm_legacy"] == {"EUR"}
    assert "USD" not in set(fx["currency"])
    assert fx["month"].str.contains(r"^[0-9]{4}-[0-9]{2}$").all()
    assert fx.select(pl.struct("currency", "month").is_unique().all()).item()
    needed = (
        lines.filter(pl.col("currency") != "USD")
        .select("currency", month=pl.col("invoice_date").str.slice(0, 7))
        .unique()
    )
    assert needed.join(fx, on=["currency", "month"], how="anti").height == 0
    rates = (
        fx.with_columns(pl.col("rate_to_reporting").cast(pl.Float64))
        .group_by("currency")
        .agg(lo=pl.col("rate_to_reporting").min(), hi=pl.col("rate_to_reporting").max())
    )
    bounds = {"CAD": (0.6, 0.85), "EUR": (0.9, 1.3)}
    for currency, lo, hi in rates.iter_rows():
        assert bounds[currency][0] < lo <= hi < bounds[currency][1]
    assert fx["rate_to_reporting"].str.contains(r"^[0-9]+\.[0-9]{6}$").all()


def test_engagement_events(tables):
    events = tables["engagement"]
    assert 4 * CLIENTS <= events.height <= 6 * CLIENTS
    assert set(events["event_type"]) == {"meeting", "email", "product_usage", "support_ticket", "web_visit", "survey"}
    assert events["quantity"].str.contains(r"^[1-9][0-9]*$").all()
    assert events["event_date"].map_elements(iso_date, return_dtype=pl.Boolean).all()
    known = tables["clients"].select("source_system", "source_client_id")
    assert events.join(known, on=["source_system", "source_client_id"], how="anti").height == 0


def entity_billing_usd(tables) -> pl.DataFrame:
    """12-month billing in USD per organisation (entity_id) from the clean lines up to the as-of date."""
    fx = tables["fx"].with_columns(pl.col("rate_to_reporting").cast(pl.Float64))
    return (
        clean_lines(tables)
        .filter(pl.col("invoice_date").is_between(pl.lit("2025-11-01"), pl.lit(AS_OF)))
        .join(tables["truth"], on=["source_system", "source_client_id"])
        .with_columns(month=pl.col("invoice_date").str.slice(0, 7))
        .join(fx, on=["currency", "month"], how="left")
        .group_by("entity_id")
        .agg(billing=(pl.col("value") * pl.col("rate_to_reporting").fill_null(1.0)).sum())
    )


def test_opportunities_reference_client_records_and_follow_their_stage(tables):
    deals, clients = tables["opportunities"], tables["clients"]
    assert 0.3 * CLIENTS <= deals.height <= 0.5 * CLIENTS
    key = ["source_system", "source_client_id"]
    assert deals.join(clients, on=key, how="anti").height == 0
    assert deals.select(pl.struct("source_system", "opportunity_id").is_unique().all()).item()
    assert deals.select(pl.col(c).is_not_null().all() for c in OPPORTUNITIES.required).row(0) == (True,) * 6
    assert set(deals["stage"]) == set(STAGE_PERCENT)
    assert 0.5 <= deals["stage"].is_in(OPEN_STAGES).mean() <= 0.7
    assert deals["amount"].str.contains(AMOUNT_RE.pattern).all() and deals["amount"].cast(pl.Float64).min() > 0
    # the record's billing currency
    assert set(deals.filter(pl.col("source_system") == "nat_erp")["currency"]) == {"USD"}
    assert set(deals.filter(pl.col("source_system") == "loc_billing")["currency"]) == {"CAD", "USD"}
    assert set(deals.filter(pl.col("source_system") == "crm_legacy")["currency"]) == {"EUR"}
    billed = clean_lines(tables).select(*key, billed_currency="currency").unique()
    assert deals.join(billed, on=key).filter(pl.col("currency") != pl.col("billed_currency")).height == 0
    # probability: a percent on ~70% of rows, inside the stage's range
    with_probability = deals.filter(pl.col("probability").is_not_null())
    assert 0.6 <= with_probability.height / deals.height <= 0.8
    assert with_probability["probability"].str.contains(r"^[0-9]+$").all()
    for stage, percent in with_probability.select("stage", pl.col("probability").cast(pl.Int64)).iter_rows():
        low, high = STAGE_PERCENT[stage]
        assert low <= percent <= high, (stage, percent)
    # dates: open deals close after the extract, closed ones closed by the as-of date, never before they opened
    assert all(iso_date(d) for d in deals["expected_close_date"]) and all(iso_date(d) for d in deals["created_date"])
    open_deals = deals.filter(pl.col("stage").is_in(OPEN_STAGES))
    assert (
        open_deals["expected_close_date"].min() > EXTRACT_END
        and open_deals["expected_close_date"].max() <= "2027-08-31"
    )
    assert deals.filter(~pl.col("stage").is_in(OPEN_STAGES))["expected_close_date"].max() <= AS_OF
    assert deals["created_date"].max() <= AS_OF
    assert (deals["created_date"] <= deals["expected_close_date"]).all()


def test_opportunities_favour_large_national_organisations_and_include_pipeline_accounts(tables):
    deals = tables["opportunities"].join(tables["truth"], on=["source_system", "source_client_id"])
    segment = (
        tables["clients"]
        .join(tables["truth"], on=["source_system", "source_client_id"])
        .group_by("entity_id")
        .agg(national=(pl.col("segment") == "national").any())
    )
    per_entity = segment.join(
        deals.group_by("entity_id").agg(deals=pl.len(), amount=pl.col("amount").cast(pl.Float64).median()),
        on="entity_id",
        how="left",
    ).with_columns(pl.col("deals").fill_null(0))
    national, local = per_entity.filter(pl.col("national")), per_entity.filter(~pl.col("national"))
    assert national["deals"].mean() > 2 * local["deals"].mean()
    assert national["amount"].median() > 2 * local["amount"].median()
    # pipeline accounts: organisations with an open deal and no billing at all in the window
    billed = clean_lines(tables).join(tables["truth"], on=["source_system", "source_client_id"])["entity_id"].unique()
    pipeline = deals.filter(pl.col("stage").is_in(OPEN_STAGES) & ~pl.col("entity_id").is_in(billed.implode()))
    assert 1 <= pipeline["entity_id"].n_unique() <= 0.02 * segment.height


def test_prospects_are_new_organisations_except_a_few_clients(tables):
    prospects, truth, clients = tables["prospects"], tables["prospect_truth"], tables["clients"]
    assert prospects.height == round(0.15 * CLIENTS)
    assert prospects["prospect_id"].is_unique().all() and prospects["prospect_id"].str.contains(r"^P[0-9]{6}$").all()
    assert not prospects["prospect_id"].is_in(clients["source_client_id"].implode()).any()
    assert prospects["name"].is_not_null().all()
    owned = prospects["owner_id"].drop_nulls()
    assert owned.is_in(tables["sellers"]["owner_id"].implode()).all()
    assert 0.05 <= prospects["owner_id"].is_null().mean() <= 0.15
    assert prospects["industry"].drop_nulls().is_in(clients["industry"].drop_nulls().unique().implode()).all()
    assert prospects["employee_count"].drop_nulls().str.contains(r"^[1-9][0-9]*$").all()
    assert set(prospects["country"]) <= {"US", "USA", "United States", "CA", "Canada"}
    assert all(iso_date(d) for d in prospects["created_date"]) and prospects["created_date"].max() <= EXTRACT_END
    # the truth: every prospect once; ~3% are existing clients (an entity of the client truth), the rest are not
    assert truth["prospect_id"].sort().equals(prospects["prospect_id"].sort())
    known = truth.filter(pl.col("entity_id").is_not_null())
    assert 0.02 <= known.height / truth.height <= 0.04
    assert known["entity_id"].is_in(tables["truth"]["entity_id"].implode()).all()

    def name_key(column: str) -> pl.Expr:
        return pl.col(column).str.to_lowercase().str.replace_all(r"^the |[^a-z0-9]", "")

    client_names = clients.select(key=name_key("name"))["key"].unique()
    new = prospects.join(known, on="prospect_id", how="anti").select(key=name_key("name"))
    assert not new["key"].is_in(client_names.implode()).any()

    # a client prospect has its organisation's postal code (and domain), so a pipeline can recognise it
    def postal(column: str) -> pl.Expr:
        return pl.col(column).str.to_uppercase().str.replace_all(r"\s|-[0-9]{4}$", "")

    records = tables["truth"].join(clients, on=["source_system", "source_client_id"])
    same = known.join(prospects, on="prospect_id").join(records, on="entity_id", suffix="_client")
    assert same.filter(postal("postal_code") == postal("postal_code_client"))["prospect_id"].n_unique() == known.height
    assert same["domain"].is_not_null().all()


def test_surveys_and_at_risk_signals(tables):
    events = tables["engagement"].with_columns(pl.col("quantity").cast(pl.Int64))
    surveys = events.filter(pl.col("event_type") == "survey")
    assert 0.01 <= surveys.height / events.height <= 0.06
    assert surveys["quantity"].is_between(1, 10).all() and surveys["quantity"].n_unique() >= 8
    # organisations loaded with support tickets in the last 6 months answer surveys with lower scores
    per_entity = (
        events.join(tables["truth"], on=["source_system", "source_client_id"])
        .group_by("entity_id")
        .agg(
            recent=(pl.col("event_date") >= "2026-05-01").sum(),
            tickets=((pl.col("event_type") == "support_ticket") & (pl.col("event_date") >= "2026-05-01")).sum(),
            survey=pl.col("quantity").filter(pl.col("event_type") == "survey").mean(),
        )
        .filter((pl.col("recent") >= 5) & pl.col("survey").is_not_null())
        .with_columns(loaded=pl.col("tickets") / pl.col("recent") >= 0.2)
    )
    loaded, calm = per_entity.filter(pl.col("loaded")), per_entity.filter(~pl.col("loaded"))
    assert loaded.height >= 10 and loaded["survey"].mean() < calm["survey"].mean() - 1


def test_seller_picks_reference_what_the_seller_owns_within_the_limits(tables):
    picks, clients, truth, prospects = tables["picks"], tables["clients"], tables["truth"], tables["prospects"]
    assert set(picks["pick_type"]) == {"target", "lead"}
    assert picks["owner_id"].is_in(tables["sellers"]["owner_id"].implode()).all()
    assert 2 <= picks["owner_id"].n_unique() <= 3
    assert picks.select(pl.struct("owner_id", "pick_type", "reference").is_unique().all()).item()
    counts = picks.group_by("owner_id", "pick_type").len()
    assert counts.filter(pl.col("pick_type") == "target")["len"].is_between(2, 4).all()  # limit 9
    assert counts.filter(pl.col("pick_type") == "lead")["len"].is_between(1, 3).all()  # limit 10
    # targets: a client record of an organisation every record of which the seller owns, far below the key level
    targets = (
        picks.filter(pl.col("pick_type") == "target")
        .with_columns(
            pl.col("reference").str.split_exact(":", 1).struct.rename_fields(["source_system", "source_client_id"])
        )
        .unnest("reference")
    )
    records = clients.join(truth, on=["source_system", "source_client_id"])
    found = targets.join(
        records.select("source_system", "source_client_id", "entity_id"), on=["source_system", "source_client_id"]
    )
    assert found.height == targets.height
    owners = found.join(records.select("entity_id", pl.col("owner_id").alias("record_owner")), on="entity_id")
    assert (owners["record_owner"] == owners["owner_id"]).all()
    billing = entity_billing_usd(tables).filter(pl.col("billing") > 0).sort("billing", descending=True)
    key_level = billing["billing"][-(-billing.height // 4) - 1]  # entity ~ account: the top quarter by count
    assert found.join(billing, on="entity_id")["billing"].max() < key_level
    # leads: prospects the seller owns that are not clients
    leads = picks.filter(pl.col("pick_type") == "lead").join(
        prospects.select(pl.col("prospect_id").alias("reference"), pl.col("owner_id").alias("prospect_owner")),
        on="reference",
    )
    assert leads.height == picks.filter(pl.col("pick_type") == "lead").height
    assert (leads["prospect_owner"] == leads["owner_id"]).all()
    clients_as_prospects = tables["prospect_truth"].filter(pl.col("entity_id").is_not_null())["prospect_id"]
    assert not leads["reference"].is_in(clients_as_prospects.implode()).any()


def test_overrides_are_valid_and_one_has_expired(tables):
    overrides = tables["overrides"]
    assert overrides.height == 5 and overrides.select(pl.all().is_not_null().all()).row(0) == (True,) * 7
    allowed = {"tier": {"high", "medium", "low"}, "designation": {"key", "target", "secondary"}}
    assert all(value in allowed[field] for field, value in overrides.select("field", "value").iter_rows())
    assert set(overrides["field"]) == {"tier", "designation"}
    assert all(iso_date(d) for d in overrides["valid_until"])
    assert (overrides["valid_until"] < AS_OF).sum() == 1 and (overrides["valid_until"] > EXTRACT_END).sum() == 4
    # each on a different organisation (two active overrides of one field of one account stop a run)
    entities = overrides.join(tables["truth"], on=["source_system", "source_client_id"])
    assert entities.height == 5 and entities["entity_id"].is_unique().all()
    assert overrides["set_by"].str.contains(r"^([A-Z][^ ]* [A-Z].*|[a-z.-]+@example\.com)$").all()


def line_faults(row: dict, client_ids: set[tuple[str, str]], seen: set[tuple]) -> set[str]:
    """Every fault a billing line shows (the checks a pipeline would make)."""
    found = set()
    if row["invoice_id"] is None or row["source_client_id"] is None:
        found.add("missing_value")
    if not iso_date(row["invoice_date"]):
        found.add("unparseable_date")
    amount = row["amount"]
    if amount is None or not re.fullmatch(r"[+-]?[0-9]{1,15}(\.[0-9]{1,6})?", amount):
        found.add("unparseable_amount")
    elif abs(float(amount)) >= 1e9:
        found.add("absurd_amount")
    if row["currency"] not in KNOWN_CURRENCIES:
        found.add("unknown_currency")
    if row["source_client_id"] is not None and (row["source_system"], row["source_client_id"]) not in client_ids:
        found.add("unknown_client")
    key = tuple(row[c] for c in BILLING_COLUMNS)
    if key in seen:
        found.add("duplicate_line")
    seen.add(key)
    return found


def test_faults_point_at_lines_that_show_exactly_that_fault(tables):
    faults, billing = tables["faults"], tables["billing"]
    assert set(faults["expected_reason"]) == set(FAULT_REASONS)
    assert (faults["input"] == "billing").all()
    assert faults.height <= 0.001 * billing.height
    expected = {
        (f, int(r)): reason
        for f, r, reason in faults.select("source_file", "source_row", "expected_reason").iter_rows()
    }
    client_ids = set(tables["clients"].select("source_system", "source_client_id").iter_rows())
    seen: set[tuple] = set()
    found = {}
    for row in billing.iter_rows(named=True):  # file order, so a duplicate's copy comes after its original
        problems = line_faults(row, client_ids, seen)
        if problems:
            found[(row["source_file"], row["source_row"])] = problems
    assert set(found) == set(expected), "faults.csv must list exactly the faulty lines"
    for where, reason in expected.items():
        assert found[where] == {reason}, (where, found[where])


def test_no_faults_option(tmp_path):
    summary = generate_demo_data(tmp_path, clients=500, seed=3, faults=False)
    assert summary["fault_lines"] == 0
    assert (tmp_path / "_truth" / "faults.csv").read_text().strip() == "input,source_file,source_row,expected_reason"
    clients = read_dir(tmp_path / "clients", "*.csv")
    client_ids = set(clients.select("source_system", "source_client_id").iter_rows())
    seen: set[tuple] = set()
    for path in sorted((tmp_path / "billing").glob("*.csv")):
        for row in read(path).iter_rows(named=True):
            assert not line_faults(row, client_ids, seen), (path.name, row)


def test_scale_parameter_scales_lines_and_events(tmp_path):
    small = generate_demo_data(tmp_path / "s", clients=800, faults=False)
    large = generate_demo_data(tmp_path / "l", clients=4000, faults=False)
    for summary, clients in ((small, 800), (large, 4000)):
        assert summary["client_records"] == clients
        assert 9 <= summary["billing_lines"] / clients <= 11
        assert 4.5 <= summary["engagement_events"] / clients <= 5.5
        assert 0.3 <= summary["opportunities"] / clients <= 0.5
        assert summary["prospects"] == max(30, round(0.15 * clients))
    assert 4.5 <= large["billing_lines"] / small["billing_lines"] <= 5.5
    assert large["organisations"] > small["organisations"]


def test_parquet_output(tmp_path):
    summary = generate_demo_data(tmp_path, clients=600, seed=5, file_format="parquet")
    assert {p.suffix for p in (tmp_path / "billing").iterdir()} == {".parquet"}
    assert (tmp_path / "sellers.parquet").is_file() and (tmp_path / "fx_rates.parquet").is_file()
    assert (tmp_path / "_truth" / "client_entities.csv").is_file()
    clients = pl.read_parquet(tmp_path / "clients" / "nat_erp.parquet")
    assert clients.columns == CLIENT_COLUMNS
    assert clients.schema["employee_count"] == pl.Int64 and clients.schema["customer_since"] == pl.Date
    billing = pl.read_parquet(tmp_path / "billing" / "loc_billing_2026-03.parquet")
    assert billing.columns == BILLING_COLUMNS and all(t == pl.String for t in billing.schema.values())
    events = pl.read_parquet(tmp_path / "engagement" / "nat_erp_2026-03.parquet")
    assert events.columns == ENGAGEMENT_COLUMNS
    deals = pl.read_parquet(tmp_path / "opportunities" / "loc_billing.parquet")
    assert deals.columns == list(OPPORTUNITIES.columns) and deals.schema["amount"] == pl.String
    assert deals.schema["expected_close_date"] == pl.Date and deals.schema["probability"] == pl.Int64
    prospects = pl.read_parquet(tmp_path / "prospects" / "prospects.parquet")
    assert prospects.columns == list(PROSPECTS.columns) and prospects.height == summary["prospects"]
    for small in ("seller_picks.csv", "overrides.csv", "_truth/prospect_entities.csv"):  # always CSV
        assert (tmp_path / small).is_file()
    faults = read(tmp_path / "_truth" / "faults.csv")
    assert faults.height == summary["fault_lines"] > 0
    for source_file, source_row, reason in faults.select("source_file", "source_row", "expected_reason").iter_rows():
        assert source_file.endswith(".parquet")
        row = pl.read_parquet(tmp_path / source_file).row(int(source_row) - 1, named=True)
        if reason == "missing_value":
            assert row["invoice_id"] is None or row["source_client_id"] is None
        if reason == "unknown_currency":
            assert row["currency"] not in KNOWN_CURRENCIES


def test_other_window_and_cli(tmp_path, capsys):
    assert (
        main(
            [
                str(tmp_path),
                "--clients",
                "300",
                "--seed",
                "2",
                "--no-faults",
                "--end-month",
                "2026-02",
                "--months",
                "3",
                "--quiet",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "client_records: 300" in printed and "fault_lines: 0" in printed
    names = sorted(p.name for p in (tmp_path / "billing").iterdir())
    assert names[:4] == [
        "crm_legacy_2025-12.csv",
        "crm_legacy_2026-01.csv",
        "crm_legacy_2026-02.csv",
        "crm_legacy_2026-03.csv",
    ]
    fx = read(tmp_path / "fx_rates.csv")
    assert sorted(set(fx["month"])) == ["2025-12", "2026-01", "2026-02", "2026-03"]


def _share_of_changed_duplicates(data_dir: Path) -> float:
    """Share of non-primary records whose name differs (beyond case) from the first record of their organisation."""
    truth = pl.read_csv(data_dir / "_truth" / "client_entities.csv", infer_schema=False)
    clients = pl.concat(
        [pl.read_csv(p, infer_schema=False) for p in sorted((data_dir / "clients").glob("*.csv"))], how="diagonal"
    )
    joined = truth.join(clients, on=["source_system", "source_client_id"]).with_columns(
        key=pl.col("name").str.to_lowercase().str.replace_all(r"[^a-z0-9 ]", "")
    )
    groups = joined.group_by("entity_id").agg(pl.col("key")).filter(pl.col("key").list.len() > 1)
    firsts = groups.select(pl.col("key").list.first().alias("first"), pl.col("key").list.slice(1).alias("rest"))
    rest = firsts.explode("rest")
    return float((rest["rest"] != rest["first"]).mean())


def test_noise_scales_how_often_duplicates_differ(tmp_path):
    shares = []
    for noise in (0.0, 1.0, 3.0):
        generate_demo_data(tmp_path / str(noise), clients=3000, seed=4, faults=False, noise=noise)
        shares.append(_share_of_changed_duplicates(tmp_path / str(noise)))
    assert shares[0] < shares[1] < shares[2], shares
    with pytest.raises(ValueError, match="noise"):
        generate_demo_data(tmp_path / "bad", clients=100, noise=-1)


def test_the_demo_folder_is_built_again_when_the_generator_changed(tmp_path, capsys, monkeypatch):
    """`make run`'s demo folder is kept while the generator that built it is the same, and built again (swapped in
    whole: a file the old generator left goes) when its code changed."""
    demo = tmp_path / "demo"
    assert cli.ensure_demo_data(demo, clients=300)
    assert not cli.ensure_demo_data(demo, clients=300)  # the same generator: kept
    (demo / "billing" / "left_by_an_old_generator.csv").write_text("x\n")
    monkeypatch.setattr(cli, "_demo_stamp", lambda clients: "another generator")
    assert cli.ensure_demo_data(demo, clients=300)
    assert "built by another version of the generator" in capsys.readouterr().out
    assert not (demo / "billing" / "left_by_an_old_generator.csv").exists()
    assert (demo / cli.DEMO_STAMP).read_text() == "another generator\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]  # nothing left beside it
