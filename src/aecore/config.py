"""Validation of the workflow config against its JSON schema, with short messages.

Each problem becomes one line that names the key path, for example
``default_model.sparsity_target``, what the schema allows (its type, bounds and
description) and the value received.
"""

import copy
import reprlib

import jsonschema

__all__ = ["ConfigError", "validate_config"]

# Problems listed in one message. A last line counts the ones left out.
MAX_LISTED_PROBLEMS = 5

_TYPE_WORDS = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}
_BOUND_WORDS = {
    "minimum": ">=",
    "exclusiveMinimum": ">",
    "maximum": "<=",
    "exclusiveMaximum": "<",
}

_value_repr = reprlib.Repr()
_value_repr.maxstring = 60
_value_repr.maxother = 60
_value_repr.maxlist = 6
_value_repr.maxdict = 4


class ConfigError(ValueError):
    """Invalid workflow config: the message lists every problem, one per line."""


def validate_config(config: dict, schema: dict) -> dict:
    """Check a config against a JSON schema and fill in the schema's defaults.

    A key that is absent and has a ``default`` in the schema is set to a copy of that
    default, also inside mappings that were themselves filled in from a default.

    Parameters
    ----------
    config : dict
        The loaded config; changed in place.
    schema : dict
        JSON schema (draft 2020-12) with local ``#/$defs/...`` references only.

    Returns
    -------
    dict
        ``config`` itself, with the defaults added.

    Raises
    ------
    ConfigError
        If the config does not match the schema. The message has one line per
        problem, at most ``MAX_LISTED_PROBLEMS`` of them.
    """
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    errors = sorted(
        validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path]
    )
    if not errors:
        return config
    lines = list(
        dict.fromkeys(line for e in errors for line in _describe(e, config, schema))
    )
    listed = lines[:MAX_LISTED_PROBLEMS]
    if len(lines) > len(listed):
        listed.append(f"... and {len(lines) - len(listed)} more problems.")
    raise ConfigError("Invalid config:\n" + "\n".join(f"  {line}" for line in listed))


def _with_defaults(validator_class):
    """Extend a validator class to set each missing property that has a default."""
    check_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                # A subschema may be a bare true or false, which has no default.
                if (
                    isinstance(subschema, dict)
                    and "default" in subschema
                    and name not in instance
                ):
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from check_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _describe(error, config: dict, schema: dict) -> list[str]:
    """Describe an error in one line per key: key path, allowed values, value."""
    path = list(error.absolute_path)
    instance = error.instance
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = sorted(error.schema.get("properties", {}))
        allowed = ", ".join(known) if known else "no keys"
        where = "the top level" if not path else f"'{_key_path(path)}'"
        # The root schema's description names the whole config, not this key.
        described = _description(error.schema) if path else ""
        return [
            f"'{_key_path([*path, name])}' is not a known key; {where} allows "
            f"{allowed}{described}. "
            f"Got {_value_repr.repr(instance[name])}."
            for name in instance
            if name not in known
        ]
    if error.validator == "required" and isinstance(instance, dict):
        lines = []
        for name in error.validator_value:
            if name not in instance:
                sub = _subschema_at(schema, [*path, name]) or {}
                lines.append(
                    f"'{_key_path([*path, name])}' is missing; it must be "
                    f"{_allowed(sub, schema)}{_description(sub)}."
                )
        return lines
    sub = _subschema_at(schema, path)
    if sub is None:
        sub = error.schema if isinstance(error.schema, dict) else {}
    name = _key_path(path) if path else "the config"
    return [
        f"'{name}' must be {_allowed(sub, schema)}{_description(sub)}; "
        f"got {_value_repr.repr(instance)}."
    ]


def _key_path(path: list) -> str:
    """Dotted key path, with list positions in brackets: ``ablation.rho[1]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _resolve(node: dict, root: dict) -> dict:
    """Merge a node with the local ``$ref`` target it names, the node's keys winning."""
    reference = node.get("$ref")
    if not (isinstance(reference, str) and reference.startswith("#/")):
        return node
    target = root
    for part in reference[2:].split("/"):
        target = target.get(part, {}) if isinstance(target, dict) else {}
    merged = dict(_resolve(target, root))
    merged.update({key: value for key, value in node.items() if key != "$ref"})
    return merged


def _subschema_at(schema: dict, path: list) -> dict | None:
    """Find the schema of the value at ``path``, or None where none describes it."""
    node = _resolve(schema, schema)
    for part in path:
        if isinstance(part, int):
            child = node.get("items")
        else:
            child = node.get("properties", {}).get(part)
            if child is None and isinstance(node.get("additionalProperties"), dict):
                child = node["additionalProperties"]
        if not isinstance(child, dict):
            return None
        node = _resolve(child, schema)
    return node


def _description(sub: dict) -> str:
    """Format the schema's description in brackets, or return "" without one."""
    text = " ".join(str(sub.get("description", "")).split()).rstrip(".")
    return f" ({text})" if text else ""


def _allowed(sub: dict, root: dict, depth: int = 0) -> str:
    """Describe in words the values that a schema admits."""
    sub = _resolve(sub, root)
    for keyword in ("oneOf", "anyOf"):
        if keyword in sub and depth < 2:
            return " or ".join(_allowed(s, root, depth + 1) for s in sub[keyword])
    if "enum" in sub:
        return "one of " + ", ".join(repr(v) for v in sub["enum"])

    types = sub.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    words = " or ".join(_TYPE_WORDS.get(t, t) for t in types) or "a value"
    bounds = [
        f"{sign} {sub[keyword]}"
        for keyword, sign in _BOUND_WORDS.items()
        if keyword in sub
    ]
    if bounds:
        words += " " + " and ".join(bounds)

    low, high = sub.get("minItems", 0), sub.get("maxItems")
    if high is not None and low == high:
        words += f" of exactly {high} item" + ("s" if high != 1 else "")
    elif low:
        words += f" of at least {low} item" + ("s" if low != 1 else "")
    if high is not None and low != high:
        words += f" of at most {high} item" + ("s" if high != 1 else "")
    if sub.get("uniqueItems"):
        words += " without repeats"
    if isinstance(sub.get("items"), dict) and depth < 2:
        words += ", each " + _allowed(sub["items"], root, depth + 1)

    if sub.get("minLength"):
        words += f" of at least {sub['minLength']} characters"
    if "pattern" in sub:
        words += f" matching {sub['pattern']}"
    if "properties" in sub and sub.get("additionalProperties") is False:
        words += " with keys " + ", ".join(sub["properties"])
    return words
