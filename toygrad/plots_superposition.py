"""Figures of superposition shared by lessons 01-04: feature directions in the plane, WᵀW beside b, and bars of
feature norms coloured by superposition. Like plots.py, each helper draws on axes it is given (or returns a
Figure) and touches no global matplotlib state.

Colours: a feature's colour is its importance (viridis, dark = most important) wherever features are drawn
one by one; quantities use plots.COLORS, and the two dimensionalities of lesson 02 reuse its "memorise"
(data points stored) and "generalise" (features learned) colours.
"""
import numpy as np
from matplotlib import cm, colormaps, colors
from matplotlib.collections import LineCollection

from .metrics import STICKY, superposition
from .plots import COLORS, figure

DIMENSIONALITY_COLORS = {"data": COLORS["memorise"], "feature": COLORS["generalise"]}
FEATURE_CMAP = "viridis"
SUPERPOSITION_CMAP = "plasma"      # bars: dark = orthogonal to all other features, bright = fully shared


def _plane(W, name):
    W = np.asarray(W)
    if W.ndim != 2 or W.shape[0] != 2:
        raise ValueError(f"{name}: expected W of shape (2, n), features as columns in a plane; got {W.shape}")
    return W


def feature_colors(n):
    """One colour per feature, by rank of importance (features are ordered most important first)."""
    return colormaps[FEATURE_CMAP](np.linspace(0, 0.9, max(n, 2)))[:n]


def features_in_plane(ax, W, title=None, limit=None, labels=True):
    """Each column W_i of W: (2, n) as a line from the origin ending in a dot, coloured by its index. Drawn as one
    LineCollection and one scatter: 1,000 features as 2,000 separate artists took 15 s a figure to save."""
    W = _plane(W, "features_in_plane")
    many = W.shape[1] > 50                                   # thin lines and small dots, or it is all ink
    colors_ = feature_colors(W.shape[1])
    ax.add_collection(LineCollection(np.stack([np.zeros_like(W.T), W.T], axis=1), colors=colors_,
                                     linewidths=0.5 if many else 1.5, alpha=0.6 if many else 1.0))
    ax.scatter(W[0], W[1], c=colors_, s=(1.5 if many else 5) ** 2, zorder=3)
    if labels and W.shape[1] <= 12:
        for i, (u, v) in enumerate(W.T):
            if np.hypot(u, v) > 0.05:
                ax.annotate(str(i), (u, v), xytext=(4, 4), textcoords="offset points", fontsize=7)
    _square(ax, limit or 1.25 * max(np.abs(W).max(), 0.1), title)


def points_in_plane(ax, h, title=None, color=None, limit=None):
    """Hidden vectors h_t (rows of h: (T, 2)) as dots joined to the origin by faint lines."""
    h = np.asarray(h)
    if h.ndim != 2 or h.shape[1] != 2:
        raise ValueError(f"points_in_plane: expected h of shape (T, 2), got {h.shape}")
    color = color or DIMENSIONALITY_COLORS["data"]
    for u, v in h[:200]:                                     # lines for the first 200: more is only ink
        ax.plot([0, u], [0, v], color=color, lw=0.6, alpha=0.4)
    ax.plot(h[:, 0], h[:, 1], "o", color=color, ms=3 if len(h) > 50 else 5, alpha=0.8)
    _square(ax, limit or 1.25 * max(np.abs(h).max(), 0.1), title)


