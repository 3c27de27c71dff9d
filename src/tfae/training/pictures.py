"""The pictures of a trained autoencoder: reconstructions, samples, the latent space, the loss curves.

Every function draws on its own Matplotlib ``Figure`` (no display needed, and pyplot's state is left alone),
writes one PNG and returns its path.
Samples that are images (``(h, w)``, ``(h, w, channels)``, or flat vectors of a square size) are drawn as
images; other samples as line plots.
"""

import math
from pathlib import Path

import numpy as np

DPI = 100


def _figure(rows, columns, width, height, squeeze=True):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI)
    return figure, figure.subplots(rows, columns, squeeze=squeeze)


def image_shape(sample_shape):
    """The shape to draw a sample as an image, or ``None`` when it is not one."""
    sample_shape = tuple(sample_shape)
    if len(sample_shape) == 2:
        return sample_shape
    if len(sample_shape) == 3 and sample_shape[-1] in (1, 3, 4):
        return sample_shape if sample_shape[-1] != 1 else sample_shape[:2]
    if len(sample_shape) == 1:
        side = math.isqrt(sample_shape[0])
        if side > 1 and side * side == sample_shape[0]:
            return (side, side)
    return None


def _display_range(images):
    low, high = float(np.min(images)), float(np.max(images))
    return min(low, 0.0), max(high, 1.0)


def _draw(axis, sample, shape, low, high):
    axis.set_xticks([])
    axis.set_yticks([])
    if shape is None:
        axis.plot(np.ravel(sample), linewidth=0.8)
        axis.set_ylim(low, high)
        return
    image = np.clip(np.reshape(sample, shape), low, high)
    if image.ndim == 3:
        axis.imshow((image - low) / (high - low or 1.0))
    else:
        axis.imshow(image, cmap="gray", vmin=low, vmax=high, interpolation="nearest")


def _cell_inches(shape):
    return 1.0 if shape is None else max(0.8, min(1.2, max(shape[:2]) / 24))


def image_grid(images, path, columns=8, title=None):
    """Draws ``images`` (``(n, ...)``) in a grid with ``columns`` columns."""
    images = np.asarray(images)
    shape = image_shape(images.shape[1:])
    rows = math.ceil(len(images) / columns)
    cell = _cell_inches(shape)
    figure, axes = _figure(rows, columns, columns * cell, rows * cell + (0.4 if title else 0))
    axes = np.atleast_1d(axes).reshape(rows, columns)
    low, high = _display_range(images)
    for index, axis in enumerate(axes.flat):
        if index < len(images):
            _draw(axis, images[index], shape, low, high)
        else:
            axis.axis("off")
    if title:
        figure.suptitle(title)
    return _save(figure, path)


def reconstructions(originals, reconstructed, path, columns=10, title="Originals and their reconstructions"):
    """Draws originals (odd rows) above their reconstructions (even rows)."""
    originals, reconstructed = np.asarray(originals), np.asarray(reconstructed)
    shape = image_shape(originals.shape[1:])
    pairs = math.ceil(len(originals) / columns)
    cell = _cell_inches(shape)
    figure, axes = _figure(2 * pairs, columns, columns * cell + 1.2, 2 * pairs * cell + 0.5)
    axes = np.atleast_1d(axes).reshape(2 * pairs, columns)
    low, high = _display_range(originals)
    for index in range(pairs * columns):
        row, column = divmod(index, columns)
        for offset, images in ((0, originals), (1, reconstructed)):
            axis = axes[2 * row + offset, column]
            if index < len(images):
                _draw(axis, images[index], shape, low, high)
            else:
                axis.axis("off")
        if column == 0:
            for offset, label in ((0, "original"), (1, "reconstructed")):
                axes[2 * row + offset, 0].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    figure.suptitle(title)
    return _save(figure, path)


def principal_components(codes, dimensions=2):
    """Projects ``codes`` on their first principal components; returns the projection and the share of
    the variance each component explains."""
    centred = codes - codes.mean(axis=0)
    _, singular_values, components = np.linalg.svd(centred, full_matrices=False)
    variance = singular_values**2
    share = variance / variance.sum() if variance.sum() > 0 else np.zeros_like(variance)
    return centred @ components[:dimensions].T, share[:dimensions]


