"""The scoring configuration (`scoring.yaml`): read, merged over the shipped default, validated.

The default ships beside this module (`assets/rules/scoring.yaml`). An input folder may hold its own `scoring.yaml`:
each top-level section it has replaces the default's section of that name (a folder that only changes `tiers` writes
only `tiers`).

Validation is pydantic's (every problem at once, each with its key path), reworded so a message names the file and
the key: unknown criteria or keys, negative weights, all weights zero, tier thresholds out of order, a target or lead
limit over the method's maximum. Weights of the enabled criteria that do not sum to 1 are *normalised* (divided by
their sum) and `ScoringConfig.notes` says so; the run logs that note and the UI shows it. Normalising rather than
rejecting lets a user turn one criterion off without re-balancing the others by hand.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from assets.rules.inputs import InputError

DEFAULT_CONFIG_PATH = Path(__file__).resolve().with_name("scoring.yaml")  # the shipped default, beside this module
CRITERIA = ("current_spend", "growth", "whitespace", "likelihood", "engagement", "icp_fit", "tenure", "strategic")
HEALTH_PARTS = ("usage_trend", "satisfaction", "support_load")
EVENT_TYPES = ("meeting", "email", "web_visit", "product_usage", "support_ticket", "survey")
MAX_TARGETS, MAX_LEADS = 9, 10
WEIGHT_TOLERANCE = 1e-9


class ConfigError(InputError):
    """The scoring configuration cannot be used; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# The normalisations each criterion accepts (the first is its default); docs/scoring.md documents each method.
NORMALISATIONS = {
    "current_spend": ("percentile", "log_minmax"),
    "growth": ("ratio",),
    "whitespace": ("percentile", "log_minmax"),
    "likelihood": ("percentile", "log_minmax"),
    "engagement": ("percentile", "log_minmax"),
    "icp_fit": ("fixed",),
    "tenure": ("capped",),
    "strategic": ("fixed",),
}


class Criterion(_Strict):
    weight: float = Field(ge=0)
    enabled: bool = True
    normalisation: Literal["percentile", "log_minmax", "ratio", "fixed", "capped"] | None = None


