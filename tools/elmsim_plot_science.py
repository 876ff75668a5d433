#!/usr/bin/env python3
"""Pictures of a parameter sweep: the Pareto front of loss against parameter count P, the trade-off
along each axis at each budget, and the one-axis scans (usage: docs/plotting.md, "Sweep pictures").

Reads DIR/fit.json (written by `elmsim fit --sweep DIR`) and DIR/results.jsonl (one line per finished
run of `elmsim sweep`). pareto: every run, the Pareto points, the scaling-law fit and the information
model's predicted front. tradeoff: one panel per (budget, axis) group with the means, the model curve,
the best run and the model's optimum. scans: one panel per scan. all: every picture into DIR/plots.

Runs with /usr/bin/python3 and Debian's python3-matplotlib (Agg backend). The format follows the
extension of --out (.png, .svg); the image is written to OUT.tmp and renamed, so a failed run never
leaves a torn one. Bad input: one line "elmsim_plot_science: error: ..." on stderr, exit code 2."""
import argparse
import json
import math
import os
import sys


def fail(msg):
    print(f"elmsim_plot_science: error: {msg}", file=sys.stderr)
    sys.exit(2)


try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
except ImportError as e:
    fail(f"{e.name or e}: not installed for {sys.executable} (Debian: apt install python3-matplotlib)")

FORMATS = ("png", "svg")
RUN_VALUE = {"test_loss": ("test_loss", lambda v: v), "test_accuracy": ("test_accuracy", lambda v: 1.0 - v),
             "test_bpc": ("test_bpc", lambda v: v)}  # metric: (field of a run, the fitted quantity from it)
AXIS_NAMES = ("N", "k_e", "k_c", "d_m")  # column order of the trade-off grid


def num(v):
    """A JSON number as float; null (NaN or a bound that does not exist) as NaN."""
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan


def sd(v):
    x = num(v)
    return 0.0 if math.isnan(x) else x  # one seed: no spread to draw


def fmt(v):
    x = num(v)
    if x != x:
        return str(v)
    return f"{x:.0f}" if x == x and x == round(x) and abs(x) < 1e7 else f"{x:.3g}"


