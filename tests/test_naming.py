import re
from pathlib import Path

import pytest
import yaml

from aecore.naming import (
    MODEL_NAME_PATTERN,
    NUMBER_PATTERN,
    ModelPoint,
    classifier_options_name,
    feature_set_name,
    format_number,
    model_name,
    parse_feature_set_name,
    parse_model_name,
    parse_number,
    parse_scalar_strings,
)


@pytest.mark.parametrize(
    ("spellings", "expected"),
    [
        ((1e-4, 0.0001, "1e-4", "1.0E-4", "0.00010"), "0.0001"),
        ((3, 3.0, "3", "3.00", "3e0"), "3"),
        ((0.01, "1e-2", 1 / 100), "0.01"),
        ((1e-5, "0.00001"), "1e-05"),
        ((10000, 1e4, "1e4"), "10000"),
        ((0, 0.0, -0.0, "0"), "0"),
        ((-2.5, "-2.50"), "-2.5"),
    ],
)
def test_format_number_equal_values(spellings, expected):
    for value in spellings:
        assert format_number(value) == expected, value


@pytest.mark.parametrize(
    "value", [1e-4, 0.01, 3, 0.1 + 0.2, 1e-7, 123456.789, 2.5e20, -0.3, 10**5]
)
def test_format_number_round_trip(value):
    text = format_number(value)
    assert re.fullmatch(NUMBER_PATTERN, text)
    assert parse_number(text) == pytest.approx(value, rel=0, abs=0)
    assert format_number(parse_number(text)) == text


def test_parse_number_rejects_other_spellings():
    with pytest.raises(ValueError, match="canonical form of this number is '0.0001'"):
        parse_number("1e-04")
    with pytest.raises(ValueError, match="canonical form of this number is '3'"):
        parse_number("3.0")
    with pytest.raises(ValueError, match="expected a number"):
        parse_number("abc")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "inf"])
def test_format_number_rejects_non_finite(value):
    with pytest.raises(ValueError, match="value must be finite"):
        format_number(value)


@pytest.mark.parametrize("value", [True, None, [1]])
def test_format_number_rejects_non_numbers(value):
    with pytest.raises(TypeError, match="value must be a real number"):
        format_number(value)


def test_format_number_rejects_bad_string():
    with pytest.raises(ValueError, match="value must be a number, got 'x1'"):
        format_number("x1")


DEFAULT = dict(
    hidden_sizes=(75,),
    sparsity_target=0.01,
    weight_decay=1e-4,
    sparsity_weight=3,
    num_patches=10000,
)


def test_model_name_default():
    name = model_name(ModelPoint(**DEFAULT))
    assert name == "h75_rho0.01_lam0.0001_beta3_n10000_sigmoid_s0"


def test_model_name_equal_meaning_equal_name():
    a = ModelPoint(**DEFAULT)
    b = ModelPoint(
        hidden_sizes=[75],
        sparsity_target="1e-2",
        weight_decay="0.0001",
        sparsity_weight=3.0,
        num_patches=10**4,
    )
    assert a == b
    assert hash(a) == hash(b)
    assert model_name(a) == model_name(b)


@pytest.mark.parametrize(
    "point",
    [
        ModelPoint(**DEFAULT),
        ModelPoint(**{**DEFAULT, "hidden_sizes": (200, 75, 200), "activation": "relu"}),
        ModelPoint(**{**DEFAULT, "linear_decoder": True, "whiten": True, "seed": 12}),
        ModelPoint(**{**DEFAULT, "weight_decay": 0, "sparsity_weight": 0.5}),
        ModelPoint(**{**DEFAULT, "sparsity_target": 1e-5, "num_patches": 1}),
        ModelPoint(**{**DEFAULT, "whiten": True}),
    ],
)
def test_model_name_round_trip(point):
    name = model_name(point)
    assert re.fullmatch(MODEL_NAME_PATTERN, name)
    assert parse_model_name(name) == point
    assert model_name(parse_model_name(name)) == name


