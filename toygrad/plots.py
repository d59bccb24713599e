"""Plotting helpers shared by the lessons. Each returns a matplotlib Figure and touches no global state:
no pyplot, no plt.show(), no rcParams. Save with toygrad.files.save_figure.

The same quantity has the same colour in every lesson: COLORS below.
"""
import numpy as np
from matplotlib.figure import Figure

COLORS = {"train": "tab:blue", "test": "tab:orange", "memorise": "tab:green", "generalise": "tab:red",
          "weight": "tab:purple", "bias": "tab:brown"}


def figure(nrows=1, ncols=1, width=4.0, height=3.5, **kwargs):
    """A Figure with a grid of axes, each panel width x height inches. Returns (fig, axes as a 2-D array)."""
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, axes


def mark_steps(ax, marks):
    """Vertical dashed lines at {label: step}, coloured by COLORS[label] when it has one."""
    for label, step in (marks or {}).items():
        if step is not None:
            ax.axvline(step, ls="--", lw=1, color=COLORS.get(label, "grey"), label=f"{label} (step {step:,})")


def training_curves(history, title, marks=None, loss_keys=("train_loss", "test_loss"),
                    acc_keys=("train_acc", "test_acc"), log_x=False):
    """Loss (log scale) and accuracy over steps for train and test, with marked steps."""
    fig, axes = figure(1, 2, width=5.0)
    ax_loss, ax_acc = axes[0]
    steps = history["step"]
    for key in loss_keys:
        ax_loss.plot(steps, history[key], color=COLORS[key.split("_")[0]], label=key.replace("_", " "))
    for key in acc_keys:
        ax_acc.plot(steps, history[key], color=COLORS[key.split("_")[0]], label=key.replace("_", " "))
    ax_loss.set_yscale("log")
    ax_loss.set_ylabel("loss")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_ylim(-0.02, 1.02)
    for ax in (ax_loss, ax_acc):
        mark_steps(ax, marks)
        ax.set_xlabel("training step")
        if log_x:
            ax.set_xscale("symlog", linthresh=100)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return fig


def heatmap(ax, array, title, xlabel=None, ylabel=None, cmap="RdBu_r", symmetric=True):
    """A 2-D array as an image with a colour bar; symmetric colour limits around 0 by default."""
    limit = np.abs(array).max() or 1.0
    image = ax.imshow(array, cmap=cmap, aspect="auto", interpolation="nearest",
                      **({"vmin": -limit, "vmax": limit} if symmetric else {}))
    ax.figure.colorbar(image, ax=ax, shrink=0.8)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return image