class Sweep:
    """DIR/fit.json and DIR/results.jsonl, checked; fit.json's path names it in layout errors."""

    def __init__(self, directory):
        if not os.path.exists(directory):
            fail(f"{directory}: cannot open: the sweep directory does not exist")
        if not os.path.isdir(directory):
            fail(f"{directory}: expected a sweep directory (fit.json, results.jsonl), found a file")
        self.dir = directory
        self.fit_path = os.path.join(directory, "fit.json")
        self.results_path = os.path.join(directory, "results.jsonl")
        if not os.path.isfile(self.fit_path):
            fail(f"{self.fit_path}: cannot open: the file does not exist (run `elmsim fit --sweep {directory}` first)")
        try:
            with open(self.fit_path, encoding="utf-8") as fh:
                self.fit = json.load(fh)
        except UnicodeDecodeError:
            fail(f"{self.fit_path}: expected JSON from `elmsim fit` (UTF-8 text), found binary data")
        except json.JSONDecodeError as e:
            fail(f"{self.fit_path}: expected JSON from `elmsim fit`, found malformed JSON ({e.msg}, line {e.lineno})")
        kind = self.fit.get("kind") if isinstance(self.fit, dict) else None
        if kind != "elmsim-fit":
            found = repr(kind) if kind is not None else ("no 'kind'" if isinstance(self.fit, dict)
                                                         else f"a JSON {type(self.fit).__name__}")
            fail(f"{self.fit_path}: expected an object with kind 'elmsim-fit', found {found}")
        self.metric = self.fit.get("metric")
        if self.metric not in RUN_VALUE:
            fail(f"{self.fit_path}: metric: expected one of {', '.join(RUN_VALUE)}, found {self.metric!r}")
        self.quantity = str(self.fit.get("fitted_quantity") or "loss")
        self.ylabel = {"test_accuracy": "error (1 − test accuracy)", "test_bpc": "bits per byte (test)"}.get(
            self.metric, "test loss") if self.quantity in ("error", "bpc", "loss") else self.quantity
        self.runs = self.read_results()

    def read_results(self):
        if not os.path.isfile(self.results_path):
            fail(f"{self.results_path}: cannot open: the file does not exist (is {self.dir} a sweep directory?)")
        try:
            with open(self.results_path, encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        except UnicodeDecodeError:
            fail(f"{self.results_path}: expected JSON lines (UTF-8 text), found binary data")
        field, value = RUN_VALUE[self.metric]
        runs = []
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                fail(f"{self.results_path}: line {n}: expected a JSON object, found malformed JSON ({e.msg})")
            if not isinstance(rec, dict):
                fail(f"{self.results_path}: line {n}: expected a JSON object, found {type(rec).__name__}")
            P, N, v = num(rec.get("P")), num(rec.get("N")), num(rec.get(field))
            if P > 0 and N > 0 and v == v:  # a run without the metric (failed, other task) is left out
                runs.append({"P": P, "N": N, "L": value(v), "scan": str(rec.get("axis", "")).startswith("scan:")})
        return runs

    def get(self, obj, key, where):
        """obj[key], or one error line naming the field that fit.json lacks."""
        if not isinstance(obj, dict) or key not in obj:
            fail(f"{self.fit_path}: {where}: expected a field '{key}', found none")
        return obj[key]

    def items(self, obj, key, where):
        v = self.get(obj, key, where)
        if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
            fail(f"{self.fit_path}: {where}.{key}: expected a list of objects, found {type(v).__name__}")
        return v

    def series(self, rows, xk, yk, where):
        """(xs, ys, sds) of rows with finite xk and yk, sorted by x."""
        pts = []
        for i, r in enumerate(rows):
            x, y = num(self.get(r, xk, f"{where}[{i}]")), num(self.get(r, yk, f"{where}[{i}]"))
            if x == x and y == y:
                pts.append((x, y, sd(r.get("L_sd"))))
        pts.sort()
        return tuple(list(c) for c in zip(*pts)) if pts else ([], [], [])


def check_out(out):
    ext = os.path.splitext(out)[1].lower().lstrip(".")
    if ext not in FORMATS:
        fail(f"{out}: expected an output file ending in .png or .svg, found " + (f"'.{ext}'" if ext else "no extension"))
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        fail(f"{out}: cannot write: directory '{parent}' does not exist")
    return ext


def save(fig, out, close=True):
    tmp = out + ".tmp"
    try:
        fig.savefig(tmp, format=check_out(out), dpi=150, bbox_inches="tight")
        os.replace(tmp, out)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        fail(f"{out}: cannot write: {e.strerror or e}")
    if close:
        plt.close(fig)


PLAIN = FuncFormatter(lambda v, _: f"{v:g}")  # 600, 1200, 0.05: not 6x10^2


def log_x(ax, xs, ticks=()):
    """Log x when every value is positive; labelled at `ticks` (the measured values) when there are few."""
    if not xs or min(xs) <= 0:
        return
    ax.set_xscale("log")
    ticks = sorted(set(ticks))
    if 0 < len(ticks) <= 8:
        ax.set_xticks(ticks)
    elif max(xs) / min(xs) < 100:
        ax.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    ax.xaxis.set_major_formatter(PLAIN)
    ax.xaxis.set_minor_formatter(NullFormatter())


def draw_pareto(s):
    f = s.fit
    fig, ax = plt.subplots(figsize=(9, 5.5))
    all_y = []
    if s.runs:
        Ns = [r["N"] for r in s.runs]
        norm = LogNorm(vmin=min(Ns), vmax=max(max(Ns), min(Ns) * 1.01))
        sc = None
        for scan, marker, label in ((False, "o", "runs"), (True, "v", "scan runs")):
            rs = [r for r in s.runs if r["scan"] == scan]
            if rs:
                sc = ax.scatter([r["P"] for r in rs], [r["L"] for r in rs], c=[r["N"] for r in rs], norm=norm,
                                cmap="viridis", marker=marker, s=18, alpha=0.75, linewidths=0, label=label)
        bar = plt.colorbar(sc, ax=ax, label="N", pad=0.02)
        bar.ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        bar.ax.yaxis.set_major_formatter(PLAIN)
        bar.ax.yaxis.set_minor_formatter(NullFormatter())
        all_y += [r["L"] for r in s.runs]
    P, L, E = s.series(s.items(f, "pareto", "/"), "P", "L", "pareto")
    if P:
        ax.errorbar(P, L, yerr=E, fmt="o-", color="k", capsize=3, markersize=5, zorder=5,
                    label="Pareto points (mean ± sd over seeds)")
        all_y += L
    budgets = [num(b.get("budget")) for b in s.items(f, "pareto", "/") if num(b.get("budget")) > 0]
    for b in budgets:
        ax.axvline(b, color="0.85", linewidth=0.8, zorder=0)
    law = s.get(f, "scaling_law", "/")
    sP, sL, _ = s.series(s.items(f, "scaling_front", "/"), "P", "L", "scaling_front")
    if sP:
        g, li = num(s.get(s.get(law, "gamma", "scaling_law"), "value", "scaling_law.gamma")), \
            num(s.get(s.get(law, "L_inf", "scaling_law"), "value", "scaling_law.L_inf"))
        ax.plot(sP, sL, "-", color="C3", linewidth=1.5,
                label=f"scaling law L∞ + A P^−γ: γ = {g:.3g}, L∞ = {li:.4g}, R²(log) = {num(law.get('r2_log')):.3f}")
        all_y += sL
    mP, mL, _ = s.series(s.items(f, "model_front", "/"), "P", "L", "model_front")
    if mP:
        q = f.get("information_model")
        q = q.get("quality") if isinstance(q, dict) else None
        r2 = num(q.get("r2")) if isinstance(q, dict) else math.nan
        ax.plot(mP, mL, "--", color="C0", linewidth=1.5,
                label="information model: predicted optimum" + (f" (R² = {r2:.3f})" if r2 == r2 else ""))
        all_y += mL
    log_x(ax, [r["P"] for r in s.runs] + P + sP + mP, budgets)
    if all_y and min(all_y) > 0 and max(all_y) / min(all_y) > 3:  # log y only where it spreads the points
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        ax.yaxis.set_major_formatter(PLAIN)
        ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set(xlabel="parameters P (grey lines: the budgets)", ylabel=s.ylabel)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    daic = num(f.get("aic_information_minus_power_law"))
    ax.set_title(f"{f.get('sweep', os.path.basename(s.dir))}: Pareto front over {len(s.runs)} runs" +
                 (f" (AIC information − power law = {daic:.1f})" if daic == daic else ""))
    return fig


def draw_curve_panel(s, ax, entry, where, best=None):
    """Means with sd bars and the model curve of one group or scan; the best point starred."""
    pts = s.items(entry, "points", where)
    x, y, e = s.series(pts, "x", "L", where + ".points")
    ax.errorbar(x, y, yerr=e, fmt="o", color="k", capsize=3, markersize=4, label="mean ± sd over seeds")
    cx, cy, _ = s.series(s.items(entry, "model_curve", where), "x", "L", where + ".model_curve")
    if cx:
        ax.plot(cx, cy, "-", color="C0", linewidth=1.3, label="information model")
    if best is not None:
        b = [p for p in pts if p.get("key") == best]
        if b:
            ax.plot(num(b[0].get("x")), num(b[0].get("L")), "*", color="C3", markersize=15, zorder=6,
                    label=f"best: {best}")
    log_x(ax, x + cx, x)
    ax.set_ylabel(s.ylabel)
    ax.grid(alpha=0.3, which="both")


def draw_tradeoff(s):
    groups = s.items(s.fit, "groups", "/")
    if not groups:
        fail(f"{s.fit_path}: groups: expected at least one (budget, axis) group, found none")
    for i, g in enumerate(groups):
        if not num(s.get(g, "budget", f"groups[{i}]")) > 0:
            fail(f"{s.fit_path}: groups[{i}].budget: expected a positive number, found {g['budget']!r}")
    budgets = sorted({num(g["budget"]) for g in groups})
    present = {str(s.get(g, "axis", "groups")) for g in groups}
    axes_order = [a for a in AXIS_NAMES if a in present] + sorted(present - set(AXIS_NAMES))
    rows, cols = len(budgets), len(axes_order)
    fig, grid = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.4 * rows), squeeze=False)
    for ax in grid.ravel():
        ax.set_axis_off()  # cells without a group stay empty
    for i, g in enumerate(groups):
        ax = grid[budgets.index(num(g["budget"]))][axes_order.index(str(g["axis"]))]
        ax.set_axis_on()
        draw_curve_panel(s, ax, g, f"groups[{i}]", best=g.get("best"))
        xo = num(g.get("model_optimum_x"))
        if xo == xo:
            ax.axvline(xo, color="C0", linestyle="--", linewidth=1.0, label=f"model optimum {g['axis']} = {fmt(xo)}")
        ax.set_xlabel(str(g["axis"]))
        ax.set_title(f"P ≈ {fmt(g['budget'])}, axis {g['axis']}")
        ax.legend(fontsize="x-small")
    fig.suptitle(f"{s.fit.get('sweep', os.path.basename(s.dir))}: trade-off at fixed budget")
    fig.tight_layout()
    return fig


