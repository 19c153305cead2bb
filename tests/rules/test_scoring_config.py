"""scoring.yaml: the shipped default, an input folder's sections over it, and errors naming the file and the key."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from assets.rules.inputs import InputError
from assets.rules.scoring_config import (
    CRITERIA,
    DEFAULT_CONFIG_PATH,
    MAX_LEADS,
    MAX_TARGETS,
    ConfigError,
    load_scoring_config,
)

DEFAULT_CRITERIA = """\
criteria:
  current_spend:   {weight: 0.25}
  growth:          {weight: 0.10}
  whitespace:      {weight: 0.15}
  likelihood:      {weight: 0.20}
  engagement:      {weight: 0.15}
  icp_fit:         {weight: 0.10}
  tenure:          {weight: 0.03}
  strategic:       {weight: 0.02}
"""


def folder_with(tmp_path: Path, text: str) -> Path:
    """An input folder whose scoring.yaml holds `text`."""
    data_dir = tmp_path / "inputs"
    data_dir.mkdir(exist_ok=True)
    (data_dir / "scoring.yaml").write_text(text, encoding="utf-8")
    return data_dir


def config_error(tmp_path: Path, text: str) -> tuple[str, Path]:
    data_dir = folder_with(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_scoring_config(data_dir)
    return str(caught.value), data_dir / "scoring.yaml"


# --- the default ---------------------------------------------------------------------------------------------------


def test_default_loads_with_every_criterion_and_weights_summing_to_one():
    config = load_scoring_config()
    assert set(config.weights) == set(CRITERIA)
    assert sum(config.weights.values()) == pytest.approx(1.0, abs=1e-12)
    assert config.weights["current_spend"] == pytest.approx(0.25)
    assert config.notes == ()  # 0.25+0.10+0.15+0.20+0.15+0.10+0.03+0.02 = 1: nothing normalised
    assert config.tiers.high == 60 and config.tiers.medium == 40
    assert config.targets.per_seller == 4 and config.leads.per_seller == 10
    assert config.source == str(DEFAULT_CONFIG_PATH)


def test_default_normalisations_are_the_criteria_defaults():
    config = load_scoring_config()
    assert config.normalisation("current_spend") == "percentile"
    assert config.normalisation("growth") == "ratio"
    assert config.normalisation("tenure") == "capped"
    assert config.normalisation("icp_fit") == "fixed"


def test_input_folder_without_scoring_yaml_gives_the_default(tmp_path):
    assert load_scoring_config(tmp_path) == load_scoring_config()


def test_explicit_path_that_does_not_exist_is_an_error_naming_it(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="not found") as caught:
        load_scoring_config(path=missing)
    assert str(missing) in str(caught.value)


def test_a_config_error_is_raised_as_an_input_error_naming_file_and_key(tmp_path):
    """Callers (the run's steps, the what-if) catch InputError: a bad scoring.yaml must arrive as one, with its words."""
    data_dir = folder_with(tmp_path, "criteria:\n  loyalty: {weight: 0.2}\n")
    with pytest.raises(InputError, match="criteria: unknown criterion loyalty") as caught:
        load_scoring_config(data_dir)
    assert type(caught.value) is ConfigError and str(data_dir / "scoring.yaml") in str(caught.value)


def test_a_config_error_kept_by_a_failed_step_lets_the_process_exit_quietly(tmp_path):
    """Dagster keeps a failed step's error, and the frames of its traceback keep what the step held (DuckDB
    connections among it). The error once held pydantic's, whose own error pydantic-core keeps where Python's
    collector cannot see: the cycle outlived the process, and DuckDB's bindings printed about 80 lines of "leaked
    instance" at exit, after a failed `alms run`'s one-line cause."""
    data_dir = folder_with(tmp_path, "criteria:\n  loyalty: {weight: 0.2}\n")
    script = textwrap.dedent(f"""
        import duckdb
        from assets.rules.scoring_config import ConfigError, load_scoring_config
        connection = duckdb.connect()
        def step():
            held = connection  # what a step's frame holds
            try:
                load_scoring_config({str(data_dir)!r})
            except ConfigError as error:
                return error
        kept = step()
        print(kept)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{data_dir / 'scoring.yaml'}: criteria: unknown criterion loyalty" + (
        " (known: " + ", ".join(CRITERIA) + ")"
    )
    assert done.stderr == ""


# --- merging --------------------------------------------------------------------------------------------------------


def test_folder_replacing_only_tiers_keeps_every_other_section(tmp_path):
    data_dir = folder_with(tmp_path, "tiers:\n  high: 70\n  medium: 30\n")
    config = load_scoring_config(data_dir)
    default = load_scoring_config()
    assert (config.tiers.high, config.tiers.medium) == (70, 30)
    assert config.criteria == default.criteria
    assert config.weights == default.weights
    assert config.wallet == default.wallet
    assert config.targets == default.targets
    assert config.version == default.version
    assert str(data_dir / "scoring.yaml") in config.source


def test_a_section_is_replaced_whole_not_merged_key_by_key(tmp_path):
    # The folder's `criteria` lists two criteria: the six others are gone, not kept from the default.
    data_dir = folder_with(tmp_path, "criteria:\n  current_spend: {weight: 0.5}\n  growth: {weight: 0.5}\n")
    assert load_scoring_config(data_dir).weights == {"current_spend": 0.5, "growth": 0.5}


def test_explicit_path_wins_over_the_folder(tmp_path):
    data_dir = folder_with(tmp_path, "tiers: {high: 70, medium: 30}\n")
    other = tmp_path / "other.yaml"
    other.write_text("tiers: {high: 80, medium: 10}\n")
    assert load_scoring_config(data_dir, path=other).tiers.high == 80


def test_unknown_section_names_the_file_and_the_section(tmp_path):
    message, file = config_error(tmp_path, "teirs:\n  high: 70\n  medium: 30\n")
    assert str(file) in message and "teirs" in message


# --- validation errors: each names the file and the key -------------------------------------------------------------


def test_unknown_criterion(tmp_path):
    message, file = config_error(tmp_path, DEFAULT_CRITERIA + "  loyalty: {weight: 0.1}\n")
    assert str(file) in message
    assert "criteria" in message and "loyalty" in message and "unknown criterion" in message


def test_unknown_key_inside_a_criterion(tmp_path):
    message, file = config_error(tmp_path, "criteria:\n  current_spend: {wieght: 0.5}\n  growth: {weight: 0.5}\n")
    assert str(file) in message
    assert "criteria.current_spend.wieght" in message and "unknown key" in message


def test_negative_weight(tmp_path):
    message, file = config_error(tmp_path, "criteria:\n  current_spend: {weight: 1.2}\n  growth: {weight: -0.2}\n")
    assert str(file) in message
    assert "criteria.growth.weight" in message


def test_all_weights_zero(tmp_path):
    message, file = config_error(tmp_path, "criteria:\n  current_spend: {weight: 0}\n  growth: {weight: 0}\n")
    assert str(file) in message
    assert "criteria" in message and "no enabled criterion has a weight above 0" in message


def test_only_disabled_criteria_carry_weight(tmp_path):
    text = "criteria:\n  current_spend: {weight: 1, enabled: false}\n  growth: {weight: 0}\n"
    message, file = config_error(tmp_path, text)
    assert str(file) in message and "no enabled criterion" in message


@pytest.mark.parametrize(("high", "medium"), [(60, 60), (50, 60)])
def test_tiers_out_of_order(tmp_path, high, medium):
    message, file = config_error(tmp_path, f"tiers:\n  high: {high}\n  medium: {medium}\n")
    assert str(file) in message
    assert "tiers" in message and "out of order" in message


def test_tier_above_100(tmp_path):
    message, file = config_error(tmp_path, "tiers:\n  high: 120\n  medium: 40\n")
    assert str(file) in message and "tiers.high" in message


def test_targets_per_seller_over_nine(tmp_path):
    assert MAX_TARGETS == 9
    message, file = config_error(tmp_path, "targets:\n  per_seller: 10\n")
    assert str(file) in message
    assert "targets.per_seller" in message and "9" in message


def test_targets_per_seller_nine_is_allowed(tmp_path):
    assert load_scoring_config(folder_with(tmp_path, "targets:\n  per_seller: 9\n")).targets.per_seller == 9


def test_leads_per_seller_over_ten(tmp_path):
    assert MAX_LEADS == 10
    message, file = config_error(tmp_path, "leads:\n  per_seller: 11\n")
    assert str(file) in message
    assert "leads.per_seller" in message and "10" in message


def test_targets_rank_by_unknown_criterion(tmp_path):
    message, file = config_error(tmp_path, "targets:\n  per_seller: 4\n  rank_by: [whitespace, vibes]\n")
    assert str(file) in message and "targets.rank_by" in message


@pytest.mark.parametrize(
    ("criterion", "method"), [("growth", "percentile"), ("current_spend", "ratio"), ("tenure", "log_minmax")]
)
def test_normalisation_that_does_not_fit_the_criterion(tmp_path, criterion, method):
    other = "strategic" if criterion != "strategic" else "growth"
    text = f"criteria:\n  {criterion}: {{weight: 0.5, normalisation: {method}}}\n  {other}: {{weight: 0.5}}\n"
    message, file = config_error(tmp_path, text)
    assert str(file) in message
    assert "criteria" in message and criterion in message and method in message
    assert "does not fit" in message


def test_unknown_normalisation_name(tmp_path):
    message, file = config_error(tmp_path, "criteria:\n  current_spend: {weight: 1, normalisation: zscore}\n")
    assert str(file) in message and "criteria.current_spend.normalisation" in message


def test_stage_probability_above_one(tmp_path):
    message, file = config_error(tmp_path, "stages:\n  proposal: 50\n")
    assert str(file) in message and "stages" in message and "proposal" in message


def test_unknown_event_type(tmp_path):
    text = "engagement:\n  half_life_days: 90\n  event_weights: {meeting: 5, carrier_pigeon: 1}\n"
    message, file = config_error(tmp_path, text)
    assert str(file) in message and "engagement.event_weights" in message and "carrier_pigeon" in message


def test_every_problem_is_listed_at_once(tmp_path):
    text = "tiers: {high: 50, medium: 60}\ntargets: {per_seller: 10}\nleads: {per_seller: 11}\n"
    message, file = config_error(tmp_path, text)
    lines = message.splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"{file}: ") for line in lines)
    assert any("tiers" in line for line in lines)
    assert any("targets.per_seller" in line for line in lines)
    assert any("leads.per_seller" in line for line in lines)


def test_invalid_yaml_names_the_file_and_the_line(tmp_path):
    # line 3 is indented less than the mapping it continues
    message, file = config_error(tmp_path, "tiers:\n    high: 70\n  medium: 30\n")
    assert str(file) in message
    assert "not valid YAML" in message
    assert "line 3" in message


def test_unclosed_flow_mapping_names_a_line(tmp_path):
    message, file = config_error(tmp_path, "version: x\ntiers: {high: 70, medium: 30\nleads: {per_seller: 3}\n")
    assert str(file) in message and "not valid YAML at line" in message


def test_a_tab_is_named_as_the_pure_python_loader_names_it(tmp_path):
    """libyaml reads the file (faster); a refused file's message is the pure-Python loader's, which names the
    character (libyaml says only "found character that cannot start any token")."""
    message, _ = config_error(tmp_path, "tiers:\n\thigh: 70\n")
    assert "not valid YAML at line 2, column 1" in message and "found character '\\t'" in message


def test_libyaml_reads_the_default_config_as_the_pure_python_loader_does():
    import yaml

    from assets.rules.scoring_config import DEFAULT_CONFIG_PATH, SAFE_LOADER

    text = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    assert SAFE_LOADER is yaml.CSafeLoader  # the wheels in requirements.lock are built with libyaml
    assert yaml.load(text, Loader=SAFE_LOADER) == yaml.load(text, Loader=yaml.SafeLoader)


def test_a_list_instead_of_sections_is_an_error(tmp_path):
    message, file = config_error(tmp_path, "- tiers\n- criteria\n")
    assert str(file) in message and "mapping" in message


def test_empty_folder_file_is_the_default(tmp_path):
    config = load_scoring_config(folder_with(tmp_path, "# nothing to change\n"))
    assert config.weights == load_scoring_config().weights
    assert config.tiers == load_scoring_config().tiers


# --- weights normalised, disabled criteria --------------------------------------------------------------------------


def test_weights_summing_to_0_9_are_normalised_with_a_note(tmp_path):
    # 0.45 + 0.27 + 0.18 = 0.9 -> 0.5, 0.3, 0.2
    text = "criteria:\n  current_spend: {weight: 0.45}\n  growth: {weight: 0.27}\n  tenure: {weight: 0.18}\n"
    data_dir = folder_with(tmp_path, text)
    config = load_scoring_config(data_dir)
    assert config.weights == pytest.approx({"current_spend": 0.5, "growth": 0.3, "tenure": 0.2})
    assert len(config.notes) == 1
    note = config.notes[0]
    assert str(data_dir / "scoring.yaml") in note
    assert "sum to 0.9" in note and "normalised" in note
    assert "current_spend 0.500" in note and "growth 0.300" in note and "tenure 0.200" in note


def test_weights_summing_to_one_give_no_note(tmp_path):
    text = "criteria:\n  current_spend: {weight: 0.7}\n  growth: {weight: 0.2}\n  tenure: {weight: 0.1}\n"
    assert load_scoring_config(folder_with(tmp_path, text)).notes == ()


def test_disabled_criterion_drops_out_of_weights(tmp_path):
    text = DEFAULT_CRITERIA.replace(
        "strategic:       {weight: 0.02}", "strategic:       {weight: 0.02, enabled: false}"
    )
    config = load_scoring_config(folder_with(tmp_path, text))
    assert "strategic" not in config.weights
    assert set(config.weights) == set(CRITERIA) - {"strategic"}
    # the 0.98 left are divided by 0.98
    assert config.weights["current_spend"] == pytest.approx(0.25 / 0.98)
    assert sum(config.weights.values()) == pytest.approx(1.0)
    assert len(config.notes) == 1 and "sum to 0.98" in config.notes[0]


# --- the label ------------------------------------------------------------------------------------------------------


def test_label_is_version_and_digest_and_is_stable():
    config = load_scoring_config()
    assert config.label.startswith(config.version + "@")
    assert len(config.label.split("@")[1]) == 8
    assert load_scoring_config().label == config.label


def test_label_changes_when_content_changes_even_with_the_same_version(tmp_path):
    default = load_scoring_config()
    changed = load_scoring_config(folder_with(tmp_path, "tiers:\n  high: 61\n  medium: 40\n"))
    assert changed.version == default.version
    assert changed.label != default.label


def test_label_is_the_same_when_the_folder_repeats_the_default_section(tmp_path):
    # same content, written by the folder: same digest
    same = load_scoring_config(folder_with(tmp_path, "tiers:\n  high: 60\n  medium: 40\n"))
    assert same.label == load_scoring_config().label
