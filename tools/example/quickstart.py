"""elmsim from Python, a first hour: the demo's model, simulated and streamed, with pictures.

Run after `tools/setup.sh demo` (which runs it too):

    PYTHONPATH=build/demo/python /usr/bin/python3 tools/example/quickstart.py [--out runs/demo]

It loads the trained demo model (runs/demo/model.h5), scores it on the demo's test pairs with
elmsim.simulate, streams one SHD-Adding pair (two spoken digits, one second each) through an
elmsim.Session event by event as a live client would, and draws the pair's input spikes, every
neuron's output y and three neurons' memory units to <out>/quickstart.png.
"""

import argparse
import os
import sys

import numpy as np

import elmsim


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="runs/demo/model.h5")
    p.add_argument("--data", default="data/demo/shd_test.h5")
    p.add_argument("--out", default="runs/demo")
    a = p.parse_args()
    for path in (a.model, a.data):
        if not os.path.exists(path):
            sys.exit(f"quickstart: {path} not found (tools/setup.sh demo makes it)")

    model = elmsim.Model.load(a.model)
    info = model.info()
    print(f"model: N {info['N']}  k_e {info['k_e']}  k_c {info['k_c']}  P {info['P']}  "
          f"(task {model.config.task}, dt {info['dt_ms']} ms)")

    # 1. Score the model on its test pairs, as `elmsim simulate` does (no trace kept: variables are
    #    recorded only for the first pair).
    scored = elmsim.simulate(a.model, data=a.data, first=0, end=1, variables=["y", "m"])
    every = elmsim.simulate(a.model, data=a.data, variables="logits", final_logits_only=True)
    print(f"simulate: {every['samples']} test pairs, accuracy {every['stats']['accuracy']:.3f}, "
          f"{every['updates']} updates")
    first = scored["trace"]["samples"][0]
    print(f"pair 0: label {first['label']}, predicted {first['prediction']}, y {first['y'].shape}")

    # 2. Stream one pair through a live session: digit a in the first second, digit b in the next.
    samples, labels, _ = elmsim.read_spike_dataset(a.data)
    i, j = 3, 8
    ta, ca = samples[i]
    tb, cb = samples[j]
    keep_a, keep_b = ta < 1000.0, tb < 1000.0
    times = np.concatenate([ta[keep_a], tb[keep_b] + 1000.0])
    channels = np.concatenate([ca[keep_a], cb[keep_b]])
    target = labels[i] % 10 + labels[j] % 10
    with elmsim.Session(a.model, variables=["y", "m"]) as s:
        for start in range(0, 2000, 100):  # 100 ms chunks, as they would arrive live
            chunk = (times >= start) & (times < start + 100)
            s.push_events(times[chunk], channels[chunk])
            s.advance_to(float(start))
        s.finish(2000.0)
        streamed = s.trace()["samples"][0]
        predicted = s.prediction
        print(f"session: digits {labels[i] % 10} + {labels[j] % 10} = {target}, predicted {s.prediction} "
              f"after {s.updates} updates")

    # 3. Pictures: the streamed pair's input raster, every neuron's y, three neurons' memory units.
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("quickstart: no pictures (Debian's python3-matplotlib draws them)")
        return
    fig, ax = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    ax[0].scatter(times, channels, s=0.5, c="k")
    ax[0].set_ylabel("input channel")
    ax[0].set_title(f"SHD-Adding pair: {labels[i] % 10} + {labels[j] % 10} = {target}, "
                    f"the network says {predicted}")
    t = streamed["time_ms"]
    ax[1].imshow(streamed["y"].T, aspect="auto", origin="lower", cmap="viridis",
                 extent=[t[0], t[-1], -0.5, streamed["y"].shape[1] - 0.5])
    ax[1].set_ylabel("neuron (output y)")
    for n in range(3):
        ax[2].plot(t, streamed["m"][:, n, :], lw=0.8, color=f"C{n}")
    ax[2].set_ylabel("memory units m\n(neurons 0-2)")
    ax[2].set_xlabel("time (ms)")
    fig.tight_layout()
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "quickstart.png")
    fig.savefig(path, dpi=110)
    print(f"pictures: {path}")


if __name__ == "__main__":
    main()