def latent_space(codes, path, labels=None, class_names=None, what="codes"):
    """Scatters the codes: the two latent dimensions, or their first two principal components when there
    are more; coloured by label where there are labels. One dimension is drawn against the label.
    ``what`` the codes are goes in the title ("posterior means", say)."""
    import matplotlib

    codes = np.asarray(codes, dtype="float64").reshape(len(codes), -1)
    figure, axis = _figure(1, 1, 6.4, 5.4)
    colour = labels if labels is not None else None
    if codes.shape[1] == 1:
        points = np.column_stack([codes[:, 0], labels if labels is not None else np.zeros(len(codes))])
        axis.set_xlabel("z[0]")
        axis.set_ylabel("label" if labels is not None else "")
        title = f"Latent space: {what}"
    elif codes.shape[1] == 2:
        points = codes
        axis.set_xlabel("z[0]")
        axis.set_ylabel("z[1]")
        title = f"Latent space: {what}"
    else:
        points, share = principal_components(codes)
        axis.set_xlabel(f"principal component 1 ({share[0]:.0%} of the variance)")
        axis.set_ylabel(f"principal component 2 ({share[1]:.0%} of the variance)")
        title = f"Latent space: {what}, {codes.shape[1]} dimensions projected on 2 (PCA)"
    if colour is None:
        axis.scatter(points[:, 0], points[:, 1], s=6, alpha=0.7)
    else:
        values = np.unique(colour)
        colour_map = matplotlib.colormaps["tab10" if len(values) <= 10 else "viridis"]
        scatter = axis.scatter(points[:, 0], points[:, 1], c=colour, cmap=colour_map, s=6, alpha=0.8)
        if len(values) <= 20:
            handles, _ = scatter.legend_elements(num=list(values))
            names = [str(class_names[int(v)]) if class_names is not None else str(v) for v in values]
            axis.legend(handles, names, title="label", fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
        else:
            figure.colorbar(scatter, ax=axis, label="label")
    axis.set_title(title)
    return _save(figure, path)


def loss_curves(history, path):
    """Plots each loss (total, reconstruction, regularization) per epoch, training and validation."""
    names = [name for name in ("loss", "reconstruction_loss", "regularization_loss") if name in history]
    figure, axes = _figure(1, len(names), 4.2 * len(names), 3.4, squeeze=False)
    for axis, name in zip(axes[0], names):
        for prefix, label in (("", "training"), ("val_", "validation")):
            values = history.get(prefix + name)
            if values is not None and len(values):
                epochs = np.arange(1, len(values) + 1)
                axis.plot(epochs, values, marker="o" if len(values) < 20 else None, markersize=3, label=label)
        axis.set_title(name.replace("_", " "))
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle("Loss per epoch (nats per sample for a likelihood loss)")
    return _save(figure, path)


def _save(figure, path):
    path = Path(path)
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    return path


def neighbours(query, found, distances, path, query_index, found_indices, columns=6):
    """Draws a sample (framed, first) and its nearest neighbours with their distances in latent space."""
    images = np.concatenate([np.asarray(query)[None], np.asarray(found)])
    shape = image_shape(images.shape[1:])
    columns = min(columns, len(images))
    rows = math.ceil(len(images) / columns)
    cell = 1.5
    figure, axes = _figure(rows, columns, columns * cell, rows * (cell + 0.3) + 0.4, squeeze=False)
    low, high = _display_range(images)
    for position, axis in enumerate(axes.flat):
        if position >= len(images):
            axis.axis("off")
            continue
        _draw(axis, images[position], shape, low, high)
        if position == 0:
            axis.set_title(f"sample {query_index}", fontsize=9, fontweight="bold")
            for spine in axis.spines.values():
                spine.set_edgecolor("tab:red")
                spine.set_linewidth(2.5)
        else:
            axis.set_title(f"#{found_indices[position - 1]}, d={distances[position - 1]:.2f}", fontsize=8)
    figure.suptitle("A sample (framed) and its nearest neighbours in latent space", fontsize=10)
    return _save(figure, path)
