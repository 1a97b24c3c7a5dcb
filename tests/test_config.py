"""Validation of the workflow config: defaults and one-line problem messages."""

import copy
from pathlib import Path

import pytest
import yaml

from aecore.config import MAX_LISTED_PROBLEMS, ConfigError, validate_config

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load(
    (ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text()
)


def quick_config():
    return yaml.safe_load((ROOT / "config" / "quick.yaml").read_text())


@pytest.mark.parametrize("preset", ["config.yaml", "cifar10.yaml", "quick.yaml"])
def test_presets_are_valid(preset):
    config = yaml.safe_load((ROOT / "config" / preset).read_text())
    assert validate_config(config, SCHEMA) is config


def test_defaults_fill_missing_keys():
    config = quick_config()
    del config["training"]
    del config["seed"]
    validate_config(config, SCHEMA)
    assert config["seed"] == 0
    # training itself defaults to {}, and its keys then get their own defaults.
    assert config["training"] == {
        "maxiter": 400,
        "log_every": 10,
        "dtype": "float64",
        "backend": "numpy",
    }


def test_defaults_are_copies():
    first = quick_config()
    second = quick_config()
    del first["speed"]
    del second["speed"]
    validate_config(first, SCHEMA)
    validate_config(second, SCHEMA)
    first["speed"]["extra_timings"].append("gpu.csv")
    assert second["speed"]["extra_timings"] == []


def test_unknown_key_named_with_allowed_keys():
    config = quick_config()
    config["default_model"]["sparsity_targt"] = 0.05
    with pytest.raises(ConfigError) as caught:
        validate_config(config, SCHEMA)
    message = str(caught.value)
    assert "'default_model.sparsity_targt' is not a known key" in message
    assert "sparsity_target" in message
    assert "Got 0.05." in message


def test_bound_message_has_description_and_value():
    config = quick_config()
    config["default_model"]["sparsity_target"] = 1.5
    with pytest.raises(ConfigError) as caught:
        validate_config(config, SCHEMA)
    message = str(caught.value)
    assert "'default_model.sparsity_target' must be a number > 0 and < 1" in message
    assert "Target mean activation rho" in message
    assert message.endswith("got 1.5.")


def test_missing_key_named():
    config = quick_config()
    del config["dataset"]["kind"]
    with pytest.raises(ConfigError) as caught:
        validate_config(config, SCHEMA)
    message = str(caught.value)
    assert "'dataset.kind' is missing" in message
    assert "'stl10'" in message


def test_nullable_value_lists_both_forms():
    config = quick_config()
    config["dataset"]["max_train"] = 0
    with pytest.raises(ConfigError) as caught:
        validate_config(config, SCHEMA)
    assert "'dataset.max_train' must be null or an integer >= 1" in str(caught.value)


def test_many_problems_are_counted():
    config = quick_config()
    extra = MAX_LISTED_PROBLEMS + 3
    for index in range(extra):
        config[f"bogus_{index}"] = index
    with pytest.raises(ConfigError) as caught:
        validate_config(copy.deepcopy(config), SCHEMA)
    lines = str(caught.value).splitlines()
    assert len(lines) == 1 + MAX_LISTED_PROBLEMS + 1
    assert lines[-1].strip() == "... and 3 more problems."


@pytest.mark.parametrize(
    ("kind", "options", "problem"),
    [
        ("folder", {"resize": True, "image_size": [32, 32], "workers": 2}, None),
        ("pickles", {"row_layout": "chw", "label_base": 1}, None),
        ("stl10", {"expected_size": None, "expected_counts": None}, None),
        ("cifar10-python", {}, None),
        ("cifar10-python", {"resize": True}, "'dataset.options' allows no keys"),
        ("pickles", {"resize": True}, "allows label_base, row_layout"),
        ("folder", {"image_size": [32, 32, 3]}, "of exactly 2 items"),
        ("stl10", {"expected_sha256": "abc"}, "matching ^[0-9a-f]{64}$"),
    ],
)
def test_dataset_options_follow_kind(kind, options, problem):
    config = quick_config()
    config["dataset"].update(kind=kind, options=options)
    if problem is None:
        validate_config(config, SCHEMA)
        return
    with pytest.raises(ConfigError) as caught:
        validate_config(config, SCHEMA)
    assert "'dataset.options" in str(caught.value)
    assert problem in str(caught.value)


def tuned_entry():
    return {
        "model": {
            "hidden_sizes": [50],
            "sparsity_target": 0.035,
            "weight_decay": 0.003,
            "sparsity_weight": 5,
            "num_patches": 1000,
        },
        "features": {"stride": 2, "pooling": "quadrant"},
        "classify": {"classifiers": ["logreg"]},
    }


def test_tuned_absent_defaults_to_null():
    config = quick_config()
    del config["tuned"]
    validate_config(config, SCHEMA)
    assert config["tuned"] is None


def test_tuned_entry_gets_defaults():
    config = quick_config()
    config["tuned"] = tuned_entry()
    validate_config(config, SCHEMA)
    tuned = config["tuned"]
    assert tuned["model"]["activation"] == "sigmoid"
    assert tuned["model"]["whiten"] is False
    assert tuned["classify"]["options"] == {}


def test_candidate_c_values_accepted():
    config = quick_config()
    config["classify"]["options"]["linsvm"]["C"] = [1.0e-4, 1.0e-3]
    validate_config(config, SCHEMA)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda t: t["model"].pop("num_patches"),
            "'tuned.model.num_patches' is missing; it must be an integer >= 1",
        ),
        (
            lambda t: t.update(stride=1),
            "'tuned.stride' is not a known key; 'tuned' allows classify, features, "
            "model",
        ),
        (
            lambda t: t["features"].update(pooling="max"),
            "'tuned.features.pooling' must be one of 'concat', 'quadrant'",
        ),
        (
            lambda t: t["classify"].update(classifiers=["knn"]),
            "'tuned.classify.classifiers[0]' must be one of 'logreg', 'linsvm'",
        ),
        (
            lambda t: t["classify"].update(options={"logreg": {"C": [0.1, -1]}}),
            "'tuned.classify.options.logreg.C' must be a number > 0 or a list",
        ),
        (
            lambda t: t["classify"].update(options={"logreg": {"C": []}}),
            "'tuned.classify.options.logreg.C' must be a number > 0 or a list",
        ),
        (
            lambda t: t["classify"].update(options={"logreg": {"gamma": 1}}),
            "'tuned.classify.options.logreg.gamma' is not a known key",
        ),
    ],
)
def test_tuned_problems_named(change, problem):
    config = quick_config()
    config["tuned"] = tuned_entry()
    change(config["tuned"])
    with pytest.raises(ConfigError) as raised:
        validate_config(config, SCHEMA)
    assert problem in str(raised.value)


def test_forest_max_features_values():
    config = quick_config()
    for value in ("sqrt", None, 0.5, 10):
        config["classify"]["options"]["forest"]["max_features"] = value
        validate_config(config, SCHEMA)
    config["classify"]["options"]["forest"]["max_features"] = "0.5"
    with pytest.raises(ConfigError, match="classify.options.forest.max_features"):
        validate_config(config, SCHEMA)


def test_tuned_must_be_mapping_or_null():
    config = quick_config()
    config["tuned"] = [1]
    with pytest.raises(ConfigError, match="'tuned' must be a mapping or null"):
        validate_config(config, SCHEMA)
