"""The textbook's optimizer figures, drawn from both sides (python -m reference optimizers).

1. Each optimizer's path on f(x, y) = x^2 / 20 + y^2 from (-7, 2), the
   implementation's and the twin's overlaid (the textbook's learning rates).
2. The MNIST training loss per optimizer, implementation against twin.
"""

import numpy as np
import torch

from bp_parity.reference.base.limits import STEP_SECONDS, time_limit
from bp_parity.reference.pieces import optimizer_rules, registry
from bp_parity.reference.run import training_parity

# the textbook's learning rates for the f(x, y) comparison (ch06/optimizer_compare_naive.py), and two more
PATH_LR = {"SGD": 0.95, "Momentum": 0.1, "Nesterov": 0.1, "AdaGrad": 1.5, "RMSprop": 0.1, "Adam": 0.3}
START = (-7.0, 2.0)
PATH_STEPS = 30


def gradient_f(x, y):
    """f(x, y) = x^2 / 20 + y^2:  df/dx = x / 10, df/dy = 2 y."""
    return x / 10.0, 2.0 * y


def impl_path(impl, name, steps=PATH_STEPS):
    with time_limit(STEP_SECONDS, f"{name} on f(x, y)", guard_state=False):
        optimizer = impl.require(name)(**dict(registry.hyper(name), lr=PATH_LR[name]))
        params = {"x": np.array(START[0]), "y": np.array(START[1])}
        path = [START]
        for _ in range(steps):
            gx, gy = gradient_f(params["x"], params["y"])
            optimizer.update(params, {"x": np.asarray(gx), "y": np.asarray(gy)})
            path.append((float(params["x"]), float(params["y"])))
    return np.array(path)


def twin_path(name, steps=PATH_STEPS):
    x = torch.nn.Parameter(torch.tensor(START[0], dtype=torch.float64))
    y = torch.nn.Parameter(torch.tensor(START[1], dtype=torch.float64))
    optimizer = optimizer_rules.twin(name, [x, y], **dict(registry.hyper(name), lr=PATH_LR[name]))
    path = [START]
    for _ in range(steps):
        optimizer.zero_grad()
        (x**2 / 20 + y**2).backward()
        optimizer.step()
        path.append((x.item(), y.item()))
    return np.array(path)


def plot_paths(paths, filename):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs, ys = np.meshgrid(np.arange(-10, 10, 0.05), np.arange(-5, 5, 0.05))
    zs = xs**2 / 20 + ys**2
    figure, axes = plt.subplots(2, 3, figsize=(12, 7))
    for ax, (name, (mine, theirs)) in zip(axes.flat, paths.items()):
        ax.contour(xs, ys, zs, levels=12, colors="0.8", linewidths=0.6)
        ax.plot(theirs[:, 0], theirs[:, 1], "o-", color="tab:orange", markersize=5, label="twin (PyTorch)")
        ax.plot(mine[:, 0], mine[:, 1], "x--", color="tab:blue", markersize=4, label="impl (NumPy)")
        ax.plot(0, 0, "+", color="k")
        ax.set_title(f"{name} (lr {PATH_LR[name]})")
        ax.set_xlim(-10, 10)
        ax.set_ylim(-5, 5)
    axes.flat[0].legend(loc="lower right", fontsize=8)
    figure.suptitle("f(x, y) = x^2/20 + y^2 from (-7, 2): impl and twin overlaid")
    figure.tight_layout()
    figure.savefig(filename, dpi=90)
    plt.close(figure)


def mnist_run(impl, data, name, steps, dtype, seed):
    """The ParityRun of `steps` MNIST steps of TwoLayerNet with optimizer `name` on both sides."""
    return training_parity.run(impl, data, dtype=dtype, steps=steps, optimizer=name, seed=seed, checkpoint_every=steps)


def mnist_runs(impl, data, steps, dtype, seed, on_run=None):
    """{optimizer: ParityRun} of `steps` MNIST steps each; on_run(name, run) as each finishes."""
    runs = {}
    for name in registry.names("optimizer"):
        runs[name] = mnist_run(impl, data, name, steps, dtype, seed)
        if on_run is not None:
            on_run(name, runs[name])
    return runs


def plot_losses(runs, filename):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(9, 5))
    for n, (name, run) in enumerate(runs.items()):
        color = f"C{n}"
        ax.plot(_smooth(run.twin_loss), color=color, linewidth=2.5, alpha=0.35)
        ax.plot(_smooth(run.impl_loss), color=color, linewidth=0.9, linestyle="--", label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (moving average of 20)")
    ax.set_ylim(0, 2.5)
    ax.set_title("MNIST, two-layer net: impl (dashed) over its twin (wide, faint) per optimizer")
    ax.legend()
    figure.tight_layout()
    figure.savefig(filename, dpi=90)
    plt.close(figure)


def _smooth(values, width=20):
    values = np.asarray(values)
    return np.convolve(values, np.ones(width) / width, mode="valid") if len(values) > width else values