def test_model_names_differ_per_field():
    variants = [
        {},
        {"hidden_sizes": (76,)},
        {"sparsity_target": 0.02},
        {"weight_decay": 1e-3},
        {"sparsity_weight": 4},
        {"num_patches": 1000},
        {"activation": "relu"},
        {"linear_decoder": True},
        {"whiten": True},
        {"seed": 1},
    ]
    names = {model_name(ModelPoint(**{**DEFAULT, **v})) for v in variants}
    assert len(names) == len(variants)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("h75_rho1e-2_lam0.0001_beta3_n10000_sigmoid_s0", "canonical form is"),
        ("h75_rho0.01_lam0.0001_beta3.0_n10000_sigmoid_s0", "canonical form is"),
        ("h75_rho0.01_lam0.0001_beta3_n10000_tanh_s0", "expected the form"),
        ("h75_rho0.01_lam0.0001_beta3_n10000_sigmoid", "expected the form"),
        ("raw", "expected the form"),
        ("h75_rho0.01_lam0.0001_beta3_n010000_sigmoid_s0", "canonical form is"),
    ],
)
def test_parse_model_name_rejects(name, message):
    with pytest.raises(ValueError, match=message):
        parse_model_name(name)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sparsity_target": 2}, r"sparsity_target must be in \(0, 1\), got 2.0"),
        ({"sparsity_target": 0}, r"sparsity_target must be in \(0, 1\)"),
        ({"weight_decay": -1}, "weight_decay must be at least 0"),
        ({"sparsity_weight": -0.1}, "sparsity_weight must be at least 0"),
        ({"num_patches": 0}, "num_patches must be an integer of at least 1"),
        ({"num_patches": 10.5}, "num_patches must be an integer of at least 1"),
        ({"seed": -1}, "seed must be an integer of at least 0"),
        ({"hidden_sizes": ()}, "hidden_sizes must be a non-empty sequence"),
        ({"hidden_sizes": (75, 0)}, "hidden_sizes must be a non-empty sequence"),
        ({"activation": "tanh"}, "activation must be one of"),
    ],
)
def test_model_point_rejects(changes, message):
    with pytest.raises(ValueError, match=message):
        ModelPoint(**{**DEFAULT, **changes})


def test_model_point_rejects_bad_types():
    with pytest.raises(TypeError, match="hidden_sizes must be a sequence"):
        ModelPoint(**{**DEFAULT, "hidden_sizes": "75"})
    with pytest.raises(TypeError, match="whiten must be a bool"):
        ModelPoint(**{**DEFAULT, "whiten": 1})
    with pytest.raises(TypeError, match="point must be a ModelPoint"):
        model_name(DEFAULT)


def test_feature_set_name_round_trip():
    assert feature_set_name(4, "concat") == "4-concat"
    assert parse_feature_set_name("4-concat") == (4, "concat")
    assert parse_feature_set_name(feature_set_name(12, "quadrant")) == (12, "quadrant")


@pytest.mark.parametrize("name", ["0-concat", "04-concat", "4-max", "4concat", "raw"])
def test_parse_feature_set_name_rejects(name):
    with pytest.raises(ValueError, match="Invalid feature set name"):
        parse_feature_set_name(name)


def test_feature_set_name_rejects():
    with pytest.raises(ValueError, match="stride must be a positive integer, got 0"):
        feature_set_name(0, "concat")
    with pytest.raises(ValueError, match="pooling must be one of"):
        feature_set_name(2, "max")


def test_parse_scalar_strings_converts_yaml11_numbers():
    config = yaml.safe_load(
        "decay: 1e-4\nbig: 5E3\nneg: -2e+1\ngrid: [1e-4, 0.0001, 3]\n"
        "nested: {rho: 1e-2}\nname: stl10\npath: run-1e4x\n"
    )
    assert config["decay"] == "1e-4"  # YAML 1.1 reads it as a string
    parse_scalar_strings(config)
    assert config["decay"] == 0.0001
    assert config["big"] == 5000.0
    assert config["neg"] == -20.0
    assert config["grid"] == [0.0001, 0.0001, 3]
    assert config["nested"]["rho"] == 0.01
    assert config["name"] == "stl10"
    assert config["path"] == "run-1e4x"