def draw_scans(s):
    scans = s.items(s.fit, "scans", "/")
    if not scans:
        fail(f"{s.fit_path}: scans: expected at least one scan, found none (the sweep declared no scans)")
    cols = min(3, len(scans))
    rows = -(-len(scans) // cols)
    fig, grid = plt.subplots(rows, cols, figsize=(4.8 * cols, 3.6 * rows), squeeze=False)
    for ax in grid.ravel()[len(scans):]:
        ax.set_axis_off()
    for i, (sc, ax) in enumerate(zip(scans, grid.ravel())):
        draw_curve_panel(s, ax, sc, f"scans[{i}]")
        axis = str(s.get(sc, "axis", f"scans[{i}]"))
        fixed = sc.get("fixed") if isinstance(sc.get("fixed"), dict) else {}
        ax.set_xlabel(axis)
        ax.set_title(f"scan {sc.get('scan', i)}: axis {axis}" +
                     (f" ({', '.join(f'{k} = {fmt(v)}' for k, v in sorted(fixed.items()))})" if fixed else ""),
                     fontsize="medium")
        if i == 0:
            ax.legend(fontsize="x-small")
    fig.suptitle(f"{s.fit.get('sweep', os.path.basename(s.dir))}: one-axis scans")
    fig.tight_layout()
    return fig


PICTURES = {"pareto": draw_pareto, "tradeoff": draw_tradeoff, "scans": draw_scans}


def cmd_one(a):
    save(PICTURES[a.command](Sweep(a.sweep)), a.out)


def cmd_all(a):
    formats = list(dict.fromkeys(x.strip().lower().lstrip(".") for x in a.formats.split(",") if x.strip()))
    if not formats or any(x not in FORMATS for x in formats):
        fail(f"--formats: expected a comma list of png, svg, found '{a.formats}'")
    s = Sweep(a.sweep)
    out_dir = os.path.join(a.sweep, "plots")
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        fail(f"{out_dir}: cannot create: {e.strerror or e}")
    for name, draw in PICTURES.items():
        if name == "scans" and not s.fit.get("scans"):
            continue
        fig = draw(s)
        for ext in formats:
            path = os.path.join(out_dir, f"{name}.{ext}")
            save(fig, path, close=ext == formats[-1])
            print(path)


def main(argv=None):
    p = argparse.ArgumentParser(prog="elmsim_plot_science", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    helps = {"pareto": "every run against P, the Pareto points, the scaling law and the model's front",
             "tradeoff": "one panel per (budget, axis): means, model curve, best run, model optimum",
             "scans": "one panel per one-axis scan: means and model curve"}
    for name, help_text in helps.items():
        s = sub.add_parser(name, help=help_text)
        s.add_argument("--sweep", required=True, help="sweep directory holding fit.json and results.jsonl")
        s.add_argument("--out", required=True, help="output image, .png or .svg")
    s = sub.add_parser("all", help="every picture into SWEEP/plots (scans only when the sweep has some)")
    s.add_argument("--sweep", required=True, help="sweep directory holding fit.json and results.jsonl")
    s.add_argument("--formats", default="png,svg", help="comma list of png, svg (default png,svg)")
    a = p.parse_args(argv)
    if a.command != "all":
        check_out(a.out)  # before any work: a bad --out fails at once
    try:
        cmd_all(a) if a.command == "all" else cmd_one(a)
    except OSError as e:
        fail(f"{e.filename or a.sweep}: {e.strerror or e}")
    except (AttributeError, KeyError, TypeError, ValueError) as e:  # a fit.json of another layout than checked above
        fail(f"{os.path.join(a.sweep, 'fit.json')}: unexpected layout ({type(e).__name__}: {e})")


if __name__ == "__main__":
    main()
