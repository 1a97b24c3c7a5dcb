"""Config validation and the functions that turn the config into target paths."""

import re
import sys
from pathlib import Path

import yaml

from snakemake.utils import min_version

min_version("9.0")

# Repository root; the working directory may be elsewhere (--directory).
REPOSITORY = Path(workflow.basedir).parent

# Import aecore from this checkout, also in environments where it is not installed.
sys.path.insert(0, str(REPOSITORY / "src"))

from aecore.classify import CLASSIFIERS
from aecore.config import validate_config
from aecore.naming import (
    MODEL_NAME_PATTERN,
    POOLINGS,
    ModelPoint,
    classifier_options_name,
    feature_set_name,
    model_name,
    parse_scalar_strings,
    parse_feature_set_name,
    parse_model_name,
)
from aecore.results import FIGURE_NAMES, table_names

# Snakemake loads the config as YAML 1.1, where 1e-4 is a string, and reads the values
# of a nested dict given with --config as strings: read each as the number, boolean or
# null the schema expects there, and leave string keys such as dataset.name alone.
# validate_config fills in the schema's defaults and, for an invalid config, raises
# one line per problem instead of snakemake.utils.validate's dump of the schema.
CONFIG_SCHEMA = REPOSITORY / "workflow" / "schemas" / "config.schema.yaml"
CONFIG_SCHEMA_DATA = yaml.safe_load(CONFIG_SCHEMA.read_text())
parse_scalar_strings(config, CONFIG_SCHEMA_DATA)
validate_config(config, CONFIG_SCHEMA_DATA)


def unique(names):
    """Drop repeated names, keeping the first occurrence of each."""
    return list(dict.fromkeys(names))


# Software environment of every job under --software-deployment-method conda.
CONDA_ENV = "../../environment.yml"
RESULTS = "results"
DATASET = config["dataset"]["name"]
DATA_DIR = f"{RESULTS}/data/{DATASET}"
RAW_FEATURES = "raw/pixels"
CLASSIFIER_NAMES = unique(config["classify"]["classifiers"])
PRIMARY_CLASSIFIER = config["classify"]["primary"]
FEATURE_SET_PATTERN = rf"[1-9][0-9]*-(?:{'|'.join(POOLINGS)})"

# Snakemake reruns a job when one of its params changes, so params carry only the
# settings that change a job's output. Settings that change how a job runs but not
# what it writes (training.log_every, memory_budget_mb, features.batch_size) are
# read from snakemake.config inside the scripts.
MODEL_TRAINING = {
    key: config["training"][key] for key in ("maxiter", "dtype", "backend")
}
LABELLED_SUBSETS = {
    key: config["dataset"][key]
    for key in ("train_split", "test_split", "max_train", "max_test")
}
# dataset.options.workers (folder images) sets the prepare job's threads, at most
# max_threads. It changes how the job runs, not what it writes, so it is no param.
READER_OPTIONS = {
    key: value
    for key, value in config["dataset"]["options"].items()
    if key != "workers"
}
PREPARE_THREADS = min(
    config["dataset"]["options"].get("workers", config["max_threads"]),
    config["max_threads"],
)


def tuned_options(name):
    """Options of one classifier in the tuned table: classify.options, then tuned's."""
    return {
        **config["classify"]["options"].get(name, {}),
        **config["tuned"]["classify"]["options"].get(name, {}),
    }


def single_values(options):
    """Options with each list of one candidate value replaced by that value."""
    return {
        key: value[0] if isinstance(value, list) and len(value) == 1 else value
        for key, value in options.items()
    }


def run_name(name, options):
    """Metrics file name of a classifier with options (without .json).

    The classifier alone (``logreg``) when the options are those of
    classify.options, else the classifier followed by every option
    (``logreg_C0.001-0.01_max_iter1000``), so two option sets never write one file
    and a changed option writes a new one. A list of one value counts as that
    value, which is how the classify job fits it.
    """
    grid = config["classify"]["options"].get(name, {})
    if single_values(options) == single_values(grid):
        return name
    return classifier_options_name(name, options)


# Metrics file name to classifier and options, for every name the config requests.
CLASSIFIER_RUNS = {
    name: (name, config["classify"]["options"].get(name, {})) for name in CLASSIFIERS
}
TUNED = config["tuned"]
TUNED_RUNS = []
if TUNED:
    for name in unique(TUNED["classify"]["classifiers"]):
        TUNED_RUNS.append(run_name(name, tuned_options(name)))
        # A run that the grid also requests keeps the grid's options as written.
        CLASSIFIER_RUNS.setdefault(TUNED_RUNS[-1], (name, tuned_options(name)))


