"""pandera models of the raw layer: the inputs as read and typed, one model per input.

Transactional inputs keep unparseable values as null next to their original text (the staging models quarantine
them), so these models check structure and what must hold of every row: where it came from, and types.
"""

from typing import Annotated

import pandera.polars as pa
import polars as pl

SOURCE_FILE = "Input file the row came from, relative to the input folder."
SOURCE_ROW = "1-based data row in that file (CSV line number minus one: the header is line 1)."
CLEANED_FIELDS = (
    "Columns whose text held control characters (NUL, tab, line breaks, ...), replaced by spaces; null: none did "
    "(marts.quarantined_rows: control_characters, kept_cleaned)."
)


class RawBillingLines(pa.DataFrameModel):
    """Every billing line of every billing file, typed where it parses."""

    source_file: str = pa.Field(description=SOURCE_FILE)
    source_row: int = pa.Field(ge=1, description=SOURCE_ROW)
    source_system: str = pa.Field(nullable=True, description="Billing system that issued the invoice.")
    invoice_id: str = pa.Field(nullable=True, description="Invoice number in that system.")
    line_number: str = pa.Field(nullable=True, description="Line of the invoice; with invoice_id, unique per system.")
    source_client_id: str = pa.Field(nullable=True, description="Client id in that system (see clients).")
    invoice_date_text: str = pa.Field(nullable=True, description="invoice_date exactly as the file holds it.")
    invoice_date: pl.Date = pa.Field(nullable=True, description="Invoice date; null when the text is not ISO 8601.")
    amount_text: str = pa.Field(nullable=True, description="amount exactly as the file holds it.")
    amount: Annotated[pl.Decimal, 38, 6] = pa.Field(
        nullable=True, description="Line amount in its currency (negative for credit notes); null when unparseable."
    )
    currency: str = pa.Field(nullable=True, description="ISO 4217 currency code, upper case.")
    cleaned_fields: str = pa.Field(nullable=True, description=CLEANED_FIELDS)

    class Config:
        strict = True
        unique = ["source_file", "source_row"]


class RawClients(pa.DataFrameModel):
    """Every client record of every source system, typed where it parses."""

    source_file: str = pa.Field(description=SOURCE_FILE)
    source_row: int = pa.Field(ge=1, description=SOURCE_ROW)
    source_system: str = pa.Field(nullable=True, description="System that knows the client under source_client_id.")
    source_client_id: str = pa.Field(nullable=True, description="The client's id in that system.")
    name: str = pa.Field(nullable=True, description="Client name as the system holds it.")
    domain: str = pa.Field(nullable=True, description="Web domain.")
    address: str = pa.Field(nullable=True, description="Street address (house number and street).")
    city: str = pa.Field(nullable=True, description="City.")
    postal_code: str = pa.Field(nullable=True, description="Postal or ZIP code.")
    country: str = pa.Field(nullable=True, description="Country, as written by the source.")
    phone: str = pa.Field(nullable=True, description="Phone number in any format.")
    industry: str = pa.Field(nullable=True, description="Industry.")
    employee_count: int = pa.Field(nullable=True, ge=0, description="Employees; null when missing or unparseable.")
    owner_id: str = pa.Field(nullable=True, description="Seller who owns the client (see sellers).")
    segment: str = pa.Field(nullable=True, isin=["local", "national"], description="local or national.")
    customer_since: pl.Date = pa.Field(nullable=True, description="Customer since; null when missing or unparseable.")
    invalid_fields: str = pa.Field(nullable=True, description="Optional fields whose text did not parse (nulled).")
    cleaned_fields: str = pa.Field(nullable=True, description=CLEANED_FIELDS)

    class Config:
        strict = True
        unique = ["source_file", "source_row"]


