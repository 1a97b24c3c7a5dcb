"""Argument checks shared by the public entry points; messages name the argument."""

from __future__ import annotations

import math
import numbers

import numpy as np


def check_int(name: str, value, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def check_real(
    name: str,
    value,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float inside the given bounds, or raise ValueError."""
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    interval = f"{'(' if low_open or low is None else '['}{lo}, {hi}"
    interval += ")" if high_open or high is None else "]"
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a real number in {interval}, got {value!r}."
        ) from None
    if isinstance(value, bool) or not math.isfinite(number):
        raise ValueError(f"{name} must be a real number in {interval}, got {value!r}.")
    too_low = low is not None and (number < low or (low_open and number == low))
    too_high = high is not None and (number > high or (high_open and number == high))
    if too_low or too_high:
        raise ValueError(f"{name} must be in {interval}, got {value!r}.")
    return number


def check_choice(name: str, value, choices) -> str:
    """Return ``value`` if it is one of ``choices``, or raise ValueError."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}.")
    return value


def check_float_dtype(name: str, value) -> np.dtype:
    """Return ``value`` as float32 or float64 dtype, or raise ValueError."""
    try:
        dtype = np.dtype(value)
    except TypeError:
        dtype = None
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"{name} must be 'float32' or 'float64', got {value!r}.")
    return dtype


def check_finite(name: str, array: np.ndarray) -> None:
    """Raise ValueError if a floating ``array`` contains NaN or infinity."""
    if array.dtype.kind not in "fc":
        return
    # A finite sum proves every element finite at the cost of one cheap reduction;
    # only a non-finite sum (NaN, inf, or an overflow) needs the elementwise test.
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.add.reduce(array, axis=None)
    if np.isfinite(total):
        return
    bad = ~np.isfinite(array)
    if bad.any():
        count = int(bad.sum())
        raise ValueError(
            f"{name} contains {count} NaN or infinite value(s); clean or impute the "
            "data first."
        )


def as_real_array(name: str, value) -> np.ndarray:
    """Return ``value`` as an array of booleans, integers or floats, or raise.

    Complex arrays are rejected rather than cast, because a cast would drop the
    imaginary part without an error.
    """
    try:
        array = np.asarray(value)
    except ValueError:
        # NumPy raises ValueError for nested sequences of unequal lengths.
        raise ValueError(
            f"{name} must be an array of real numbers with rows of equal length; "
            "its nested sequences have different lengths."
        ) from None
    check_real_dtype(name, array.dtype)
    return array


def check_real_dtype(name: str, dtype) -> None:
    """Raise ValueError unless ``dtype`` is a boolean, integer or float type."""
    if np.dtype(dtype).kind not in "biuf":
        raise ValueError(
            f"{name} must be an array of real numbers (bool, integer or float), got "
            f"dtype {dtype}."
        )


def as_float_matrix(name: str, data, n_columns: int | None = None) -> np.ndarray:
    """Return ``data`` as a 2-D floating array, checking columns and finiteness."""
    array = as_real_array(name, data)
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array (samples as rows), got shape {array.shape}."
        )
    if array.shape[0] < 1:
        raise ValueError(
            f"{name} must contain at least one row, got shape {array.shape}."
        )
    if n_columns is not None and array.shape[1] != n_columns:
        raise ValueError(
            f"{name} must have {n_columns} columns (visible_size), got shape "
            f"{array.shape}."
        )
    check_finite(name, array)
    return array


def patch_side(name: str, n_values: int) -> int:
    """Return d such that ``n_values == 3 * d * d``, or raise ValueError."""
    side = math.isqrt(n_values // 3) if n_values > 0 else 0
    if n_values <= 0 or 3 * side * side != n_values:
        raise ValueError(
            f"{name} rows must reshape to d x d x 3 (3 * d**2 values), got rows of "
            f"{n_values} values."
        )
    return side
