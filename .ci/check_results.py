"""Check that a finished run left every collated table and figure, with sane values.

Exits non-zero with a list of problems when a file is missing or empty, or when the
autoencoder features do not classify well above chance.
"""

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from aecore.results import FIGURE_NAMES, table_names


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", default="results", help="results directory")
    parser.add_argument(
        "--min-ratio",
        type=float,
        default=2.0,
        help=(
            "required autoencoder accuracy as a multiple of chance (default 2), at "
            "most half-way from chance to 1"
        ),
    )
    args = parser.parse_args()
    results = Path(args.results)

    # The tables a run builds depend on its config (the tuned table is optional).
    provenance_path = results / "provenance.json"
    config = {}
    if _non_empty(provenance_path):
        config = json.loads(provenance_path.read_text()).get("config") or {}
    expected = [provenance_path]
    expected += [
        results / "tables" / f"{t}.{e}"
        for t in table_names(config)
        for e in ("csv", "tex")
    ]
    expected += [
        results / "figures" / f"{f}.{e}" for f in FIGURE_NAMES for e in ("png", "pdf")
    ]
    problems = [f"missing or empty: {p}" for p in expected if not _non_empty(p)]

    if not problems:
        problems += _check_accuracy(results, args.min_ratio)
        if "tuned" in table_names(config):
            tuned = pd.read_csv(results / "tables" / "tuned.csv")
            print(tuned.to_string(index=False))
        provenance = json.loads((results / "provenance.json").read_text())
        for key in ("dataset", "config", "packages", "git", "date", "machine"):
            if key not in provenance:
                problems.append(f"provenance.json has no {key!r} entry")

    print(f"Checked {len(expected)} files under {results}/")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)
    print("All expected tables and figures exist.")


def _non_empty(path):
    return path.is_file() and path.stat().st_size > 0


def _check_accuracy(results, min_ratio):
    table = pd.read_csv(results / "tables" / "classification.csv")
    print(table.to_string(index=False))
    training = pd.read_csv(results / "tables" / "training.csv")
    print(training[["model", "final_loss", "iterations", "stop_reason"]].to_string())
    n_classes = (
        len(
            json.loads((results / "provenance.json").read_text())["dataset"].get(
                "class_names", []
            )
        )
        or 10
    )
    chance = 1.0 / n_classes
    required = min(min_ratio * chance, (1.0 + chance) / 2)
    autoencoder = table[table["features"].str.startswith("autoencoder")]
    accuracy_columns = [c for c in table.columns if c not in ("features", "n_features")]
    best = autoencoder[accuracy_columns].max(axis=None)
    print(
        f"Best autoencoder-feature accuracy {best:.3f}; chance {chance:.3f}, "
        f"required {required:.3f}"
    )
    if not best >= required:
        return [
            f"autoencoder-feature accuracy {best:.3f} is below the required "
            f"{required:.3f} (chance {chance:.3f})"
        ]
    return []


if __name__ == "__main__":
    main()
