"""Checks of the Snakemake workflow: config validation, the DAG, lint and format.

Dry runs execute in a temporary working directory, so they neither read nor write
the checkout's results/.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import file_modes

from aecore.naming import ModelPoint, model_name
from aecore.results import FIGURE_NAMES, table_names

ROOT = Path(__file__).resolve().parents[1]
SNAKEFILE = ROOT / "workflow" / "Snakefile"
PRESETS = ["config.yaml", "cifar10.yaml", "quick.yaml"]

pytestmark = pytest.mark.skipif(
    shutil.which("snakemake", path=str(Path(sys.executable).parent)) is None
    and shutil.which("snakemake") is None,
    reason="snakemake is not installed (pip install .[workflow])",
)


def snakemake(*args, cwd):
    """Run snakemake; its messages go to stdout or stderr, so both are merged."""
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )


def load_preset(name):
    return yaml.safe_load((ROOT / "config" / name).read_text())


def dry_run(config, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return snakemake(
        "--dry-run", "--quiet", "rules", "--configfile", path, cwd=tmp_path
    )


def job_counts(output):
    """Parse the job-stats table of a dry run into {rule: count}."""
    counts = Counter()
    for line in output.splitlines():
        match = re.fullmatch(r"([a-z_]+)\s+([0-9]+)", line.strip())
        if match and match[1] != "total":
            counts[match[1]] = int(match[2])
    return counts


def expected_models(config):
    """Distinct models of a config, computed independently of common.smk."""
    default = config["default_model"]
    base = {
        "hidden_sizes": tuple(default["hidden_sizes"]),
        "sparsity_target": default["sparsity_target"],
        "weight_decay": default["weight_decay"],
        "sparsity_weight": default["sparsity_weight"],
        "num_patches": default["num_patches"],
        "activation": default.get("activation", "sigmoid"),
        "linear_decoder": default.get("linear_decoder", False),
        "whiten": default.get("whiten", False),
        "seed": config.get("seed", 0),
    }
    points = [ModelPoint(**base)]
    for field, values in config["ablation"].items():
        points += [ModelPoint(**{**base, field: value}) for value in values]
    points += [
        ModelPoint(**{**base, "hidden_sizes": tuple(h)}) for h in config["depth"]
    ]
    points += [ModelPoint(**{**base, "num_patches": n}) for n in config["patch_count"]]
    points += [ModelPoint(**{**base, "activation": a}) for a in config["activation"]]
    if config.get("tuned"):
        tuned = config["tuned"]["model"]
        points.append(
            ModelPoint(
                **{**base, **tuned, "hidden_sizes": tuple(tuned["hidden_sizes"])}
            )
        )
    return {model_name(point) for point in points}


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_dry_run(preset, tmp_path):
    config = load_preset(preset)
    result = dry_run(config, tmp_path)
    assert result.returncode == 0, result.stdout
    counts = job_counts(result.stdout)
    assert counts["train_model"] == len(expected_models(config))
    assert counts["prepare_data"] == 1
    assert counts["all"] == 1


def test_dry_run_lists_same_jobs(tmp_path):
    config = load_preset("config.yaml")
    first = dry_run(config, tmp_path)
    second = dry_run(config, tmp_path)
    assert first.returncode == 0, first.stdout
    assert job_counts(first.stdout) == job_counts(second.stdout)


def test_equal_numbers_give_one_job(tmp_path):
    config = load_preset("quick.yaml")
    config["ablation"] = {
        "sparsity_target": [0.01, 1.0e-2],
        "weight_decay": [1.0e-4, 0.0001, 1.0e-04],
        "sparsity_weight": [3, 3.0],
    }
    config["default_model"]["weight_decay"] = 0.0001
    config["depth"] = [[75]]
    config["patch_count"] = [config["default_model"]["num_patches"]]
    config["activation"] = ["sigmoid"]
    config["tuned"] = None
    result = dry_run(config, tmp_path)
    assert result.returncode == 0, result.stdout
    assert job_counts(result.stdout)["train_model"] == 1


def test_yaml11_exponent_numbers_accepted(tmp_path):
    # YAML 1.1 reads 1e-4 (no decimal point) as a string; the workflow reads it as
    # the number, in a config file and on the command line alike.
    config = load_preset("quick.yaml")
    config["ablation"]["weight_decay"] = ["WD_A", "WD_B"]
    config["default_model"]["weight_decay"] = "WD_C"
    text = yaml.safe_dump(config)
    text = text.replace("WD_A", "1e-4").replace("WD_B", "1E-3").replace("WD_C", "1e-4")
    path = tmp_path / "config.yaml"
    path.write_text(text)
    from_file = snakemake("--dry-run", "--configfile", path, cwd=tmp_path)
    assert from_file.returncode == 0, from_file.stdout
    assert "_lam0.0001_" in from_file.stdout
    assert "_lam0.001_" in from_file.stdout
    override = snakemake(
        "--dry-run",
        "--configfile",
        path,
        "--config",
        "memory_budget_mb=4e3",
        cwd=tmp_path,
    )
    assert override.returncode == 0, override.stdout


def test_exponent_strings_follow_schema(tmp_path):
    # A decimal mantissa with an unsigned exponent is also a string in YAML 1.1
    # and must read as a number, while a name that looks like a number must stay
    # the name.
    config = load_preset("quick.yaml")
    config["memory_budget_mb"] = "BUDGET"
    config["default_model"]["weight_decay"] = "DECAY"
    config["dataset"]["name"] = "1e5"
    text = yaml.safe_dump(config)
    text = text.replace("BUDGET", "2.5e3").replace("DECAY", "1.0e-4")
    path = tmp_path / "config.yaml"
    path.write_text(text)
    result = snakemake("--dry-run", "--configfile", path, cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "results/data/1e5" in result.stdout
    assert "_lam0.0001_" in result.stdout


def test_nested_command_line_config_reads_numbers(tmp_path):
    # Snakemake reads the values of a nested dict given with --config as strings.
    config = load_preset("quick.yaml")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    tuned = (
        "tuned={'model': {'hidden_sizes': [30], 'linear_decoder': true}, "
        "'features': {'stride': 4, 'pooling': 'quadrant'}, "
        "'classify': {'classifiers': ['logreg'], 'options': {'logreg': {'C': [0.5]}}}}"
    )
    result = snakemake(
        "--dry-run", "--configfile", path, "--config", tuned, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout
    # --config merges the dict into the preset's tuned entry, key by key.
    assert "results/models/h30_rho0.035_lam0.003_beta5_n2000_sigmoid_lin_zca_s0" in (
        result.stdout
    )
    assert "/4-quadrant/logreg_C0.5" in result.stdout


def test_model_job_uses_canonical_name(tmp_path):
    config = load_preset("quick.yaml")
    config["default_model"]["weight_decay"] = 1.0e-4
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = snakemake("--dry-run", "--configfile", path, cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "_lam0.0001_" in result.stdout
    assert "_lam1e-04_" not in result.stdout


def _set(config, keys, value):
    target = config
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value


@pytest.mark.parametrize(
    ("keys", "value", "message"),
    [
        (["bogus_key"], 1, r"'bogus_key' is not a known key; the top level allows "),
        (
            ["dataset", "bogus_key"],
            1,
            r"'dataset\.bogus_key' is not a known key; 'dataset' allows kind, ",
        ),
        (
            ["default_model", "sparsity_target"],
            2,
            r"'default_model\.sparsity_target' must be a number > 0 and < 1 "
            r"\(Target mean activation rho.*\); got 2\.",
        ),
        (
            ["ablation", "sparsity_target"],
            [0.01, 2],
            r"'ablation\.sparsity_target\[1\]' must be a number > 0 and < 1 .*; "
            r"got 2\.",
        ),
        (
            ["features", "strides"],
            [{"stride": 0, "pooling": "concat"}],
            r"'features\.strides\[0\]\.stride' must be an integer >= 1 .*; got 0\.",
        ),
        (
            ["patch_count"],
            [],
            r"'patch_count' must be a list of at least 1 item.*; got \[\]\.",
        ),
        (
            ["ablation", "weight_decay"],
            [],
            r"'ablation\.weight_decay' must be a list of at least 1 item.*; got \[\]",
        ),
        (["depth"], [], r"'depth' must be a list of at least 1 item.*; got \[\]\."),
        (
            ["classify", "classifiers"],
            ["knn"],
            r"'classify\.classifiers\[0\]' must be one of 'logreg', .*; got 'knn'\.",
        ),
        (
            ["memory_budget_mb"],
            0,
            r"'memory_budget_mb' must be a number > 0 .*; got 0\.",
        ),
        (
            ["default_model", "weight_decay"],
            "1e-4x",
            r"'default_model\.weight_decay' must be a number >= 0 .*; got '1e-4x'\.",
        ),
        (
            ["dataset", "options"],
            {"row_layout": "chw"},
            r"'dataset\.options\.row_layout' is not a known key; 'dataset\.options' "
            r"allows convert, image_size, resize, workers \(Options of the folder ",
        ),
        (
            ["dataset", "options"],
            {"resize": "yes"},
            r"'dataset\.options\.resize' must be true or false .*; got 'yes'\.",
        ),
    ],
)
def test_invalid_config_stops_dry_run(keys, value, message, tmp_path):
    config = load_preset("quick.yaml")
    _set(config, keys, value)
    result = dry_run(config, tmp_path)
    assert result.returncode != 0
    assert "Invalid config:" in result.stdout
    assert re.search(message, result.stdout), result.stdout
    # One line per problem, not the whole schema and config.
    assert len(result.stdout.splitlines()) < 30, result.stdout
    assert "Failed validating" not in result.stdout
    assert not (tmp_path / "results").exists()


def test_asymmetric_hidden_sizes_rejected(tmp_path):
    config = load_preset("quick.yaml")
    config["depth"] = [[75], [200, 75]]
    result = dry_run(config, tmp_path)
    assert result.returncode != 0
    assert "hidden layer sizes must be symmetric" in result.stdout
    assert "[200, 75]" in result.stdout


def test_tuned_model_equal_to_default_rejected(tmp_path):
    config = load_preset("quick.yaml")
    config["tuned"]["model"] = dict(config["default_model"])
    result = dry_run(config, tmp_path)
    assert result.returncode != 0
    assert "'tuned.model' must differ from 'default_model'" in result.stdout
    assert not (tmp_path / "results").exists()


def test_primary_classifier_must_be_listed(tmp_path):
    config = load_preset("quick.yaml")
    config["classify"]["classifiers"] = ["linsvm"]
    config["classify"]["primary"] = "logreg"
    result = dry_run(config, tmp_path)
    assert result.returncode != 0
    assert "'classify.primary' must be one of" in result.stdout


def test_asymmetric_tuned_hidden_sizes_rejected(tmp_path):
    config = load_preset("quick.yaml")
    config["tuned"]["model"]["hidden_sizes"] = [50, 25]
    result = dry_run(config, tmp_path)
    assert result.returncode != 0
    assert "'tuned.model.hidden_sizes'" in result.stdout
    assert "[50, 25]" in result.stdout


def metrics_outputs(config, tmp_path):
    """Metrics files that a full dry run of ``config`` would write."""
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = snakemake("--dry-run", "--configfile", path, cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    return set(re.findall(r"output: (results/metrics/\S+\.json)", result.stdout))


def test_tuned_options_name_metrics_files(tmp_path):
    config = load_preset("quick.yaml")
    config["classify"]["options"]["logreg"] = {"C": 1.0e-4, "max_iter": 300}
    config["tuned"]["classify"]["options"]["logreg"] = {"C": [0.001, 0.1]}
    outputs = metrics_outputs(config, tmp_path)
    tuned = sorted(path for path in outputs if "logreg_" in path)
    run = "logreg_C0.001-0.1_max_iter300.json"
    assert tuned == sorted(
        [
            f"results/metrics/raw/pixels/{run}",
            f"results/metrics/h75_rho0.01_lam0.0001_beta3_n5000_sigmoid_s0/4-quadrant/{run}",
            "results/metrics/h25_rho0.035_lam0.003_beta5_n2000_sigmoid_lin_zca_s0/"
            f"4-quadrant/{run}",
        ]
    )
    assert "results/metrics/raw/pixels/logreg.json" in outputs


def test_tuned_changed_option_changes_name(tmp_path):
    config = load_preset("quick.yaml")
    config["tuned"]["classify"]["options"]["logreg"] = {"C": [0.001, 0.1]}
    first = metrics_outputs(config, tmp_path)
    config["tuned"]["classify"]["options"]["logreg"]["max_iter"] = 50
    second = metrics_outputs(config, tmp_path)
    changed = sorted(second - first)
    assert len(changed) == 3
    assert all(path.endswith("/logreg_C0.001-0.1_max_iter50.json") for path in changed)


def test_tuned_default_options_share_metrics(tmp_path):
    config = load_preset("quick.yaml")
    config["tuned"]["classify"]["options"] = {}
    config["tuned"]["features"] = config["features"]["default"]
    outputs = metrics_outputs(config, tmp_path)
    assert not [path for path in outputs if "logreg_" in path]
    counts = job_counts(dry_run(config, tmp_path).stdout)
    config["tuned"] = None
    untuned = job_counts(dry_run(config, tmp_path).stdout)
    # Only the tuned model's training, features and fit are new jobs.
    assert counts["classify"] == untuned["classify"] + 1
    assert counts["extract_features"] == untuned["extract_features"] + 1
    assert counts["table_tuned"] == 1
    assert "table_tuned" not in untuned


def test_tuned_single_candidate_shares_metrics(tmp_path):
    # C: [1e-4] is fitted as C: 1e-4, so it reuses the grid's logreg.json.
    config = load_preset("quick.yaml")
    config["classify"]["options"]["logreg"] = {"C": 1.0e-4, "max_iter": 300}
    config["tuned"]["classify"]["options"]["logreg"] = {"C": [1.0e-4]}
    outputs = metrics_outputs(config, tmp_path)
    assert not [path for path in outputs if "logreg_" in path]
    assert "results/metrics/raw/pixels/logreg.json" in outputs


PROFILES = sorted(path.parent.name for path in ROOT.glob("profiles/*/config.yaml"))


@pytest.mark.parametrize("profile", PROFILES)
def test_profile_prints_no_empty_shell_lines(profile, tmp_path):
    # Every rule runs a script, so a profile that prints shell commands adds only
    # "Shell command: None" after each job.
    settings = yaml.safe_load((ROOT / "profiles" / profile / "config.yaml").read_text())
    plugin = f"snakemake_executor_plugin_{settings.get('executor', 'local')}"
    if "executor" in settings and importlib.util.find_spec(plugin) is None:
        pytest.skip(f"{plugin} is not installed (pip install .[workflow])")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(load_preset("quick.yaml")))
    # A Slurm configuration path that does not exist: a dry run needs no cluster.
    env = {**os.environ, "SLURM_CONF": str(tmp_path / "no-slurm.conf")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(SNAKEFILE),
            "--workflow-profile",
            "none",
            "--profile",
            str(ROOT / "profiles" / profile),
            "--dry-run",
            "--configfile",
            str(path),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout
    assert f"Using profile {ROOT / 'profiles' / profile}" in result.stdout
    assert "Shell command: None" not in result.stdout


def test_default_profile_is_workflow_profile(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(load_preset("quick.yaml")))
    result = snakemake(
        "--workflow-profile",
        ROOT / "profiles" / "default",
        "--dry-run",
        "--configfile",
        path,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout
    assert "Using workflow specific profile" in result.stdout
    assert "Shell command: None" not in result.stdout


def test_single_target_builds_only_its_inputs(tmp_path):
    config = load_preset("quick.yaml")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = snakemake(
        "results/figures/training_curve.png",
        "--dry-run",
        "--quiet",
        "rules",
        "--configfile",
        path,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout
    counts = job_counts(result.stdout)
    assert counts == {"prepare_data": 1, "train_model": 1, "figure_training_curve": 1}


def test_snakemake_lint(tmp_path):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    result = snakemake("--lint", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "Lints for" not in result.stdout


def test_snakefmt_check():
    snakefmt = Path(sys.executable).parent / "snakefmt"
    if not snakefmt.exists():
        pytest.skip("snakefmt is not installed (pip install .[workflow])")
    result = subprocess.run(
        [str(snakefmt), "--check", str(ROOT / "workflow")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout


def _script_helpers():
    """Import scripts/_common.py, the helpers shared by the rule scripts."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import _common
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return _common