class RawEngagementEvents(pa.DataFrameModel):
    """Every engagement event (meetings, emails, product usage, ...), typed where it parses."""

    source_file: str = pa.Field(description=SOURCE_FILE)
    source_row: int = pa.Field(ge=1, description=SOURCE_ROW)
    source_system: str = pa.Field(nullable=True, description="System that recorded the event.")
    source_client_id: str = pa.Field(nullable=True, description="Client id in that system.")
    event_date_text: str = pa.Field(nullable=True, description="event_date exactly as the file holds it.")
    event_date: pl.Date = pa.Field(nullable=True, description="Event date; null when the text is not ISO 8601.")
    event_type: str = pa.Field(nullable=True, description="Kind of event, lower case.")
    quantity_text: str = pa.Field(nullable=True, description="quantity exactly as the file holds it.")
    quantity: int = pa.Field(nullable=True, description="How many events the row stands for (1 when absent).")
    cleaned_fields: str = pa.Field(nullable=True, description=CLEANED_FIELDS)

    class Config:
        strict = True
        unique = ["source_file", "source_row"]


class RawSellers(pa.DataFrameModel):
    """The sellers (account owners)."""

    source_file: str = pa.Field(description=SOURCE_FILE)
    source_row: int = pa.Field(ge=1, description=SOURCE_ROW)
    owner_id: str = pa.Field(unique=True, description="Seller id, as clients.owner_id refers to it.")
    seller_name: str = pa.Field(description="Seller's name.")
    team: str = pa.Field(nullable=True, description="Sales team.")

    class Config:
        strict = True


class RawFxRates(pa.DataFrameModel):
    """Monthly exchange rates into the reporting currency."""

    source_file: str = pa.Field(description=SOURCE_FILE)
    source_row: int = pa.Field(ge=1, description=SOURCE_ROW)
    currency: str = pa.Field(str_matches=r"^[A-Z]{3}$", description="ISO 4217 code of the billed currency.")
    month: pl.Date = pa.Field(description="First day of the month the rate applies to.")
    rate_to_reporting: Annotated[pl.Decimal, 38, 10] = pa.Field(
        gt=0, description="Reporting-currency units per one unit of currency."
    )

    class Config:
        strict = True
        unique = ["currency", "month"]


class RawMatchOverrides(pa.DataFrameModel):
    """Decisions of people on pairs of client records: applied on every run."""

    source_file: str = pa.Field(description=SOURCE_FILE)
    source_row: int = pa.Field(ge=1, description=SOURCE_ROW)
    source_system_1: str = pa.Field(description="First record: source system.")
    source_client_id_1: str = pa.Field(description="First record: client id in that system.")
    source_system_2: str = pa.Field(description="Second record: source system.")
    source_client_id_2: str = pa.Field(description="Second record: client id in that system.")
    decision: str = pa.Field(
        isin=["must_link", "cannot_link"], description="must_link: one account; cannot_link: never one account."
    )
    set_by: str = pa.Field(description="Who decided.")
    reason: str = pa.Field(description="Why.")

    class Config:
        strict = True


class RawOpportunities(pa.DataFrameModel):
    """Every deal (open and closed) of every CRM file in opportunities/, typed where it parses."""

    source_file: str = pa.Field(description=SOURCE_FILE)
    source_row: int = pa.Field(ge=1, description=SOURCE_ROW)
    source_system: str = pa.Field(nullable=True, description="System of the client record the deal belongs to.")
    opportunity_id: str = pa.Field(nullable=True, description="Deal id in that system.")
    source_client_id: str = pa.Field(nullable=True, description="Client id in that system.")
    stage: str = pa.Field(nullable=True, description="Stage, lower case (prospecting ... closed_won, closed_lost).")
    amount_text: str = pa.Field(nullable=True, description="amount exactly as the file holds it.")
    amount: Annotated[pl.Decimal, 38, 6] = pa.Field(nullable=True, description="Deal amount in its currency.")
    currency: str = pa.Field(nullable=True, description="ISO 4217 code of the amount.")
    expected_close_date_text: str = pa.Field(nullable=True, description="expected_close_date as the file holds it.")
    expected_close_date: pl.Date = pa.Field(nullable=True, description="Expected (or actual) close date.")
    probability_text: str = pa.Field(nullable=True, description="probability as the file holds it.")
    probability: float = pa.Field(nullable=True, description="Win probability in percent; null: use the stage's.")
    created_date_text: str = pa.Field(nullable=True, description="created_date as the file holds it.")
    created_date: pl.Date = pa.Field(nullable=True, description="When the deal was opened.")
    cleaned_fields: str = pa.Field(nullable=True, description=CLEANED_FIELDS)

    class Config:
        strict = True
        unique = ["source_file", "source_row"]


