#!/usr/bin/env python3
"""Plots for elmsim files: input spike rasters (SHD layout), traces of `elmsim simulate --trace`,
training curves from the metrics log and accuracy by time resolution (`elmsim resolutions --json`) (layouts: spec files-and-cli.md; usage: docs/plotting.md).

Runs with /usr/bin/python3 and Debian's python3-h5py and python3-matplotlib (Agg backend). The format
follows the extension of --out (.png, .svg); the image is written to OUT.tmp and renamed, so a failed
run never leaves a torn one. Bad input: one line "elmsim_plot: error: ..." on stderr, exit code 2."""
import argparse
import json
import os
import sys


def fail(msg):
    print(f"elmsim_plot: error: {msg}", file=sys.stderr)
    sys.exit(2)


try:
    import numpy as np
    import h5py
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError as e:
    fail(f"{e.name or e}: not installed for {sys.executable} (Debian: apt install python3-h5py python3-matplotlib)")

MAX_COLUMNS = 4000  # heatmaps of longer traces average blocks of updates (a PNG has ~2000 px anyway)
COLORBAR_BOX = [1.01, 0.0, 0.015, 1.0]  # inset beside the axes: stacked panels keep one time axis


def open_h5(path, what):
    if not os.path.isfile(path):
        fail(f"{path}: cannot open: the file does not exist")
    if not h5py.is_hdf5(path):
        fail(f"{path}: expected an HDF5 file ({what}), found something else")
    return h5py.File(path, "r")