def test_memory_budget_message_names_keys():
    helpers = _script_helpers()
    with pytest.raises(MemoryError) as caught:
        helpers.check_memory_budget(3 * 2**30, 2048, "feature set m/2-concat")
    message = str(caught.value)
    assert "feature set m/2-concat would take 3072 MiB" in message
    assert "memory_budget_mb (2048 MiB)" in message
    for key in ("features.strides", "dataset.max_train", "dataset.max_test"):
        assert key in message
    helpers.check_memory_budget(2**20, 2048, "small feature set")


def test_memory_budget_message_for_pixels():
    # Stride and pooling do not change the size of raw-pixel features, so the
    # message must not offer them as a remedy.
    helpers = _script_helpers()
    with pytest.raises(MemoryError) as caught:
        helpers.check_memory_budget(
            3 * 2**30, 2048, "raw-pixel feature set", dense_features=False
        )
    message = str(caught.value)
    assert "stride" not in message
    assert "features.strides" not in message
    for key in ("memory_budget_mb", "dataset.max_train", "dataset.max_test"):
        assert key in message


def test_memory_budget_message_for_training():
    # A training job builds no feature set: only the patch counts are offered.
    helpers = _script_helpers()
    with pytest.raises(MemoryError) as caught:
        helpers.check_memory_budget(
            3 * 2**30,
            2048,
            "training of model m (10000000 patches)",
            remedies=["fewer patches with default_model.num_patches and patch_count"],
        )
    message = str(caught.value)
    assert "training of model m (10000000 patches) would take 3072 MiB" in message
    assert "default_model.num_patches and patch_count" in message
    assert "stride" not in message
    assert "max_train" not in message