class Tiers(_Strict):
    high: float = Field(ge=0, le=100)
    medium: float = Field(ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> Tiers:
        if not self.medium < self.high:
            raise ValueError(f"thresholds out of order: medium ({self.medium}) must be below high ({self.high})")
        return self


class Wallet(_Strict):
    per_employee: dict[str, float] = {}
    default_per_employee: float = Field(ge=0)

    @field_validator("per_employee")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [k for k, v in value.items() if v < 0]
        if bad:
            raise ValueError(f"negative spend per employee for {', '.join(bad)}")
        return value


class Icp(_Strict):
    industries: dict[str, float] = {}
    default_industry_fit: float = Field(ge=0, le=100)
    employees_min: int = Field(ge=1)
    employees_max: int = Field(ge=1)

    @model_validator(mode="after")
    def _checked(self) -> Icp:
        bad = [k for k, v in self.industries.items() if not 0 <= v <= 100]
        if bad:
            raise ValueError(f"industry fit must be 0-100: {', '.join(bad)}")
        if self.employees_min > self.employees_max:
            raise ValueError(f"employees_min ({self.employees_min}) is above employees_max ({self.employees_max})")
        return self


class Engagement(_Strict):
    half_life_days: float = Field(gt=0)
    event_weights: dict[str, float]

    @field_validator("event_weights")
    @classmethod
    def _known(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"unknown event type {', '.join(unknown)} (known: {', '.join(EVENT_TYPES)})")
        if any(v < 0 for v in value.values()):
            raise ValueError("event weights must not be negative")
        return value


class Tenure(_Strict):
    cap_years: float = Field(gt=0)


class Strategic(_Strict):
    segments: list[str] = []


class Health(_Strict):
    weights: dict[str, float]
    churn_risk_below: float = Field(ge=0, le=100)
    usage_drop: float = Field(gt=0, le=1)
    upsell_min_health: float = Field(default=60, ge=0, le=100)
    upsell_min_whitespace: float = Field(default=70, ge=0, le=100)

    @field_validator("weights")
    @classmethod
    def _known(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(HEALTH_PARTS))
        if unknown:
            raise ValueError(f"unknown health part {', '.join(unknown)} (known: {', '.join(HEALTH_PARTS)})")
        if any(v < 0 for v in value.values()):
            raise ValueError("health weights must not be negative")
        if sum(value.values()) <= 0:
            raise ValueError("health weights are all zero")
        return value


class Targets(_Strict):
    per_seller: int = Field(ge=0, le=MAX_TARGETS)
    rank_by: list[Literal[CRITERIA]] = ["whitespace", "likelihood"]  # type: ignore[valid-type]


class Leads(_Strict):
    per_seller: int = Field(ge=0, le=MAX_LEADS)


class ScoringConfig(_Strict):
    version: str
    criteria: dict[str, Criterion]
    tiers: Tiers
    wallet: Wallet
    icp: Icp
    stages: dict[str, float]
    engagement: Engagement
    tenure: Tenure
    strategic: Strategic
    health: Health
    targets: Targets
    leads: Leads
    notes: tuple[str, ...] = ()
    source: str = ""
    digest: str = ""

    @field_validator("criteria")
    @classmethod
    def _criteria(cls, value: dict[str, Criterion]) -> dict[str, Criterion]:
        unknown = sorted(set(value) - set(CRITERIA))
        if unknown:
            raise ValueError(f"unknown criterion {', '.join(unknown)} (known: {', '.join(CRITERIA)})")
        for name, criterion in value.items():
            allowed = NORMALISATIONS[name]
            if criterion.normalisation is not None and criterion.normalisation not in allowed:
                raise ValueError(
                    f"{name}: normalisation {criterion.normalisation!r} does not fit this criterion "
                    f"(use {' or '.join(allowed)})"
                )
        enabled = {name: c for name, c in value.items() if c.enabled}
        if not enabled or sum(c.weight for c in enabled.values()) <= 0:
            raise ValueError("no enabled criterion has a weight above 0")
        return value

    def normalisation(self, criterion: str) -> str:
        chosen = self.criteria[criterion].normalisation if criterion in self.criteria else None
        return chosen or NORMALISATIONS[criterion][0]

    @field_validator("stages")
    @classmethod
    def _stages(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [k for k, v in value.items() if not 0 <= v <= 1]
        if bad:
            raise ValueError(f"stage probability must be between 0 and 1: {', '.join(bad)}")
        return value

    @property
    def weights(self) -> dict[str, float]:
        """Weights of the enabled criteria, normalised to sum to 1."""
        enabled = {name: c.weight for name, c in self.criteria.items() if c.enabled}
        total = sum(enabled.values())
        return {name: weight / total for name, weight in enabled.items()}

    @property
    def health_weights(self) -> dict[str, float]:
        total = sum(self.health.weights.values())
        return {name: weight / total for name, weight in self.health.weights.items()}

    @property
    def label(self) -> str:
        """`version` plus the first 8 hex digits of the content's digest: two different files never share a label."""
        return f"{self.version}@{self.digest[:8]}"


# libyaml's safe loader where PyYAML was built with it (the wheels are): the same documents, about 9 times faster (a
# run reads the config four times). A document it refuses is read again by the pure-Python loader, whose messages
# say more (the character found, the line where a bracket stays open).
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _pure_yaml_error(text: str) -> yaml.YAMLError:
    try:
        yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        return error
    return yaml.YAMLError("libyaml refused the document")  # the two loaders disagree: not seen


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    try:
        data = yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError:
        error = _pure_yaml_error(text)
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where} ({getattr(error, 'problem', None) or error})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (criteria, tiers, ...), found {type(data).__name__}")
    return data


def _format(error: ValidationError, path: Path) -> str:
    lines = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{path}: {key or '(top level)'}: {message}")
    return "\n".join(lines)


def load_scoring_config(data_dir: Path | None = None, path: Path | None = None) -> ScoringConfig:
    """The default config, with the sections of `path` (or of `<data_dir>/scoring.yaml` when it exists) over it."""
    merged = _read_yaml(DEFAULT_CONFIG_PATH)
    sources = [str(DEFAULT_CONFIG_PATH)]
    override = Path(path) if path is not None else (Path(data_dir) / "scoring.yaml" if data_dir else None)
    if path is not None and not override.is_file():
        raise ConfigError(f"{override}: scoring config file not found")
    checked_path = DEFAULT_CONFIG_PATH
    if override is not None and override.is_file():
        own = _read_yaml(override)
        unknown = sorted(set(own) - set(ScoringConfig.model_fields) | ({"notes", "source", "digest"} & set(own)))
        if unknown:
            raise ConfigError(f"{override}: unknown section {', '.join(unknown)}")
        merged.update(own)
        sources.append(str(override))
        checked_path = override
    digest = hashlib.sha256(json.dumps(merged, sort_keys=True, default=str).encode()).hexdigest()
    try:
        config = ScoringConfig(**merged, source=" + ".join(sources), digest=digest)
    except ValidationError as error:
        problem = _format(error, checked_path)
    else:
        problem = None
    if problem is not None:
        # raised outside the `except`, so the ConfigError holds no reference to pydantic's error: the cycle through it
        # (its validator's ValueError, which pydantic-core holds where Python's collector cannot see) outlived the run,
        # and a failed `alms run` printed about 80 lines of nanobind "leaked instance" at exit after its cause
        raise ConfigError(problem)
    enabled = {name: c.weight for name, c in config.criteria.items() if c.enabled}
    total = sum(enabled.values())
    if abs(total - 1) > WEIGHT_TOLERANCE:
        note = (
            f"{checked_path}: criteria weights of the enabled criteria sum to {total:g}, not 1; normalised to "
            + ", ".join(f"{name} {weight:.3f}" for name, weight in config.weights.items())
        )
        config = config.model_copy(update={"notes": (*config.notes, note)})
    return config
