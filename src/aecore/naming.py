"""Canonical names for numbers, models and feature sets.

The workflow builds every path from these names, so two configs that mean the same
thing produce the same files and a dry run always lists the same jobs.

A model name lists its parameters in a fixed order::

    h75_rho0.01_lam0.0001_beta3_n10000_sigmoid_s0
    h200-75-200_rho0.01_lam0.0001_beta3_n10000_relu_lin_zca_s1

Fields, in order: hidden sizes (``h``, joined by ``-``), sparsity target (``rho``),
weight decay (``lam``), sparsity weight (``beta``), number of training patches
(``n``), hidden activation, then ``lin`` when the decoder is linear and ``zca`` when
the patches are whitened, and last the seed (``s``).

A classifier with options other than the study's defaults gets its own name, which
lists every option in sorted order of the keys, for example::

    logreg_C0.001-0.01-0.1_max_iter1000

so metrics files of two option sets never share a path.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "ACTIVATIONS",
    "MODEL_NAME_PATTERN",
    "NUMBER_PATTERN",
    "POOLINGS",
    "ModelPoint",
    "format_number",
    "parse_number",
    "model_name",
    "parse_model_name",
    "feature_set_name",
    "parse_feature_set_name",
    "classifier_options_name",
]

ACTIVATIONS = ("sigmoid", "relu")
POOLINGS = ("concat", "quadrant")

#: Regular expression matching every string that :func:`format_number` returns.
NUMBER_PATTERN = r"-?[0-9]+(?:\.[0-9]+)?(?:e[-+][0-9]+)?"

#: Regular expression matching every string that :func:`model_name` returns.
MODEL_NAME_PATTERN = (
    r"h[0-9]+(?:-[0-9]+)*"
    rf"_rho{NUMBER_PATTERN}_lam{NUMBER_PATTERN}_beta{NUMBER_PATTERN}"
    rf"_n[0-9]+_(?:{'|'.join(ACTIVATIONS)})(?:_lin)?(?:_zca)?_s[0-9]+"
)

_MODEL_NAME_RE = re.compile(
    r"h(?P<hidden>[0-9]+(?:-[0-9]+)*)"
    rf"_rho(?P<rho>{NUMBER_PATTERN})"
    rf"_lam(?P<lam>{NUMBER_PATTERN})"
    rf"_beta(?P<beta>{NUMBER_PATTERN})"
    r"_n(?P<n>[0-9]+)"
    rf"_(?P<activation>{'|'.join(ACTIVATIONS)})"
    r"(?P<lin>_lin)?(?P<zca>_zca)?"
    r"_s(?P<seed>[0-9]+)"
)
_FEATURE_SET_RE = re.compile(
    rf"(?P<stride>[1-9][0-9]*)-(?P<pooling>{'|'.join(POOLINGS)})"
)


def format_number(value: float | int | str) -> str:
    """Format a number in the one canonical form used in names and paths.

    Equal values give equal strings whatever their written form: ``1e-4``,
    ``0.0001`` and ``"1.0E-4"`` all give ``"0.0001"``, and ``3``, ``3.0`` and
    ``"3"`` all give ``"3"``.

    Parameters
    ----------
    value : float, int or str
        A finite real number, or a string that :func:`float` parses as one.

    Returns
    -------
    str
        Integral values without a decimal point; other values in Python's shortest
        round-trip form (``repr`` of the float), which switches to exponent notation
        below 1e-4, for example ``"1e-05"``.

    Raises
    ------
    TypeError
        If ``value`` is not a real number or a string.
    ValueError
        If ``value`` does not parse as a number, or is infinite or NaN.
    """
    number = _to_float(value, "value")
    if number == 0.0:
        return "0"
    if number.is_integer() and abs(number) < 1e16:
        return str(int(number))
    return repr(number)


def parse_number(text: str) -> float | int:
    """Parse a string written by :func:`format_number` back into a number.

    Parameters
    ----------
    text : str
        Canonical number string.

    Returns
    -------
    int or float
        An ``int`` when the text has no decimal point or exponent, else a ``float``.

    Raises
    ------
    ValueError
        If ``text`` is not in the canonical form, for example ``"1e-4"`` where the
        canonical form is ``"0.0001"``.
    """
    if not isinstance(text, str) or not re.fullmatch(NUMBER_PATTERN, text):
        raise ValueError(f"Invalid number string {text!r}: expected a number.")
    number = float(text) if any(c in text for c in ".e") else int(text)
    if format_number(number) != text:
        raise ValueError(
            f"Invalid number string {text!r}: the canonical form of this number is "
            f"{format_number(number)!r}."
        )
    return number


@dataclass(frozen=True)
class ModelPoint:
    """Parameters that identify one trained autoencoder.

    Parameters
    ----------
    hidden_sizes : tuple of int
        Hidden layer sizes, for example ``(75,)`` or ``(200, 75, 200)``.
    sparsity_target : float
        Target mean activation rho of each hidden unit, in (0, 1).
    weight_decay : float
        Weight-decay coefficient lambda, at least 0.
    sparsity_weight : float
        Weight beta of the KL sparsity penalty, at least 0.
    num_patches : int
        Number of training patches, at least 1.
    activation : {"sigmoid", "relu"}
        Hidden-layer activation.
    linear_decoder : bool
        True when the output layer is the identity.
    whiten : bool
        True when training patches are ZCA-whitened.
    seed : int
        Seed of patch sampling and initialisation, at least 0.
    """

    hidden_sizes: tuple[int, ...]
    sparsity_target: float
    weight_decay: float
    sparsity_weight: float
    num_patches: int
    activation: str = "sigmoid"
    linear_decoder: bool = False
    whiten: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        hidden = self.hidden_sizes
        if isinstance(hidden, numbers.Integral):
            hidden = (hidden,)
        if isinstance(hidden, str) or not hasattr(hidden, "__iter__"):
            raise TypeError(
                "hidden_sizes must be a sequence of positive integers, "
                f"got {self.hidden_sizes!r}."
            )
        hidden = tuple(hidden)
        if not hidden or not all(
            isinstance(h, numbers.Integral) and not isinstance(h, bool) and h > 0
            for h in hidden
        ):
            raise ValueError(
                "hidden_sizes must be a non-empty sequence of positive integers, "
                f"got {self.hidden_sizes!r}."
            )
        object.__setattr__(self, "hidden_sizes", tuple(int(h) for h in hidden))

        rho = _to_float(self.sparsity_target, "sparsity_target")
        if not 0.0 < rho < 1.0:
            raise ValueError(f"sparsity_target must be in (0, 1), got {rho!r}.")
        for field in ("weight_decay", "sparsity_weight"):
            number = _to_float(getattr(self, field), field)
            if number < 0.0:
                raise ValueError(f"{field} must be at least 0, got {number!r}.")
            object.__setattr__(self, field, parse_number(format_number(number)))
        object.__setattr__(self, "sparsity_target", parse_number(format_number(rho)))

        for field, low in (("num_patches", 1), ("seed", 0)):
            number = getattr(self, field)
            if (
                not isinstance(number, numbers.Integral)
                or isinstance(number, bool)
                or number < low
            ):
                raise ValueError(
                    f"{field} must be an integer of at least {low}, got {number!r}."
                )
            object.__setattr__(self, field, int(number))

        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {ACTIVATIONS}, got {self.activation!r}."
            )
        for field in ("linear_decoder", "whiten"):
            if not isinstance(getattr(self, field), bool):
                raise TypeError(
                    f"{field} must be a bool, got {getattr(self, field)!r}."
                )


def model_name(point: ModelPoint) -> str:
    """Build the canonical name of a model.

    Parameters
    ----------
    point : ModelPoint
        Model parameters.

    Returns
    -------
    str
        Name such as ``h75_rho0.01_lam0.0001_beta3_n10000_sigmoid_s0``.

    Raises
    ------
    TypeError
        If ``point`` is not a :class:`ModelPoint`.
    """
    if not isinstance(point, ModelPoint):
        raise TypeError(f"point must be a ModelPoint, got {type(point).__name__}.")
    parts = [
        "h" + "-".join(str(h) for h in point.hidden_sizes),
        "rho" + format_number(point.sparsity_target),
        "lam" + format_number(point.weight_decay),
        "beta" + format_number(point.sparsity_weight),
        f"n{point.num_patches}",
        point.activation,
    ]
    if point.linear_decoder:
        parts.append("lin")
    if point.whiten:
        parts.append("zca")
    parts.append(f"s{point.seed}")
    return "_".join(parts)


def parse_model_name(name: str) -> ModelPoint:
    """Parse a name built by :func:`model_name` back into its parameters.

    Parameters
    ----------
    name : str
        Canonical model name.

    Returns
    -------
    ModelPoint
        The parameters, such that ``model_name(parse_model_name(name)) == name``.

    Raises
    ------
    ValueError
        If ``name`` does not have the canonical form.
    """
    match = _MODEL_NAME_RE.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise ValueError(
            f"Invalid model name {name!r}: expected the form "
            "h75_rho0.01_lam0.0001_beta3_n10000_sigmoid_s0."
        )
    point = ModelPoint(
        hidden_sizes=tuple(int(h) for h in match["hidden"].split("-")),
        sparsity_target=float(match["rho"]),
        weight_decay=float(match["lam"]),
        sparsity_weight=float(match["beta"]),
        num_patches=int(match["n"]),
        activation=match["activation"],
        linear_decoder=match["lin"] is not None,
        whiten=match["zca"] is not None,
        seed=int(match["seed"]),
    )
    if model_name(point) != name:
        raise ValueError(
            f"Invalid model name {name!r}: its canonical form is {model_name(point)!r}."
        )
    return point


def feature_set_name(stride: int, pooling: str) -> str:
    """Build the name of a feature set of one model, such as ``4-concat``.

    Parameters
    ----------
    stride : int
        Step between patch positions in pixels, at least 1.
    pooling : {"concat", "quadrant"}
        How per-patch codes are combined into one vector per image.

    Returns
    -------
    str
        ``"<stride>-<pooling>"``.

    Raises
    ------
    ValueError
        If ``stride`` is not a positive integer or ``pooling`` is unknown.
    """
    if isinstance(stride, bool) or not isinstance(stride, numbers.Integral):
        raise ValueError(f"stride must be a positive integer, got {stride!r}.")
    if stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride!r}.")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}.")
    return f"{int(stride)}-{pooling}"


def parse_feature_set_name(name: str) -> tuple[int, str]:
    """Parse a name built by :func:`feature_set_name` into ``(stride, pooling)``.

    Raises
    ------
    ValueError
        If ``name`` does not have the form ``"<stride>-<pooling>"``.
    """
    match = _FEATURE_SET_RE.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        raise ValueError(
            f"Invalid feature set name {name!r}: expected '<stride>-<pooling>' with "
            f"a positive stride without leading zeros and pooling in {POOLINGS}."
        )
    return int(match["stride"]), match["pooling"]


_OPTION_KEY_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_OPTION_TEXT_RE = re.compile(r"[A-Za-z0-9.]+")


def classifier_options_name(classifier: str, options: Mapping[str, object]) -> str:
    """Build the name of a classifier run with explicit options.

    The name is the classifier followed by one part per option, keys in sorted
    order, each key directly followed by its value: numbers in the form of
    :func:`format_number`, booleans as ``true`` or ``false``, None as ``none``,
    and a list of candidate values joined by ``-``. Equal options give equal
    names whatever their written form (``1e-3`` or ``0.001``).

    Parameters
    ----------
    classifier : str
        Classifier name, for example ``"logreg"``.
    options : mapping
        At least one option; keys are identifiers, values are numbers, booleans,
        None, short alphanumeric strings or non-empty lists of non-negative numbers.

    Returns
    -------
    str
        Name such as ``logreg_C0.001-0.01-0.1_max_iter1000``.

    Raises
    ------
    ValueError
        If ``classifier`` is not an identifier, ``options`` is empty, or a key or
        value cannot be written in a name.
    """
    if not isinstance(classifier, str) or not re.fullmatch(
        r"[a-z][a-z0-9]*", classifier
    ):
        raise ValueError(
            "classifier must be a lower-case name such as 'logreg', got "
            f"{classifier!r}."
        )
    if not isinstance(options, Mapping) or not options:
        raise ValueError(
            f"options must be a non-empty mapping of option names to values, got "
            f"{options!r}."
        )
    parts = [classifier]
    for key in sorted(options):
        if not isinstance(key, str) or not _OPTION_KEY_RE.fullmatch(key):
            raise ValueError(
                f"Invalid option name {key!r} of classifier {classifier!r}: "
                "expected an identifier such as 'max_iter'."
            )
        parts.append(key + _option_value_text(key, options[key]))
    return "_".join(parts)


def _option_value_text(key: str, value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and not _NUMBER_STRING_RE.fullmatch(value):
        if not _OPTION_TEXT_RE.fullmatch(value):
            raise ValueError(
                f"Invalid value {value!r} of option {key!r}: a string value may "
                "contain only letters, digits and '.'."
            )
        if value.lower() in {"none", "true", "false"}:
            # These would name the same run as None, True or False.
            raise ValueError(
                f"Invalid value {value!r} of option {key!r}: the strings 'none', "
                "'true' and 'false' are ambiguous in a name; give None, True or "
                "False instead."
            )
        return value
    if isinstance(value, list | tuple):
        if not value:
            raise ValueError(
                f"Invalid value of option {key!r}: a list of candidate values must "
                "not be empty."
            )
        texts = []
        for item in value:
            # A minus sign would read as the separator of the list.
            if isinstance(item, bool) or _to_float(item, key) < 0:
                raise ValueError(
                    f"Invalid value {value!r} of option {key!r}: a list may contain "
                    "only numbers of at least 0."
                )
            texts.append(format_number(item))
        return "-".join(texts)
    return format_number(value)


# YAML 1.1, which PyYAML and so Snakemake follow, reads a number with an exponent as a
# float only when it has a decimal point and a signed exponent, so 1e-4, 5E3 and 2.5e3
# load as strings. YAML 1.2 and JSON read them as numbers.
_EXPONENT_STRING_RE = re.compile(
    r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+"
)
# A string option value that spells a number, in any form, is named as that number.
_NUMBER_STRING_RE = re.compile(
    r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
)


def parse_scalar_strings(data, schema=None):
    """Convert strings that spell numbers inside nested dicts and lists.

    Config files are YAML 1.1, in which a number with an exponent loads as a string
    unless it has both a decimal point and a signed exponent. Every string that
    spells a number with an exponent (``1e-4``, ``5E3``, ``2.5e3``, ``.5e3``)
    becomes the float it spells, so ``1e-4``, ``1.0e-4`` and ``0.0001`` mean the
    same value. Snakemake's ``--config`` also reads the values inside a nested dict
    (``--config "tuned={'features': {'stride': 4}}"``) as strings; where the
    schema describes a value and does not admit a string there, a string that
    spells an integer, a decimal number, ``true``/``false`` or ``null`` becomes
    that value when the schema admits its type or lists it in an ``enum`` (such
    as ``[auto, true, false]``). ``null`` also becomes None where the schema
    admits null besides a string. Other strings and values are left as they are.

    Parameters
    ----------
    data : object
        A value loaded from YAML: dicts and lists are walked, in place.
    schema : dict, optional
        JSON schema of ``data``. When given, only strings at places where the
        schema admits a number are converted, so a string-typed value such as a
        dataset name ``"1e5"`` stays a string. Places the schema does not
        describe get the exponent conversion only.

    Returns
    -------
    object
        ``data`` itself with the strings replaced, or the converted value when
        ``data`` is such a string.
    """
    root = schema if schema is not None else {}
    return _parse_scalar_strings(data, [] if schema is None else [schema], root)


_INTEGER_STRING_RE = re.compile(r"[-+]?[0-9]+")
_DECIMAL_STRING_RE = re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)")
_SCALAR_WORDS = {"true": True, "false": False, "null": None, "~": None}


def _parse_scalar_strings(data, schemas: list, root: dict):
    options = _schema_options(schemas, root)
    if isinstance(data, str):
        if _EXPONENT_STRING_RE.fullmatch(data):
            return float(data) if _admits_number(options) else data
        listed = _enum_scalar(data, options)
        if listed is not _NOT_LISTED:
            return listed
        return _typed_scalar(data, _declared_types(options))
    if isinstance(data, dict):
        for key, value in data.items():
            children = []
            for option in options:
                properties = option.get("properties", {})
                extra = option.get("additionalProperties")
                if key in properties:
                    children.append(properties[key])
                elif isinstance(extra, dict):
                    children.append(extra)
            data[key] = _parse_scalar_strings(value, children, root)
    elif isinstance(data, list):
        children = [option["items"] for option in options if "items" in option]
        for index, value in enumerate(data):
            data[index] = _parse_scalar_strings(value, children, root)
    return data


_NOT_LISTED = object()


def _enum_scalar(text: str, options: list[dict]):
    """Return the non-string ``enum`` member that ``text`` spells, if any.

    An enum such as ``[auto, true, false]`` declares no type, so ``"true"`` from a
    nested ``--config`` value would otherwise stay a string that the enum rejects.
    Returns ``_NOT_LISTED`` when no enum of ``options`` has such a member or
    ``text`` is itself a member.
    """
    members = [member for option in options for member in option.get("enum", [])]
    if not members or text in members:
        return _NOT_LISTED
    word = text.strip().lower()
    if word in _SCALAR_WORDS:
        value = _SCALAR_WORDS[word]
    elif _INTEGER_STRING_RE.fullmatch(text):
        value = int(text)
    elif _DECIMAL_STRING_RE.fullmatch(text):
        value = float(text)
    else:
        return _NOT_LISTED
    # True == 1 in Python, so a member matches only a value of its own kind.
    for member in members:
        if isinstance(member, bool) == isinstance(value, bool) and member == value:
            return member
    return _NOT_LISTED


def _declared_types(options: list[dict]) -> set[str] | None:
    """Return the JSON types that ``options`` admit, or None for any type."""
    types = set()
    for option in options:
        declared = option.get("type")
        if declared is None:
            continue
        types.update([declared] if isinstance(declared, str) else declared)
    return types or None


def _typed_scalar(text: str, types: set[str] | None):
    """Return ``text`` as the non-string scalar of ``types`` that it spells, if any."""
    if types is not None and "null" in types and text.strip().lower() in {"null", "~"}:
        # No string option of the config means "null" literally, so a nullable
        # string such as dataset.url reads it as null.
        return None
    if types is None or "string" in types:
        return text
    if {"integer", "number"} & types and _INTEGER_STRING_RE.fullmatch(text):
        return int(text)
    if "number" in types and _DECIMAL_STRING_RE.fullmatch(text):
        return float(text)
    word = text.strip().lower()
    if word in _SCALAR_WORDS:
        value = _SCALAR_WORDS[word]
        if ("null" if value is None else "boolean") in types:
            return value
    return text


def _schema_options(schemas: list, root: dict) -> list[dict]:
    """Resolve local $ref links and flatten oneOf, anyOf and allOf alternatives."""
    options = []
    pending = list(schemas)
    while pending:
        node = pending.pop()
        if not isinstance(node, dict):
            continue
        reference = node.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/"):
            target = root
            for part in reference[2:].split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            pending.append(target)
        for keyword in ("oneOf", "anyOf", "allOf"):
            pending.extend(node.get(keyword, []))
        options.append(node)
    return options


def _admits_number(options: list[dict]) -> bool:
    """Tell whether a value described by ``options`` may be a number.

    An empty list means the schema does not describe the value.
    """
    if not options:
        return True
    for option in options:
        types = option.get("type")
        if types is None:
            continue
        types = [types] if isinstance(types, str) else types
        if "number" in types or "integer" in types:
            return True
    # A $ref holder or a oneOf wrapper has no type of its own. When no option has
    # a type, the schema does not restrict the value, so it may be a number.
    return all("type" not in option for option in options)


def _to_float(value: object, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real | str):
        raise TypeError(f"{argument} must be a real number, got {value!r}.")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{argument} must be a number, got {value!r}.") from None
    if not math.isfinite(number):
        raise ValueError(f"{argument} must be finite, got {value!r}.")
    return number