@pytest.mark.parametrize(
    ("text", "value"),
    [("1.0e4", 10000.0), ("2.5E3", 2500.0), (".5e3", 500.0), ("-1.5e2", -150.0)],
)
def test_parse_scalar_strings_decimal_mantissa(text, value):
    # YAML 1.1 reads an exponent without a sign as a string, also after a decimal
    # mantissa, so these forms need the same conversion as 1e-4.
    assert yaml.safe_load(f"x: {text}")["x"] == text
    assert parse_scalar_strings(text) == value


SCHEMA = {
    "$defs": {"rate": {"type": "number", "minimum": 0}},
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "rate": {"$ref": "#/$defs/rate"},
        "rates": {"type": "array", "items": {"$ref": "#/$defs/rate"}},
        "limit": {"oneOf": [{"type": "null"}, {"type": "integer"}]},
        "either": {"type": ["string", "number"]},
        "files": {"type": "array", "items": {"type": "string"}},
        "options": {
            "type": "object",
            "properties": {"tag": {"type": "string"}, "C": {"type": "number"}},
        },
    },
}


def test_parse_scalar_strings_follows_schema():
    # A quoted "1e5" where the schema expects a string (a dataset name, a path)
    # stays a string; only places that admit a number are converted.
    config = {
        "name": "1e5",
        "rate": "1e-4",
        "rates": ["1e-4", "2.5e3"],
        "limit": "1e3",
        "either": "5e-1",
        "files": ["2e3"],
        "options": {"tag": "3e2", "C": "1e-2"},
        "unknown": "1e2",
    }
    parse_scalar_strings(config, SCHEMA)
    assert config["name"] == "1e5"
    assert config["rate"] == 0.0001
    assert config["rates"] == [0.0001, 2500.0]
    assert config["limit"] == 1000.0
    assert config["either"] == 0.5
    assert config["files"] == ["2e3"]
    assert config["options"] == {"tag": "3e2", "C": 0.01}
    assert config["unknown"] == 100.0


def test_parse_scalar_strings_reads_base_loader_values():
    # Snakemake's --config reads a nested dict with YAML's BaseLoader, which
    # returns every scalar as a string.
    config = yaml.load(
        "rate: '0.5'\nrates: ['1', '2.5', 1e-3]\nlimit: null\nname: '7'\n"
        "options: {C: '2', tag: '3'}\nunknown: '4'\nflag: 'true'\n",
        Loader=yaml.BaseLoader,
    )
    schema = {
        **SCHEMA,
        "properties": {**SCHEMA["properties"], "flag": {"type": "boolean"}},
    }
    parse_scalar_strings(config, schema)
    assert config["rate"] == 0.5
    assert config["rates"] == [1, 2.5, 0.001]
    assert config["limit"] is None
    assert config["name"] == "7"
    assert config["options"] == {"C": 2, "tag": "3"}
    assert config["unknown"] == "4"
    assert config["flag"] is True


def test_parse_scalar_strings_leaves_mismatched_strings():
    # A word where a number belongs stays a string, for the schema to reject.
    config = {"rate": "fast", "limit": "true", "rates": ["1x"]}
    parse_scalar_strings(config, SCHEMA)
    assert config == {"rate": "fast", "limit": "true", "rates": ["1x"]}


def test_parse_scalar_strings_reads_enum_members():
    # An enum without a type, such as [auto, true, false], still gets its
    # booleans from the strings of a nested --config value.
    schema = {
        "type": "object",
        "properties": {
            key: {"enum": ["auto", True, False, None, 3]}
            for key in ("on", "off", "auto", "none", "three", "one", "word")
        },
    }
    config = {
        "on": "true",
        "off": "False",
        "auto": "auto",
        "none": "null",
        "three": "3",
        "one": "1",
        "word": "maybe",
    }
    parse_scalar_strings(config, schema)
    assert config["on"] is True
    assert config["off"] is False
    assert config["auto"] == "auto"
    assert config["none"] is None
    assert config["three"] == 3
    assert config["one"] == "1"
    assert config["word"] == "maybe"


