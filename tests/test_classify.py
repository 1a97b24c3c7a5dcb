import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import make_classification

from aecore.classify import (
    CLASSIFIERS,
    estimate_fit_bytes,
    evaluate,
    evaluate_folds,
    evaluate_with_validation,
    make_pipeline,
    pixel_features,
    restrict_folds,
    subset_indices,
)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=600,
        n_features=20,
        n_informative=8,
        n_classes=4,
        class_sep=2.0,
        random_state=0,
    )
    X = X * 50.0 + 10.0  # far from unit scale, so scaling matters
    return X[:400], y[:400], X[400:], y[400:]


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_evaluate_beats_chance(data, name):
    options = {"n_estimators": 30} if name == "forest" else {}
    if name == "hgb":
        options = {"max_iter": 30}
    result = evaluate(make_pipeline(name, options), *data)
    assert result["accuracy"] > 0.6  # chance is 0.25
    assert result["n_train"] == 400
    assert result["n_test"] == 200
    assert result["n_features"] == 20
    assert result["fit_seconds"] >= 0


def test_scaler_fitted_on_training_rows(data):
    X_train, y_train, X_test, y_test = data
    pipeline = make_pipeline("logreg")
    evaluate(pipeline, X_train, y_train, X_test, y_test)
    assert_allclose(pipeline.named_steps["scale"].mean_, X_train.mean(axis=0))
    assert_allclose(pipeline.named_steps["scale"].scale_, X_train.std(axis=0))


def test_pca_step(data):
    pipeline = make_pipeline("logreg", {"pca": 5, "C": 0.5})
    assert list(pipeline.named_steps) == ["scale", "pca", "classify"]
    evaluate(pipeline, *data)
    assert pipeline.named_steps["pca"].n_components_ == 5
    assert pipeline.named_steps["classify"].C == 0.5


def test_convergence_warning_recorded(data):
    result = evaluate(make_pipeline("logreg", {"max_iter": 1}), *data)
    assert result["converged"] is False
    assert result["warnings"]


def test_evaluate_same_result_twice(data):
    first = evaluate(make_pipeline("forest", {"n_estimators": 10}, seed=3), *data)
    second = evaluate(make_pipeline("forest", {"n_estimators": 10}, seed=3), *data)
    assert first["accuracy"] == second["accuracy"]


def test_folds_protocol(data):
    X_train, y_train, X_test, y_test = data
    folds = [np.arange(0, 200), np.arange(100, 300), np.arange(200, 400)]
    result = evaluate_folds(
        lambda: make_pipeline("logreg"), X_train, y_train, X_test, y_test, folds
    )
    expected = [
        evaluate(make_pipeline("logreg"), X_train[f], y_train[f], X_test, y_test)[
            "accuracy"
        ]
        for f in folds
    ]
    assert_allclose(result["fold_accuracies"], expected)
    assert_allclose(result["fold_mean"], np.mean(expected))
    assert_allclose(result["fold_std"], np.std(expected))
    assert len(result["fold_fit_seconds"]) == 3


def test_folds_reject_bad_indices(data):
    with pytest.raises(ValueError, match=r"folds\[1\] must be a non-empty 1-D array"):
        evaluate_folds(
            lambda: make_pipeline("logreg"), *data, [np.arange(10), np.array([400])]
        )
    with pytest.raises(ValueError, match="folds must contain at least one"):
        evaluate_folds(lambda: make_pipeline("logreg"), *data, [])


def test_make_pipeline_rejects():
    with pytest.raises(ValueError, match="name must be one of"):
        make_pipeline("knn")
    with pytest.raises(ValueError, match=r"Invalid options \['gamma'\]"):
        make_pipeline("logreg", {"gamma": 1})
    with pytest.raises(ValueError, match="'pca' option must be a positive integer"):
        make_pipeline("logreg", {"pca": 0})
    with pytest.raises(ValueError, match=r"Options \['C'\] of classifier 'logreg'"):
        make_pipeline("logreg", {"C": [0.1, 1.0]})


def test_evaluate_rejects_shapes(data):
    X_train, y_train, X_test, y_test = data
    with pytest.raises(ValueError, match="X_test must have as many columns"):
        evaluate(make_pipeline("logreg"), X_train, y_train, X_test[:, :5], y_test)
    with pytest.raises(ValueError, match="y_train must be 1-D with 400 entries"):
        evaluate(make_pipeline("logreg"), X_train, y_train[:10], X_test, y_test)
    with pytest.raises(ValueError, match="X_train must be 2-D"):
        evaluate(make_pipeline("logreg"), X_train[0], y_train, X_test, y_test)