def test_memory_budget_names_tuned_keys():
    # With a tuned entry, the tuned model's patches, feature set and classifier
    # options are set under tuned, so the messages name those keys as well.
    helpers = _script_helpers()
    tuned = load_preset("quick.yaml")["tuned"]
    assert "tuned.model.num_patches" in helpers.training_remedies(tuned)[0]
    assert "tuned" not in helpers.training_remedies(None)[0]
    assert helpers.classifier_remedy("logreg", tuned) == (
        "classify.options.logreg.pca or tuned.classify.options.logreg.pca"
    )
    assert helpers.classifier_remedy("forest", tuned) == "classify.options.forest.pca"
    assert helpers.classifier_remedy("logreg", None) == "classify.options.logreg.pca"
    with pytest.raises(MemoryError) as caught:
        helpers.check_memory_budget(
            3 * 2**30, 2048, "feature set m/1-quadrant", tuned=tuned
        )
    assert "features.strides and tuned.features" in str(caught.value)
    with pytest.raises(MemoryError) as caught:
        helpers.check_memory_budget(3 * 2**30, 2048, "feature set m/1-quadrant")
    assert "tuned" not in str(caught.value)


def test_atomic_path_rejects_directory(tmp_path):
    helpers = _script_helpers()
    with pytest.raises(ValueError, match="path must name a file, got the directory"):
        with helpers.atomic_path(tmp_path):
            pass
    assert list(tmp_path.iterdir()) == []