def _attribute_reader():
    """elmsim's one reader of HDF5 attributes (tools/python/elmsim/files.py: fixed-length strings,
    which h5py returns as bytes, decoded), loaded by path: it needs h5py, not the engine."""
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "python", "elmsim", "files.py")
    spec = importlib.util.spec_from_file_location("elmsim_files", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FILES = _attribute_reader()


def as_text(v):
    return None if v is None else str(FILES.text(v))


def trace_sample(path, i):
    """The open trace file and its group /samples/<i>."""
    f = open_h5(path, "a trace from `elmsim simulate --trace`")
    fmt = as_text(f.attrs.get("format"))
    if fmt != "elm-trace":
        fail(f"{path}: /: expected attribute format = 'elm-trace', found " + (repr(fmt) if fmt else "none"))
    if not isinstance(f.get("samples"), h5py.Group) or "neurons" not in f.attrs:
        fail(f"{path}: /: expected group /samples and attribute 'neurons' (recorded neuron ids), found none")
    g = f["samples"].get(str(i))
    if not isinstance(g, h5py.Group):
        fail(f"{path}: /samples/{i}: expected a sample group, found nothing (the trace has {len(f['samples'])} samples)")
    return f, g


def trace_dataset(g, name, layout, rows=None):
    d = g.get(name)
    where = f"{g.file.filename}: {g.name}/{name}"
    if not isinstance(d, h5py.Dataset):
        hint = f" (simulate with {name} in --record)" if name in ("y", "m", "b") else ""
        fail(f"{where}: expected a dataset {layout}, found nothing{hint}")
    if d.ndim != layout.count(",") + 1 or (rows is not None and d.shape[0] != rows):
        fail(f"{where}: expected {layout}" + (f" with T = {rows}" if rows is not None else "") +
             f", found shape {list(d.shape)}")
    return np.asarray(d[()])


def series(f, g, name, layout):
    """time_ms [T], the dataset `name` with T rows, and the recorded neuron ids (one per column)."""
    t = trace_dataset(g, "time_ms", "float64 [T]").astype(np.float64)
    if len(t) == 0:
        fail(f"{f.filename}: {g.name}: the sample has no updates (T = 0): nothing to plot")
    data = trace_dataset(g, name, layout, rows=len(t))
    ids = [int(i) for i in np.asarray(f.attrs["neurons"]).ravel()]
    if data.shape[1] != len(ids):
        fail(f"{f.filename}: {g.name}/{name}: expected n_sel = {len(ids)} neurons (root attribute 'neurons'), "
             f"found shape {list(data.shape)}")
    return t, data, ids


def shd_sample(path, i):
    f = open_h5(path, "SHD layout: /spikes/times, /spikes/units")
    for name in ("spikes/times", "spikes/units"):
        if not isinstance(f.get(name), h5py.Dataset):
            fail(f"{path}: /{name}: expected a dataset of variable-length arrays (SHD layout), found nothing")
    n = min(len(f["spikes/times"]), len(f["spikes/units"]))
    if not 0 <= i < n:
        fail(f"{path}: /spikes/times: expected a sample index in 0..{n - 1}, found {i}")
    t_ms = np.asarray(f["spikes/times"][i], dtype=np.float64) * 1000.0  # float16 seconds -> float64 ms
    units = np.asarray(f["spikes/units"][i], dtype=np.int64)
    if len(t_ms) != len(units):
        fail(f"{path}: /spikes/units[{i}]: expected {len(t_ms)} units like /spikes/times[{i}], found {len(units)}")
    labels, keys = f.get("labels"), f.get("extra/keys")
    label = int(labels[i]) if isinstance(labels, h5py.Dataset) and i < len(labels) else None
    name = as_text(keys[label]) if label is not None and isinstance(keys, h5py.Dataset) and label < len(keys) else ""
    return t_ms, units, f"sample {i}" + ("" if label is None else f", label {label}") + (f" ({name})" if name else "")


def read_metrics(path):
    rows = []
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except UnicodeDecodeError:
        fail(f"{path}: expected JSON lines (UTF-8 text), found binary data")
    for n, line in enumerate(lines, 1):
        try:
            rec = json.loads(line) if line.strip() else {}
        except json.JSONDecodeError as e:
            fail(f"{path}: line {n}: expected a JSON object, found malformed JSON ({e.msg})")
        if not isinstance(rec, dict):
            fail(f"{path}: line {n}: expected a JSON object, found {type(rec).__name__}")
        if rec.get("kind") in ("train", "eval"):
            if not isinstance(rec.get("step"), (int, float)):
                fail(f"{path}: line {n}: expected a numeric 'step', found {rec.get('step')!r}")
            rows.append(rec)
    if not rows:
        fail(f"{path}: expected JSON lines with kind 'train' or 'eval', found none")
    return rows


def draw_raster(ax, t_ms, units, title, dt_ms=None):
    if dt_ms is not None:
        # Binned as clock mode sees it: spike counts per (channel, bin).
        edges = np.arange(0.0, (t_ms.max() if len(t_ms) else 0.0) + 2 * dt_ms, dt_ms)
        channels = max(700, int(units.max()) + 1 if len(units) else 0)
        counts, _, _ = np.histogram2d(units, t_ms, bins=[np.arange(channels + 1), edges])
        mesh = ax.pcolormesh(edges, np.arange(channels + 1) - 0.5, counts, cmap="Greys", rasterized=True)
        plt.colorbar(mesh, cax=ax.inset_axes(COLORBAR_BOX), label=f"spikes per {dt_ms:g} ms bin")
    else:
        ax.scatter(t_ms, units, s=1.0, marker=".", color="k", linewidths=0, rasterized=True)
    ax.set_ylabel("input channel")
    ax.set_title(f"input spikes: {title} ({len(t_ms)} spikes)")


def draw_heatmap(ax, f, g):
    t, y, ids = series(f, g, "y", "float32 [T, n_sel]")
    y, ids = y.astype(np.float64), np.array(ids)
    note = ""
    if len(t) > MAX_COLUMNS:
        k = -(-len(t) // MAX_COLUMNS)
        cut = len(t) // k * k
        y, t = y[:cut].reshape(-1, k, y.shape[1]).mean(axis=1), t[:cut][k - 1::k]
        note = f", mean over blocks of {k} updates"
    contiguous = len(ids) > 0 and np.all(np.diff(ids) == 1)
    rows = (ids[0] if contiguous else 0) + np.arange(len(ids) + 1) - 0.5
    # Each row is the state at the END of its update (time_ms): cells span from the previous time.
    edges = np.concatenate([[t[0] - (t[1] - t[0] if len(t) > 1 else 1.0)], t])
    mesh = ax.pcolormesh(edges, rows, y.T, shading="flat", cmap="viridis", rasterized=True)
    plt.colorbar(mesh, cax=ax.inset_axes(COLORBAR_BOX), label="y")
    ax.set_ylabel("neuron" if contiguous else "recorded neuron")
    if not contiguous and len(ids) <= 32:
        ax.set_yticks(np.arange(len(ids)), [str(i) for i in ids])
    ax.set_title(f"neuron outputs y: {g.name}{note}")


def draw_memory(ax, f, g, wanted):
    t, m, ids = series(f, g, "m", "float32 [T, n_sel, d_m]")
    wanted = ids[:3] if wanted is None else wanted
    styles = ["-", "--", ":", "-."]
    for c, nid in enumerate(wanted):
        if nid not in ids:
            fail(f"{f.filename}: /: neuron {nid} was not recorded (attribute 'neurons' holds {len(ids)} ids "
                 f"from {min(ids)} to {max(ids)})")
        row = ids.index(nid)
        for k in range(m.shape[2]):
            ax.plot(t, m[:, row, k], color=f"C{c % 10}", linestyle=styles[k % 4], linewidth=1.0, label=f"n{nid} m{k}")
    if len(wanted) * m.shape[2] <= 16:
        ax.legend(fontsize="small", ncol=2)
    ax.set_ylabel("memory m")
    ax.set_title(f"memory units of neurons {', '.join(map(str, wanted))}: {g.name}")


def check_out(out):
    ext = os.path.splitext(out)[1].lower().lstrip(".")
    if ext not in ("png", "svg"):
        fail(f"{out}: expected an output file ending in .png or .svg, found '.{ext}'")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        fail(f"{out}: cannot write: directory '{parent}' does not exist")
    return ext


def save(fig, out):
    tmp = out + ".tmp"
    try:
        fig.savefig(tmp, format=check_out(out), dpi=150, bbox_inches="tight")
        os.replace(tmp, out)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        fail(f"{out}: cannot write: {e.strerror or e}")
    plt.close(fig)


def parse_ids(text):
    try:
        return [int(s) for s in text.split(",") if s.strip()] if text else None  # None: the panel's default
    except ValueError:
        fail(f"--neurons: expected a comma list of neuron ids such as 0,3, found '{text}'")


def one_panel(a, height, draw):
    fig, ax = plt.subplots(figsize=(10, height))
    draw(ax)
    ax.set_xlabel("time (ms)")
    save(fig, a.out)


def cmd_raster(a):
    if a.dt_ms is not None and not a.dt_ms > 0:
        fail(f"--dt-ms: expected a positive bin width in ms, found {a.dt_ms}")
    one_panel(a, 5, lambda ax: draw_raster(ax, *shd_sample(a.data, a.sample), a.dt_ms))


def cmd_heatmap(a):
    one_panel(a, 5, lambda ax: draw_heatmap(ax, *trace_sample(a.trace, a.sample)))


def cmd_memory(a):
    one_panel(a, 4, lambda ax: draw_memory(ax, *trace_sample(a.trace, a.sample), parse_ids(a.neurons)))


def cmd_curves(a):
    rows = read_metrics(a.metrics)
    metric = "bpc" if any(r.get("bpc") is not None for r in rows) else "accuracy"  # bpc: byte-level tasks
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key in zip(axes, ("loss", metric)):
        for kind, style in (("train", "-"), ("eval", "o-")):
            pts = [(r["step"], r[key]) for r in rows if r["kind"] == kind and isinstance(r.get(key), (int, float))]
            if pts:
                ax.plot(*zip(*pts), style, label=kind, markersize=3)
        ax.set(xlabel="step", ylabel=key)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    fig.suptitle(os.path.basename(a.metrics))
    save(fig, a.out)


def cmd_summary(a):
    f, g = trace_sample(a.trace, a.sample)
    source = int(g.attrs.get("source_index", a.sample))  # the dataset sample this trace sample simulated
    fig, axes = plt.subplots(3, 1, figsize=(10, 11), sharex=True)
    draw_raster(axes[0], *shd_sample(a.data, source))
    draw_heatmap(axes[1], f, g)
    if isinstance(g.get("m"), h5py.Dataset):
        draw_memory(axes[2], f, g, parse_ids(a.neurons))
    else:
        axes[2].text(0.5, 0.5, "memory m not recorded (simulate with m in --record)", ha="center", va="center",
                     transform=axes[2].transAxes)
        axes[2].set_yticks([])
    axes[2].set_xlabel("time (ms)")
    pred = g.attrs.get("prediction")
    fig.suptitle(f"{os.path.basename(a.trace)}: trace sample {a.sample}" +
                 (f", prediction {int(pred)}" if pred is not None else ""))
    save(fig, a.out)


def read_resolution_tables(paths):
    tables = []
    for path in paths:
        try:
            with open(path) as f:
                doc = json.load(f)
        except FileNotFoundError:
            fail(f"{path}: cannot open: the file does not exist")
        except (OSError, ValueError) as e:
            fail(f"{path}: expected the JSON of `elmsim resolutions --json`: {e}")
        rows = doc.get("rows") if isinstance(doc, dict) else None
        if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) and "mode" in r and
                                                             isinstance(r.get("resolution_ms"), (int, float)) for r in rows):
            fail(f"{path}: expected the JSON of `elmsim resolutions --json` (an object with rows)")
        tables.append((path, doc, rows))
    return tables