def test_pixel_features():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 4, 5, 3), dtype=np.uint8)
    features = pixel_features(images, batch_size=3)
    assert features.dtype == np.float32
    assert features.shape == (7, 60)
    assert_allclose(features[2], images[2].reshape(-1) / 255.0, rtol=1e-6)
    with pytest.raises(ValueError, match="images must be 4-D"):
        pixel_features(images[0])
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        pixel_features(images, batch_size=0)


def test_subset_indices_stratified():
    labels = np.repeat(np.arange(5), [100, 100, 100, 100, 200])
    chosen = subset_indices(labels, 120, seed=1)
    assert chosen.shape == (120,)
    assert np.all(np.diff(chosen) > 0)
    counts = np.bincount(labels[chosen])
    assert counts.tolist() == [20, 20, 20, 20, 40]
    assert np.array_equal(chosen, subset_indices(labels, 120, seed=1))
    assert not np.array_equal(chosen, subset_indices(labels, 120, seed=2))


def test_subset_indices_no_limit():
    labels = np.arange(10) % 2
    assert np.array_equal(subset_indices(labels, None), np.arange(10))
    assert np.array_equal(subset_indices(labels, 50), np.arange(10))
    with pytest.raises(ValueError, match="limit must be a positive integer"):
        subset_indices(labels, 0)


@pytest.mark.parametrize(
    ("counts", "limit", "expected"),
    [
        # Fewer rows left out than there are classes.
        ([100] * 10, 995, [100, 100, 100, 100, 100, 99, 99, 99, 99, 99]),
        ([100] * 10, 999, None),
        # A class with a single image.
        ([50, 1], 10, [10, 0]),
        ([50, 1], 50, [49, 1]),
        # Fewer rows than classes.
        ([100] * 10, 5, None),
    ],
)
def test_subset_indices_edge_limits(counts, limit, expected):
    # Limits that a stratified train/test split cannot make must still give
    # exactly ``limit`` rows with proportional class shares.
    labels = np.repeat(np.arange(len(counts)), counts)
    chosen = subset_indices(labels, limit, seed=0)
    assert chosen.shape == (limit,)
    assert np.all(np.diff(chosen) > 0)
    kept = np.bincount(labels[chosen], minlength=len(counts))
    shares = np.asarray(counts) * limit / sum(counts)
    assert np.all(np.abs(kept - shares) < 1)
    if expected is not None:
        assert sorted(kept.tolist(), reverse=True) == sorted(expected, reverse=True)
    assert np.array_equal(chosen, subset_indices(labels, limit, seed=0))


def test_restrict_folds():
    folds = [np.array([0, 1, 2]), np.array([3, 4, 5]), np.array([6, 7])]
    rows = np.array([1, 2, 4, 9])
    restricted = restrict_folds(folds, rows)
    assert len(restricted) == 2
    assert restricted[0].tolist() == [0, 1]
    assert restricted[1].tolist() == [2]
    assert restrict_folds(None, rows) is None
    full = restrict_folds(folds, np.arange(10))
    assert [f.tolist() for f in full] == [f.tolist() for f in folds]


def test_estimate_fit_bytes():
    plain = estimate_fit_bytes("logreg", 1000, 500, 100)
    assert plain == 1500 * 100 * 8
    svm = estimate_fit_bytes("linsvm", 1000, 500, 100)
    assert svm > plain
    reduced = estimate_fit_bytes("linsvm", 1000, 500, 100, {"pca": 10})
    assert reduced < svm
    assert estimate_fit_bytes(
        "linsvm", 1000, 500, 5, {"pca": 10}
    ) == estimate_fit_bytes("linsvm", 1000, 500, 5)
    with pytest.raises(ValueError, match="name must be one of"):
        estimate_fit_bytes("knn", 1, 1, 1)


def test_estimate_fit_bytes_counts_candidate_split():
    # Fitting candidates on a split of the training rows copies those rows once.
    single = estimate_fit_bytes("logreg", 1000, 500, 100, {"C": 0.1})
    listed = estimate_fit_bytes("logreg", 1000, 500, 100, {"C": [0.1, 1.0]})
    one_value = estimate_fit_bytes("logreg", 1000, 500, 100, {"C": [0.1]})
    assert listed - single == 1000 * 100 * 4
    assert one_value == single