def test_save_figure_checks_suffixes(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    helpers = _script_helpers()
    figure = plt.figure()
    with pytest.raises(ValueError, match=r"png_path must end in \.png, got '.*f\.jpg'"):
        helpers.save_figure(figure, tmp_path / "f.jpg", tmp_path / "f.pdf")
    with pytest.raises(ValueError, match=r"pdf_path must end in \.pdf, got '.*f'"):
        helpers.save_figure(figure, tmp_path / "f.png", tmp_path / "f")
    assert list(tmp_path.iterdir()) == []
    helpers.save_figure(figure, tmp_path / "f.png", tmp_path / "f.pdf")
    assert (tmp_path / "f.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "f.pdf").read_bytes().startswith(b"%PDF")


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    helpers = _script_helpers()
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError):
        with helpers.atomic_path(target) as temporary:
            Path(temporary).write_text("half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    with helpers.atomic_path(target) as temporary:
        Path(temporary).write_text("whole")
    assert target.read_text() == "whole"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_path_follows_umask(tmp_path, umask_027):
    helpers = _script_helpers()
    target = tmp_path / "table.csv"
    with helpers.atomic_path(target) as temporary:
        Path(temporary).write_text("a,b\n")
    assert file_modes(target) == {"table.csv": 0o640}


def _write_image_folder(root, n_per_class, rng):
    """Write 16x16 PNGs of two classes: horizontal versus vertical stripes."""
    from PIL import Image

    stripes = (np.arange(16) // 2 % 2 * 150 + 50).astype(np.uint8)
    patterns = {
        "horizontal": np.repeat(stripes[:, None], 16, axis=1),
        "vertical": np.repeat(stripes[None, :], 16, axis=0),
    }
    for split, count in n_per_class.items():
        for name, pattern in patterns.items():
            folder = root / split / name
            folder.mkdir(parents=True)
            for number in range(count):
                noise = rng.integers(-40, 40, size=(16, 16, 3))
                image = np.clip(pattern[:, :, None] + noise, 0, 255).astype(np.uint8)
                Image.fromarray(image).save(folder / f"{number:03d}.png")


@pytest.mark.slow
def test_workflow_end_to_end_on_tiny_images(tmp_path):
    _write_image_folder(
        tmp_path / "images", {"train": 40, "test": 20}, np.random.default_rng(0)
    )
    config = load_preset("quick.yaml")
    config["dataset"].update(
        name="stripes", source="images", max_train=None, max_test=None
    )
    config["training"]["maxiter"] = 20
    config["default_model"].update(hidden_sizes=[10], num_patches=300)
    config["ablation"] = {
        "sparsity_target": [0.01, 0.1],
        "weight_decay": [1.0e-4],
        "sparsity_weight": [3],
    }
    config["features"]["strides"] = [
        {"stride": 4, "pooling": "concat"},
        {"stride": 4, "pooling": "quadrant"},
    ]
    config["depth"] = [[10], [12, 6, 12]]
    config["patch_count"] = [100, 300]
    config["classify"]["options"]["forest"] = {"n_estimators": 10, "pca": 8}
    config["speed"] = {"sizes": [100, 1000], "repeats": 1, "extra_timings": []}
    config["tuned"]["model"].update(hidden_sizes=[8], num_patches=300)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    targets = [f"results/tables/{name}.csv" for name in table_names(config)]
    targets += [f"results/figures/{name}.pdf" for name in FIGURE_NAMES]
    targets += ["results/provenance.json"]

    result = snakemake(*targets, "--cores", "2", "--configfile", path, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-5000:]

    checker = subprocess.run(
        [
            sys.executable,
            str(ROOT / ".ci" / "check_results.py"),
            "--results",
            str(tmp_path / "results"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert checker.returncode == 0, checker.stdout
    logs = list((tmp_path / "logs" / "train_model").glob("*.log"))
    assert len(logs) == 6
    assert all("loss" in log.read_text() for log in logs)
    assert not list((tmp_path / "results" / "features").rglob("*.npy"))

    again = snakemake(*targets, "--dry-run", "--configfile", path, cwd=tmp_path)
    assert "Nothing to be done" in again.stdout


def test_dataset_options_reach_reader(tmp_path):
    from PIL import Image

    from aecore.datasets import open_dataset

    _write_image_folder(
        tmp_path / "images", {"train": 3, "test": 2}, np.random.default_rng(0)
    )
    odd = np.zeros((20, 20, 3), dtype=np.uint8)
    Image.fromarray(odd).save(tmp_path / "images" / "train" / "vertical" / "odd.png")
    config = load_preset("quick.yaml")
    config["dataset"].update(
        name="stripes", source="images", max_train=None, max_test=None
    )
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    target = "results/data/stripes"
    refused = snakemake(target, "--cores", "1", "--configfile", path, cwd=tmp_path)
    assert refused.returncode != 0
    log = (tmp_path / "logs" / "prepare_data" / "stripes.log").read_text()
    assert "dataset.options.resize: true" in log
    assert "--resize" in log

    config["dataset"]["options"] = {"resize": True, "image_size": 16, "workers": 1}
    path.write_text(yaml.safe_dump(config))
    result = snakemake(target, "--cores", "1", "--configfile", path, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-5000:]
    dataset = open_dataset(tmp_path / target)
    assert dataset.images("train").shape == (7, 16, 16, 3)
    assert dataset.meta["request"]["options"]["resize"] is True

    # workers sets the job's threads, not its output.
    config["dataset"]["options"]["workers"] = 2
    path.write_text(yaml.safe_dump(config))
    again = snakemake(target, "--dry-run", "--configfile", path, cwd=tmp_path)
    assert again.returncode == 0, again.stdout
    assert "Nothing to be done" in again.stdout, again.stdout


def test_execution_settings_rerun_nothing(tmp_path):
    # Logging interval, memory budget and encoding batch size change no result, so
    # changing them after a run must not retrain, re-encode or refit anything.
    _write_image_folder(
        tmp_path / "images", {"train": 10, "test": 5}, np.random.default_rng(0)
    )
    config = load_preset("quick.yaml")
    config["dataset"].update(
        name="stripes", source="images", max_train=None, max_test=None
    )
    config["training"]["maxiter"] = 3
    config["default_model"].update(hidden_sizes=[4], num_patches=50)
    model = model_name(
        ModelPoint(
            hidden_sizes=(4,),
            sparsity_target=config["default_model"]["sparsity_target"],
            weight_decay=config["default_model"]["weight_decay"],
            sparsity_weight=config["default_model"]["sparsity_weight"],
            num_patches=50,
        )
    )
    targets = [
        f"results/metrics/{model}/4-concat/logreg.json",
        "results/metrics/raw/pixels/logreg.json",
    ]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    first = snakemake(*targets, "--cores", "2", "--configfile", path, cwd=tmp_path)
    assert first.returncode == 0, first.stdout[-5000:]

    config["training"]["log_every"] = 1
    config["memory_budget_mb"] = 3000
    config["features"]["batch_size"] = 7
    path.write_text(yaml.safe_dump(config))
    again = snakemake(*targets, "--dry-run", "--configfile", path, cwd=tmp_path)
    assert again.returncode == 0, again.stdout
    assert "Nothing to be done" in again.stdout, again.stdout

    # A setting that changes the model still reruns its jobs.
    config["training"]["maxiter"] = 4
    path.write_text(yaml.safe_dump(config))
    changed = snakemake(*targets, "--dry-run", "--configfile", path, cwd=tmp_path)
    assert changed.returncode == 0, changed.stdout
    assert "train_model" in changed.stdout


def test_every_table_has_report_caption():
    # snakemake --report stops when an output marked for the report has no caption.
    for name in table_names({"tuned": {"model": {}}}):
        caption = ROOT / "workflow" / "report" / f"table_{name}.rst"
        assert caption.is_file(), f"missing caption {caption}"