def cmd_resolutions(a):
    tables = read_resolution_tables(a.table)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    key = "bpc" if any("bpc" in r for _, _, rows in tables for r in rows) else "accuracy"
    for path, doc, rows in tables:
        label = os.path.basename(str(doc.get("model", path)))
        events = sorted((r["resolution_ms"], r[key]) for r in rows if r["mode"] == "event" and key in r)
        if events:
            line, = ax.plot(*zip(*events), "o-", label=f"{label}: event-driven")
        for r in rows:
            if r["mode"] == "clock" and key in r:
                ax.axhline(r[key], linestyle="--", color=line.get_color() if events else None, alpha=0.7,
                           label=f"{label}: its {r['resolution_ms']:g} ms clock")
    ax.set_xscale("log")
    ticks = sorted({r["resolution_ms"] for _, _, rows in tables for r in rows})
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set(xlabel="time resolution (ms, log scale)", ylabel=f"test {key}",
           title="accuracy by time base" if key == "accuracy" else "bits per character by time base")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    save(fig, a.out)


TRACE, DATA = ("--trace", {"required": True}), ("--data", {"required": True})
NEURONS = ("--neurons", {"help": "comma list of recorded neuron ids (default: the first three)"})
COMMANDS = {  # name: (function, help, [(flag, argparse options)])
    "raster": (cmd_raster, "input spike raster of one sample of an SHD-format file",
               [DATA, ("--dt-ms", {"type": float, "help": "bin width: spike counts per bin, as clock mode sees"})]),
    "heatmap": (cmd_heatmap, "neuron outputs y over time", [TRACE]),
    "memory": (cmd_memory, "memory units m of chosen neurons over time", [TRACE, NEURONS]),
    "curves": (cmd_curves, "training curves from a metrics log (JSON lines)", [("--metrics", {"required": True})]),
    "summary": (cmd_summary, "input raster, y heatmap and memory of 3 neurons", [TRACE, DATA, NEURONS]),
    "resolutions": (cmd_resolutions, "accuracy (or bpc) against time resolution from `elmsim resolutions --json` tables",
                    [("--table", {"required": True, "nargs": "+", "help": "one or more JSON tables (one line each)"})]),
}


def main(argv=None):
    p = argparse.ArgumentParser(prog="elmsim_plot", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name, (_, help_text, flags) in COMMANDS.items():
        s = sub.add_parser(name, help=help_text)
        for flag_name, options in flags:
            s.add_argument(flag_name, **options)
        if name not in ("curves", "resolutions"):
            s.add_argument("--sample", type=int, default=0, help="sample index (default 0)")
        s.add_argument("--out", required=True, help="output image, .png or .svg")
    a = p.parse_args(argv)
    check_out(a.out)  # before any work: a bad --out fails at once
    try:
        COMMANDS[a.command][0](a)
    except FileNotFoundError as e:
        fail(f"{e.filename}: cannot open: the file does not exist")
    except (OSError, KeyError, ValueError) as e:  # h5py's way of reporting a damaged file
        name = getattr(e, "filename", None)
        fail(f"{name}: {e}" if name else str(e))


if __name__ == "__main__":
    main()
