"""A nested dict as TOML text, for configs given to elmsim as Python dicts."""

import json
import math


def _value(v, where):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string: the same escapes
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x, where) for x in v) + "]"
    if hasattr(v, "item") and hasattr(v, "dtype"):  # numpy scalars
        return _value(v.item(), where)
    raise ValueError(f"{where}: cannot write a {type(v).__name__} as a TOML value")


def _table(d, prefix, lines):
    tables = []
    for key, v in d.items():
        if not isinstance(key, str):
            raise ValueError(f"{prefix or 'config'}: keys must be strings, got {key!r}")
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(v, dict):
            tables.append((name, v))
        elif isinstance(v, (list, tuple)) and v and all(isinstance(x, dict) for x in v):
            tables.append((name, list(v)))
        else:
            lines.append(f"{key} = {_value(v, name)}")
    for name, v in tables:
        if isinstance(v, dict):
            lines.append(f"\n[{name}]")
            _table(v, name, lines)
        else:
            for item in v:
                lines.append(f"\n[[{name}]]")
                _table(item, name, lines)


def to_toml(config):
    """TOML text of a nested dict: {"task": {"kind": "shd"}, "model": {"N": 64}} -> [task] kind = "shd" ..."""
    if not isinstance(config, dict):
        raise ValueError(f"config: expected a dict, got {type(config).__name__}")
    lines = []
    _table(config, "", lines)
    return "\n".join(lines).lstrip("\n") + "\n"