wildcard_constraints:
    model=MODEL_NAME_PATTERN,
    fset=FEATURE_SET_PATTERN,
    features=rf"{RAW_FEATURES}|{MODEL_NAME_PATTERN}/{FEATURE_SET_PATTERN}",
    classifier="|".join(re.escape(name) for name in CLASSIFIER_RUNS),
    dataset=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    parameter="rho|lambda|beta",


def _check_config():
    """Reject settings that the schema cannot express."""
    hidden_lists = [config["default_model"]["hidden_sizes"], *config["depth"]]
    if config["tuned"]:
        hidden_lists.append(config["tuned"]["model"]["hidden_sizes"])
    for hidden in hidden_lists:
        if list(hidden) != list(reversed(hidden)):
            raise ValueError(
                f"Invalid config: hidden layer sizes must be symmetric (for example "
                f"[200, 75, 200]), got {hidden} in 'default_model.hidden_sizes', "
                f"'depth' or 'tuned.model.hidden_sizes'."
            )
    if PRIMARY_CLASSIFIER not in CLASSIFIER_NAMES:
        raise ValueError(
            f"Invalid config: 'classify.primary' must be one of the classifiers listed "
            f"in 'classify.classifiers' {CLASSIFIER_NAMES}, got {PRIMARY_CLASSIFIER!r}."
        )


_check_config()


def point_with(**changes):
    """Return the default model's parameters with some of them changed."""
    default = config["default_model"]
    values = dict(
        hidden_sizes=tuple(default["hidden_sizes"]),
        sparsity_target=default["sparsity_target"],
        weight_decay=default["weight_decay"],
        sparsity_weight=default["sparsity_weight"],
        num_patches=default["num_patches"],
        activation=default["activation"],
        linear_decoder=default["linear_decoder"],
        whiten=default["whiten"],
        seed=config["seed"],
    )
    values.update(changes)
    return ModelPoint(**values)


DEFAULT_MODEL = model_name(point_with())

# Config key of each ablation parameter, and the ModelPoint field it sets.
ABLATION_FIELDS = {
    "rho": "sparsity_target",
    "lambda": "weight_decay",
    "beta": "sparsity_weight",
}


def ablation_models(parameter):
    """Models of one ablation panel, in the config's order of values."""
    field = ABLATION_FIELDS[parameter]
    return unique(
        model_name(point_with(**{field: value})) for value in config["ablation"][field]
    )


DEPTH_MODELS = unique(
    model_name(point_with(hidden_sizes=tuple(sizes))) for sizes in config["depth"]
)
PATCH_COUNT_MODELS = unique(
    model_name(point_with(num_patches=count)) for count in config["patch_count"]
)
ACTIVATION_MODELS = unique(
    model_name(point_with(activation=activation)) for activation in config["activation"]
)
TUNED_MODELS = []
if TUNED:
    tuned_point = {
        **TUNED["model"],
        "hidden_sizes": tuple(TUNED["model"]["hidden_sizes"]),
    }
    TUNED_MODELS.append(model_name(point_with(**tuned_point)))
if TUNED_MODELS == [DEFAULT_MODEL]:
    raise ValueError(
        f"Invalid config: 'tuned.model' must differ from 'default_model', because the "
        f"tuned table compares the two models on one feature set; both name "
        f"{DEFAULT_MODEL!r}. Change a parameter of 'tuned.model', or set 'tuned: null'."
    )
ALL_MODELS = unique(
    [DEFAULT_MODEL]
    + [m for parameter in ABLATION_FIELDS for m in ablation_models(parameter)]
    + DEPTH_MODELS
    + PATCH_COUNT_MODELS
    + ACTIVATION_MODELS
    + TUNED_MODELS
)

DEFAULT_FSET = feature_set_name(
    config["features"]["default"]["stride"], config["features"]["default"]["pooling"]
)
STRIDE_FSETS = unique(
    feature_set_name(entry["stride"], entry["pooling"])
    for entry in config["features"]["strides"]
)


def metrics_path(features, classifier):
    """Metrics file of one feature set and one classifier."""
    return f"{RESULTS}/metrics/{features}/{classifier}.json"