def test_parse_scalar_strings_classifier_flags():
    schema = yaml.safe_load(
        (
            Path(__file__).resolve().parents[1]
            / "workflow"
            / "schemas"
            / "config.schema.yaml"
        ).read_text()
    )
    config = {
        "classify": {
            "options": {
                "linsvm": {"dual": "true"},
                "hgb": {"early_stopping": "false"},
                "forest": {"max_features": "0.5"},
            }
        }
    }
    parse_scalar_strings(config, schema)
    assert config["classify"]["options"]["linsvm"]["dual"] is True
    assert config["classify"]["options"]["hgb"]["early_stopping"] is False
    assert config["classify"]["options"]["forest"]["max_features"] == 0.5
    sqrt = {"classify": {"options": {"forest": {"max_features": "sqrt"}}}}
    parse_scalar_strings(sqrt, schema)
    assert sqrt["classify"]["options"]["forest"]["max_features"] == "sqrt"


def test_parse_scalar_strings_nullable_strings():
    schema = yaml.safe_load(
        (
            Path(__file__).resolve().parents[1]
            / "workflow"
            / "schemas"
            / "config.schema.yaml"
        ).read_text()
    )
    config = {
        "dataset": {
            "name": "null",
            "url": "null",
            "options": {"expected_sha256": "null", "label_base": "0"},
        }
    }
    parse_scalar_strings(config, schema)
    assert config["dataset"]["name"] == "null"
    assert config["dataset"]["url"] is None
    assert config["dataset"]["options"]["expected_sha256"] is None
    assert config["dataset"]["options"]["label_base"] == 0


def test_parse_scalar_strings_keeps_other_values():
    assert parse_scalar_strings("1e") == "1e"
    assert parse_scalar_strings("e5") == "e5"
    assert parse_scalar_strings(True) is True
    assert parse_scalar_strings(None) is None


@pytest.mark.parametrize(
    ("classifier", "options", "expected"),
    [
        ("logreg", {"C": 1e-3}, "logreg_C0.001"),
        ("logreg", {"max_iter": 1000, "C": "1e-3"}, "logreg_C0.001_max_iter1000"),
        (
            "logreg",
            {"C": [1e-3, "1.0e-2", 0.1, 1.0], "max_iter": 1000},
            "logreg_C0.001-0.01-0.1-1_max_iter1000",
        ),
        ("linsvm", {"dual": "auto", "pca": None}, "linsvm_dualauto_pcanone"),
        ("hgb", {"early_stopping": True}, "hgb_early_stoppingtrue"),
        ("forest", {"max_features": "sqrt"}, "forest_max_featuressqrt"),
    ],
)
def test_classifier_options_name(classifier, options, expected):
    assert classifier_options_name(classifier, options) == expected


def test_classifier_options_name_equal_spellings():
    first = classifier_options_name("logreg", {"C": [0.001, 0.1], "max_iter": 300})
    second = classifier_options_name("logreg", {"max_iter": 300.0, "C": ["1e-3", 1e-1]})
    assert first == second


def test_classifier_options_name_differs_per_option():
    names = {
        classifier_options_name("logreg", options)
        for options in (
            {"C": 0.01},
            {"C": 0.1},
            {"C": [0.01, 0.1]},
            {"C": 0.01, "max_iter": 100},
            {"C": 0.01, "tol": 100},
        )
    }
    assert len(names) == 5


def test_classifier_options_name_number_strings():
    # A number written as a string names the same run as the number itself.
    for text in ("0.0010", "1e-3", "0.001"):
        assert classifier_options_name("logreg", {"C": text}) == "logreg_C0.001"
    assert classifier_options_name("logreg", {"max_iter": "100"}) == (
        "logreg_max_iter100"
    )


@pytest.mark.parametrize(
    ("classifier", "options", "message"),
    [
        ("LogReg", {"C": 1}, "lower-case name"),
        ("logreg", {}, "non-empty mapping"),
        ("logreg", {"max-iter": 1}, "Invalid option name 'max-iter'"),
        ("logreg", {"C": []}, "must not be empty"),
        ("logreg", {"C": [0.1, -1]}, "only numbers of at least 0"),
        ("logreg", {"C": [0.1, True]}, "only numbers of at least 0"),
        ("forest", {"max_features": "log 2"}, "only letters, digits"),
        ("linsvm", {"dual": "true"}, "'none', 'true' and 'false' are ambiguous"),
        ("forest", {"max_features": "None"}, "'none', 'true' and 'false' are"),
    ],
)
def test_classifier_options_name_rejects(classifier, options, message):
    with pytest.raises(ValueError, match=message):
        classifier_options_name(classifier, options)
