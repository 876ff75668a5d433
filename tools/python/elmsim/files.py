"""Reading elmsim's files from Python without the engine.

elmsim stores every string attribute of its HDF5 files (checkpoints, traces, spike datasets) as a
fixed-length UTF-8 string: no global heap, so every byte of metadata is covered by HDF5's checksums.
h5py returns fixed-length strings as bytes (``f.attrs["format"] == b"elm-trace"``); read_attrs decodes
them, so ``read_attrs(f)["format"] == "elm-trace"``. Files from before checksums (variable-length
strings) read the same way. The plotting tools use this reader too.
"""

import json
import os


def text(value):
    """One attribute value as Python reads it naturally: bytes decoded (UTF-8), string arrays as lists
    of str, numpy scalars as Python numbers; anything else unchanged."""
    import numpy as np

    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray) and value.dtype.kind in "SO":
        return [text(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_attrs(obj):
    """The attributes of an h5py File, Group or Dataset as a dict, strings as str, scalars as Python
    numbers, arrays as numpy arrays."""
    return {name: text(obj.attrs[name]) for name in obj.attrs}


def _jsonl(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}: line {n}: not JSON ({e.msg})") from None
    return rows


def read_sweep(directory):
    """A sweep directory as Python objects: {"plan": sweep.json, "results": [result rows of
    results.jsonl], "fit": fit.json or None}. ValueError for a directory that is not a sweep."""
    plan_path = os.path.join(directory, "sweep.json")
    if not os.path.isfile(plan_path):
        raise ValueError(f"{directory}: no sweep.json (not a sweep directory made by `elmsim sweep`)")
    with open(plan_path, encoding="utf-8") as f:
        plan = json.load(f)
    results_path = os.path.join(directory, "results.jsonl")
    results = _jsonl(results_path) if os.path.isfile(results_path) else []
    fit_path = os.path.join(directory, "fit.json")
    fit = None
    if os.path.isfile(fit_path):
        with open(fit_path, encoding="utf-8") as f:
            fit = json.load(f)
    return {"plan": plan, "results": results, "fit": fit}