def _square(ax, limit, title):
    ax.axhline(0, color="lightgrey", lw=0.5, zorder=0)
    ax.axvline(0, color="lightgrey", lw=0.5, zorder=0)
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def gram_and_bias(ax_gram, ax_bias, W, b, title=None):
    """WᵀW: (n, n) as a heatmap (entry ij: how much feature j reads into feature i's output) and b: (n,) as a
    column beside it, on one symmetric colour scale."""
    W, b = np.asarray(W), np.asarray(b)
    gram = W.T @ W
    limit = max(np.abs(gram).max(), np.abs(b).max(), 1e-6)
    for ax, array, label in ((ax_gram, gram, title or "WᵀW"), (ax_bias, b[:, None], "b")):
        ax.imshow(array, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="equal" if ax is ax_gram else "auto",
                  interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(label, fontsize=8)


def norm_bars(ax, W, title=None):
    """Horizontal bars of ||W_i|| per feature (feature 0 at the top), coloured by sqrt(superposition) in [0, 1]:
    dark = W_i orthogonal to every other feature, bright = others lie along it as much as it does."""
    W = np.asarray(W)
    norms = np.linalg.norm(W, axis=0)
    shared = np.sqrt(np.clip(superposition(W), 0, 1))
    cmap = colormaps[SUPERPOSITION_CMAP]
    y = np.arange(W.shape[1])
    ax.barh(y, norms, color=cmap(shared * 0.9), height=0.8)
    ax.axvline(0.5, color="grey", lw=0.6, ls="--")
    ax.set_ylim(W.shape[1] - 0.5, -0.5)
    ax.set_xlim(0, max(1.2, norms.max() * 1.05))
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def superposition_colorbar(fig, axes):
    """The colour bar for norm_bars."""
    mappable = cm.ScalarMappable(norm=colors.Normalize(0, 1 / 0.9), cmap=SUPERPOSITION_CMAP)
    bar = fig.colorbar(mappable, ax=axes, shrink=0.6, ticks=[0, 0.5, 1])
    bar.set_label("√ superposition = √ Σ_j≠i (Ŵ_i·W_j)²", fontsize=8)
    return bar


def sticky_lines(ax, values=STICKY, horizontal=True):
    """Dashed lines at the fractions feature dimensionality sticks at, labelled 1, 3/4, 2/3, 1/2, 2/5, 3/8."""
    names = {1.0: "1", 3 / 4: "3/4", 2 / 3: "2/3", 1 / 2: "1/2", 2 / 5: "2/5", 3 / 8: "3/8"}
    for v in values:
        (ax.axhline if horizontal else ax.axvline)(v, color="grey", lw=0.6, ls="--", zorder=0)
        if horizontal:
            ax.annotate(names.get(v, f"{v:.2f}"), (1.0, v), xycoords=("axes fraction", "data"), xytext=(3, 0),
                        textcoords="offset points", fontsize=7, va="center", color="grey")


# --- a sweep over the training-set size T (lessons 02-04; rows are memorization.describe()'s) -------------

def features_and_data(rows, title):
    """A row of panels per model, one column per T: its features (columns of W) above, the hidden vectors of
    its training points below. Both in the plane (m = 2)."""
    fig, axes = figure(2, len(rows), width=2.0, height=2.1)
    for col, r in enumerate(rows):
        features_in_plane(axes[0, col], np.asarray(r["W"]),
                          f"T = {r['T']}: features\nD_feat = {r['feature_dimensionality']:.2f}", labels=False)
        points_in_plane(axes[1, col], np.asarray(r["h"]),
                        f"hidden vectors h_t\nD_data = {r['data_dimensionality']:.2f}")
    axes[0, 0].set_ylabel("columns W_i of W", fontsize=8)
    axes[1, 0].set_ylabel("training points", fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


def _against_T(ax, ylabel):
    ax.set_xscale("log")
    ax.set_xlabel("training-set size T")
    ax.set_ylabel(ylabel)


def loss_against_T(rows, peak, title, ylabel="loss", baseline=None):
    """Train and test loss against T on log axes; beside it the test loss alone on a linear axis, where a
    bump of a few percent can be seen. baseline: (value, label) drawn as a dotted line, e.g. predicting 0."""
    fig, axes = figure(1, 2, width=5.2, height=3.8)
    sizes = [r["T"] for r in rows]
    ax = axes[0, 0]
    for key in ("train", "test"):
        ax.plot(sizes, [max(r[f"{key}_loss"], 1e-6) for r in rows], "o-", color=COLORS[key],
                label=f"{key} loss" + (" (clipped at 1e-6)" if key == "train" else ""))
    _against_T(ax, ylabel)
    ax.set_yscale("log")
    ax = axes[0, 1]
    ax.plot(sizes, [r["test_loss"] for r in rows], "o-", color=COLORS["test"], label="test loss")
    if baseline:
        ax.axhline(baseline[0], color="grey", ls=":", lw=1, label=baseline[1])
    _against_T(ax, "test loss (linear axis)")
    for ax in axes[0]:
        ax.axvline(peak, color="grey", ls="--", lw=1, label=f"test-loss peak, T = {peak}")
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


def dimensionality_against_T(rows, cross, n_hidden, title):
    """Data and feature dimensionality (norm-weighted means) against T, with m / T (a regular T-gon) and the
    T where the two cross."""
    fig, axes = figure(1, 1, width=6, height=4)
    ax = axes[0, 0]
    sizes = [r["T"] for r in rows]
    ax.plot(sizes, [r["data_dimensionality"] for r in rows], "o-", color=DIMENSIONALITY_COLORS["data"],
            label="data dimensionality (mean over points, weighted by ||h_t||²)")
    ax.plot(sizes, [r["feature_dimensionality"] for r in rows], "o-", color=DIMENSIONALITY_COLORS["feature"],
            label="feature dimensionality (mean over features, weighted by ||W_i||²)")
    ax.plot(sizes, [n_hidden / T for T in sizes], ":", color="grey", label="m / T (a regular T-gon)")
    if cross:
        ax.axvline(cross, color="grey", ls="--", lw=1, label=f"they cross at T ≈ {cross:.0f}")
    _against_T(ax, "dimensionality")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return fig


def norms_against_T(rows, title, bias="||b||"):
    """||W|| (Frobenius) and the bias norm against T."""
    fig, axes = figure(1, 1, width=6, height=3.6)
    ax = axes[0, 0]
    sizes = [r["T"] for r in rows]
    ax.plot(sizes, [r["W_norm"] for r in rows], "o-", color=COLORS["weight"], label="||W||  (Frobenius)")
    ax.plot(sizes, [r["b_norm"] for r in rows], "o-", color=COLORS["bias"], label=bias)
    _against_T(ax, "norm")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return fig


def grid_image(ax, values, rows, columns, title, label, row_name="hidden dimensions m",
               column_name="training-set size T", cmap="viridis", **limits):
    """values: (len(rows), len(columns)) as an image with labelled ticks and a colour bar (e.g. log10 test
    loss over m x T). limits: vmin / vmax."""
    image = ax.imshow(values, origin="lower", aspect="auto", cmap=cmap, interpolation="nearest", **limits)
    ax.figure.colorbar(image, ax=ax, shrink=0.8, label=label)
    ax.set_xticks(range(len(columns)), [str(c) for c in columns])
    ax.set_yticks(range(len(rows)), [str(r) for r in rows])
    ax.set_xlabel(column_name)
    ax.set_ylabel(row_name)
    ax.set_title(title, fontsize=8)
    return image


__all__ = ["DIMENSIONALITY_COLORS", "feature_colors", "features_in_plane", "points_in_plane", "gram_and_bias",
           "norm_bars", "superposition_colorbar", "sticky_lines", "features_and_data", "loss_against_T",
           "dimensionality_against_T", "norms_against_T", "grid_image"]