class RawProspects(pa.DataFrameModel):
    """Organisations that do not bill yet: lead candidates."""

    source_file: str = pa.Field(description=SOURCE_FILE)
    source_row: int = pa.Field(ge=1, description=SOURCE_ROW)
    prospect_id: str = pa.Field(unique=True, description="Prospect id.")
    name: str = pa.Field(description="Organisation name.")
    domain: str = pa.Field(nullable=True, description="Web domain.")
    address: str = pa.Field(nullable=True, description="Street address.")
    city: str = pa.Field(nullable=True, description="City.")
    postal_code: str = pa.Field(nullable=True, description="Postal code.")
    country: str = pa.Field(nullable=True, description="Country.")
    phone: str = pa.Field(nullable=True, description="Phone.")
    industry: str = pa.Field(nullable=True, description="Industry.")
    employee_count: int = pa.Field(nullable=True, ge=0, description="Employees; null when missing or unparseable.")
    owner_id: str = pa.Field(nullable=True, description="Seller who owns the prospect; null: unassigned.")
    lead_source: str = pa.Field(nullable=True, description="Where the prospect came from (the file's source column).")
    created_date: pl.Date = pa.Field(nullable=True, description="When the prospect was recorded.")
    invalid_fields: str = pa.Field(nullable=True, description="Values that did not parse and were set to null.")
    cleaned_fields: str = pa.Field(nullable=True, description=CLEANED_FIELDS)

    class Config:
        strict = True


class RawSellerPicks(pa.DataFrameModel):
    """Sellers' own target and lead picks (checked against accounts and prospects by the scoring step)."""

    source_file: str = pa.Field(description=SOURCE_FILE)
    source_row: int = pa.Field(ge=1, description=SOURCE_ROW)
    owner_id: str = pa.Field(nullable=True, description="Seller who picks.")
    pick_type: str = pa.Field(nullable=True, description="target or lead.")
    reference: str = pa.Field(nullable=True, description="target: source_system:source_client_id; lead: prospect_id.")
    note: str = pa.Field(nullable=True, description="Free text.")

    class Config:
        strict = True


class RawAccountOverrides(pa.DataFrameModel):
    """Front-line overrides of an account's tier or designation, with who, why and until when."""

    source_file: str = pa.Field(description=SOURCE_FILE)
    source_row: int = pa.Field(ge=1, description=SOURCE_ROW)
    source_system: str = pa.Field(nullable=True, description="A client record of the account: source system.")
    source_client_id: str = pa.Field(nullable=True, description="A client record of the account: client id.")
    field: str = pa.Field(nullable=True, description="tier or designation.")
    value: str = pa.Field(nullable=True, description="tier: high/medium/low; designation: key/target/secondary.")
    set_by: str = pa.Field(nullable=True, description="Who set it.")
    reason: str = pa.Field(nullable=True, description="Why.")
    valid_until: str = pa.Field(nullable=True, description="Last day it applies (YYYY-MM-DD).")

    class Config:
        strict = True


class RawInputFiles(pa.DataFrameModel):
    """Every file of every input in the input folder, as listed when the run read them."""

    input_name: str = pa.Field(description="Input the file belongs to (billing, clients, engagement, sellers, ...).")
    source_file: str = pa.Field(unique=True, description=SOURCE_FILE)
    file_month: str = pa.Field(
        nullable=True, str_matches=r"^[0-9]{4}-[0-9]{2}$", description="Month the path names (YYYY-MM); null: none."
    )
    size_bytes: int = pa.Field(ge=0, description="File size in bytes.")
    modified_at: pl.Datetime("us") = pa.Field(description="Last modification time of the file (UTC).")

    class Config:
        strict = True