def metrics_paths(feature_sets, classifiers):
    """Metrics files of every feature set with every classifier."""
    return [metrics_path(f, c) for f in feature_sets for c in classifiers]


CLASSIFICATION_FEATURES = [RAW_FEATURES, f"{DEFAULT_MODEL}/{DEFAULT_FSET}"]
STRIDE_FEATURES = [f"{DEFAULT_MODEL}/{fset}" for fset in STRIDE_FSETS]
DEPTH_FEATURES = [f"{model}/{DEFAULT_FSET}" for model in DEPTH_MODELS]
PATCH_COUNT_FEATURES = [f"{model}/{DEFAULT_FSET}" for model in PATCH_COUNT_MODELS]
ACTIVATION_FEATURES = [f"{model}/{DEFAULT_FSET}" for model in ACTIVATION_MODELS]

# The tuned table compares raw pixels, the default model and the tuned model, each
# with the tuned classifier options; both models use the tuned feature set.
if TUNED:
    TUNED_FSET = feature_set_name(
        TUNED["features"]["stride"], TUNED["features"]["pooling"]
    )
    TUNED_FEATURES = [
        RAW_FEATURES,
        f"{DEFAULT_MODEL}/{TUNED_FSET}",
        f"{TUNED_MODELS[0]}/{TUNED_FSET}",
    ]
else:
    TUNED_FEATURES = []

TABLES = list(table_names(config))
FIGURES = list(FIGURE_NAMES)


def all_targets():
    """Every collated table and figure, each model's filters and the provenance."""
    return (
        expand(f"{RESULTS}/tables/{{name}}.{{ext}}", name=TABLES, ext=["csv", "tex"])
        + expand(
            f"{RESULTS}/figures/{{name}}.{{ext}}", name=FIGURES, ext=["png", "pdf"]
        )
        + expand(f"{RESULTS}/filters/{{model}}.png", model=ALL_MODELS)
        + [f"{RESULTS}/provenance.json"]
    )


def model_dirs(models):
    """Directories of trained models."""
    return [f"{RESULTS}/models/{m}" for m in models]


def model_params(wildcards):
    """Parameters of the model named by the wildcard, as a plain dict."""
    point = parse_model_name(wildcards.model)
    return {
        "hidden_sizes": list(point.hidden_sizes),
        "sparsity_target": point.sparsity_target,
        "weight_decay": point.weight_decay,
        "sparsity_weight": point.sparsity_weight,
        "num_patches": point.num_patches,
        "activation": point.activation,
        "linear_decoder": point.linear_decoder,
        "whiten": point.whiten,
        "seed": point.seed,
    }


def feature_set_params(wildcards):
    """Stride and pooling of the feature set named by the wildcard."""
    stride, pooling = parse_feature_set_name(wildcards.fset)
    return {"stride": stride, "pooling": pooling}


def table_outputs(name):
    """CSV (shown in Snakemake's report) and LaTeX files of one collated table."""
    return {
        "csv": report(
            f"{RESULTS}/tables/{name}.csv",
            caption=f"../report/table_{name}.rst",
            category="Tables",
        ),
        "tex": f"{RESULTS}/tables/{name}.tex",
    }


def figure_outputs(name, category):
    """PNG (shown in Snakemake's report) and PDF files of one collated figure."""
    return {
        "png": report(
            f"{RESULTS}/figures/{name}.png",
            caption=f"../report/figure_{name}.rst",
            category=category,
        ),
        "pdf": f"{RESULTS}/figures/{name}.pdf",
    }


def classify_threads(wildcards):
    """Threads of a classify job: one for the linear SVM, whose liblinear is serial."""
    classifier, _ = CLASSIFIER_RUNS[wildcards.classifier]
    return 1 if classifier == "linsvm" else config["max_threads"]


def classify_mem_mb(wildcards, input):
    """Memory of a classify job: the fit's estimate, scaled from the inputs' size."""
    from aecore.classify import estimate_fit_bytes

    # The inputs are float32, so their size in MiB counts values per 4 bytes.
    values = int(input.size_mb * 2**20 / 4)
    classifier, _ = CLASSIFIER_RUNS[wildcards.classifier]
    estimate = estimate_fit_bytes(classifier, values, 0, 1, {"pca": None}) / 2**20
    return int(estimate) + 1000