def test_validation_chooses_best_candidate(data):
    X_train, y_train, X_test, y_test = data
    # C = 1e-6 shrinks every weight to about zero, so it scores near chance on the
    # held-out rows and validation must choose C = 1.
    result = evaluate_with_validation(
        "logreg", {"C": [1e-6, 1.0], "max_iter": 500}, X_train, y_train, X_test, y_test
    )
    validation = result["validation"]
    assert result["chosen_options"] == {"C": 1.0, "max_iter": 500}
    assert validation["candidates"] == [{"C": 1e-6}, {"C": 1.0}]
    assert validation["accuracies"][1] > validation["accuracies"][0]
    assert validation["n_fit"] + validation["n_validation"] == len(y_train)
    assert validation["n_validation"] == 80
    assert result["n_train"] == len(y_train)
    assert result["accuracy"] > 0.5


def test_validation_ignores_test_rows(data):
    X_train, y_train, X_test, y_test = data
    options = {"C": [1e-6, 1.0], "max_iter": 500}
    first = evaluate_with_validation(
        "logreg", options, X_train, y_train, X_test, y_test
    )
    # Shuffled test labels change the test accuracy but not the choice.
    shuffled = np.random.default_rng(0).permutation(y_test)
    second = evaluate_with_validation(
        "logreg", options, X_train, y_train, X_test, shuffled
    )
    assert second["validation"] == first["validation"]
    assert second["chosen_options"] == first["chosen_options"]


def test_validation_same_result_twice(data):
    X_train, y_train, X_test, y_test = data
    options = {"C": [0.01, 0.1, 1.0]}
    first = evaluate_with_validation(
        "linsvm", options, X_train, y_train, X_test, y_test, seed=3
    )
    second = evaluate_with_validation(
        "linsvm", options, X_train, y_train, X_test, y_test, seed=3
    )
    assert first["validation"] == second["validation"]
    assert first["accuracy"] == second["accuracy"]


def test_validation_without_candidates_is_evaluate(data):
    X_train, y_train, X_test, y_test = data
    result = evaluate_with_validation(
        "logreg", {"C": 0.5}, X_train, y_train, X_test, y_test
    )
    plain = evaluate(make_pipeline("logreg", {"C": 0.5}), *data)
    assert "validation" not in result
    assert result["chosen_options"] == {"C": 0.5}
    assert result["accuracy"] == plain["accuracy"]


@pytest.mark.parametrize(
    ("name", "options", "fraction", "message"),
    [
        ("knn", {}, 0.2, "name must be one of"),
        ("logreg", {"max_iter": [10, 20]}, 0.2, "Invalid option 'max_iter'"),
        ("forest", {"n_estimators": [5, 10]}, 0.2, "'forest' takes no candidate"),
        ("logreg", {"C": []}, 0.2, "list of candidate values is empty"),
        ("logreg", {"C": [0.1, 1.0]}, 1.0, "validation_fraction must be in"),
        ("logreg", {"C": [0.1, 1.0]}, 0.0, "validation_fraction must be in"),
    ],
)
def test_validation_rejects(data, name, options, fraction, message):
    with pytest.raises(ValueError, match=message):
        evaluate_with_validation(name, options, *data, validation_fraction=fraction)


def test_validation_rejects_too_few_rows(data):
    X_train, y_train, X_test, y_test = data
    with pytest.raises(ValueError, match="Cannot hold out 0.2 of 6 training rows"):
        evaluate_with_validation(
            "logreg", {"C": [0.1, 1.0]}, X_train[:6], y_train[:6], X_test, y_test
        )


def test_validation_single_candidate_needs_no_split(data):
    # Six rows are too few to hold out every class, but one value needs no choice.
    X_train, y_train, X_test, y_test = data
    rows = (X_train[:6], y_train[:6], X_test, y_test)
    result = evaluate_with_validation("logreg", {"C": [0.5], "max_iter": 200}, *rows)
    plain = evaluate(make_pipeline("logreg", {"C": 0.5, "max_iter": 200}), *rows)
    assert "validation" not in result
    assert result["chosen_options"] == {"C": 0.5, "max_iter": 200}
    assert result["accuracy"] == plain["accuracy"]


def test_validation_too_few_rows_remedy(data):
    X_train, y_train, X_test, y_test = data
    with pytest.raises(ValueError, match="Give each option one value, or use more"):
        evaluate_with_validation(
            "logreg", {"C": [0.1, 1.0]}, X_train[:6], y_train[:6], X_test, y_test
        )
