"""The pictures of a trained autoencoder: reconstructions, samples, the latent space, latent traversals, the
loss curves.

Every function draws on its own Matplotlib ``Figure`` (no display needed, and pyplot's state is left alone),
writes one PNG and returns its path. The PNG is written under a temporary name and renamed into place, so a
full disk (a ``DiskFullError``) leaves the picture that was there before, or none, never half of one.
Samples that are images (``(h, w)``, ``(h, w, channels)``, or flat vectors of a square size) are drawn as
images; other samples as line plots.
"""

import math
from pathlib import Path

import numpy as np

DPI = 100
# The most samples a grid draws: 16 columns of 64 rows, a picture of about 2,000 x 7,700 pixels. Matplotlib
# holds every cell of a figure in memory, as images and as a canvas.
MAX_GRID_IMAGES = 1024


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


def _cell_inches(shape):
    return max(0.8, min(1.2, max(shape[:2]) / 24))


def _scaled(samples, shape, low, high):
    """Samples as images with values in [0, 1]: ``(n, h, w)`` grey levels or ``(n, h, w, c)`` colours."""
    images = np.clip(np.reshape(samples, (len(samples), *shape)), low, high)
    return (images - low) / (high - low or 1.0)


def _mosaic(rows, gap=1):
    """Tiles rows of equal-shape images (``[[image or None, ...], ...]``) into one image with white gaps."""
    first = next(image for row in rows for image in row if image is not None)
    height, width = first.shape[:2]
    columns = max(len(row) for row in rows)
    canvas = np.ones(
        (len(rows) * (height + gap) - gap, columns * (width + gap) - gap, *first.shape[2:]), dtype="float32"
    )
    for row_number, row in enumerate(rows):
        for column, image in enumerate(row):
            if image is not None:
                top, left = row_number * (height + gap), column * (width + gap)
                canvas[top : top + height, left : left + width] = image
    return canvas


def _show_mosaic(rows, shape, title, row_labels=None, column_labels=None, min_height=0.0, margin=None):
    canvas = _mosaic(rows)
    cell = _cell_inches(shape)
    columns = max(len(row) for row in rows)
    if margin is None:
        margin = 1.3 if row_labels else 0.2
    top = 0.5 + (0.3 if column_labels else 0.0) + 0.2 * str(title).count("\n")
    figure, axis = _figure(1, 1, columns * cell + margin, max(min_height, len(rows) * cell + top))
    axis.imshow(canvas, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    height, width = shape[:2]
    if column_labels:
        ticks = [column * (width + 1) + (width - 1) / 2 for column in range(columns)]
        axis.set_xticks(ticks, column_labels, fontsize=8)
        axis.xaxis.tick_top()
        axis.tick_params(axis="x", length=0)
    else:
        axis.set_xticks([])
    if row_labels:
        axis.set_yticks([row * (height + 1) + (height - 1) / 2 for row in range(len(rows))], row_labels, fontsize=8)
        axis.tick_params(axis="y", length=0)
    else:
        axis.set_yticks([])
    for spine in axis.spines.values():
        spine.set_visible(False)
    axis.set_title(title)
    return figure


def _line_grid(series, names, columns, title, cell=(2.4, 1.8)):
    """Draws each sample as a line plot, one cell per sample; ``series`` are arrays drawn in the same cells.
    ``cell`` is a cell's width and height in inches."""
    count = len(series[0])
    rows = math.ceil(count / columns)
    figure, axes = _figure(rows, columns, columns * cell[0], rows * cell[1] + 0.5, squeeze=False)
    low = min(float(np.min(values)) for values in series)
    high = max(float(np.max(values)) for values in series)
    for index, axis in enumerate(axes.flat):
        if index >= count:
            axis.axis("off")
            continue
        for values, name in zip(series, names):
            axis.plot(np.ravel(values[index]), linewidth=0.8, label=name)
        axis.set_ylim(low, high)
        axis.set_xticks([])
        axis.tick_params(labelsize=6)
    if names[0] is not None:
        axes[0, 0].legend(fontsize=6)
    figure.suptitle(title)
    return figure


def image_grid(images, path, columns=8, title=None):
    """Draws ``images`` (``(n, ...)``, at most ``MAX_GRID_IMAGES``) in a grid with ``columns`` columns."""
    images = np.asarray(images)
    if len(images) > MAX_GRID_IMAGES:
        raise ValueError(
            f"A grid draws at most {MAX_GRID_IMAGES:,} samples (tfae.training.pictures.MAX_GRID_IMAGES). Received: "
            f"{len(images):,} samples; draw a part of them, or save the arrays (numpy.save)"
        )
    shape = image_shape(images.shape[1:])
    columns = min(columns, len(images))
    if shape is None:
        return _save(_line_grid([images], [None], columns, title), path)
    scaled = _scaled(images, shape, *_display_range(images))
    rows = [list(scaled[start : start + columns]) for start in range(0, len(scaled), columns)]
    return _save(_show_mosaic(rows, shape, title), path)


def reconstructions(originals, reconstructed, path, columns=10, title="Originals and their reconstructions"):
    """Draws originals (odd rows) above their reconstructions (even rows)."""
    originals, reconstructed = np.asarray(originals), np.asarray(reconstructed)
    shape = image_shape(originals.shape[1:])
    columns = min(columns, len(originals))
    if shape is None:
        return _save(_line_grid([originals, reconstructed], ["original", "reconstructed"], columns, title), path)
    low, high = _display_range(originals)
    originals, reconstructed = _scaled(originals, shape, low, high), _scaled(reconstructed, shape, low, high)
    rows, labels = [], []
    for start in range(0, len(originals), columns):
        rows += [list(originals[start : start + columns]), list(reconstructed[start : start + columns])]
        labels += ["original", "reconstructed"]
    return _save(_show_mosaic(rows, shape, title, labels), path)


TRAVERSAL_STEPS = 9
TRAVERSED_DIMENSIONS = 16
# Codes drawn from a prior other than N(0, I) to find its quantiles.
PRIOR_DRAWS = 20_000


def traversal_values(bottleneck, steps=TRAVERSAL_STEPS, seed=0):
    """The values each latent dimension sweeps in a latent traversal of a model with ``bottleneck``.

    Chosen by the bottleneck and its prior, here in one place so the choice can be revisited: 0 to 1 for a
    ``BernoulliBottleneck`` (its codes are probabilities, in [0, 1]); -3 to 3 for a standard normal prior (or
    a bottleneck without one), three standard deviations either side of its mean, ``steps`` values evenly
    spaced. Under any other prior (a mixture, a VampPrior) each dimension sweeps its own quantiles, at the
    probabilities where N(0, 1) has those values, estimated from ``PRIOR_DRAWS`` codes drawn from the prior.

    Returns:
        The ``steps`` values every dimension sweeps, shape ``(steps,)``; or, under another prior, each
        dimension's own, shape ``(latent_dim, steps)``.
    """
    from tfae.bottlenecks import BernoulliBottleneck
    from tfae.priors import StandardNormalPrior

    if isinstance(bottleneck, BernoulliBottleneck):
        return np.linspace(0.0, 1.0, steps)
    prior = getattr(bottleneck, "prior", None)
    if prior is None or isinstance(prior, StandardNormalPrior):
        return np.linspace(-3.0, 3.0, steps)
    codes = np.asarray(bottleneck.sample_prior(PRIOR_DRAWS, seed=seed), dtype="float64").reshape(PRIOR_DRAWS, -1)
    return np.quantile(codes, traversal_probabilities(steps), axis=0).T


def traversal_probabilities(steps=TRAVERSAL_STEPS):
    """The probabilities at which a prior's quantiles are swept: where N(0, 1) has -3 to 3, evenly spaced."""
    return np.array([0.5 * (1.0 + math.erf(value / math.sqrt(2.0))) for value in np.linspace(-3.0, 3.0, steps)])


def ordered_dimensions(scores, count=TRAVERSED_DIMENSIONS):
    """The latent dimensions to show in a traversal, as rows: the ``count`` with the highest ``scores`` (one
    per dimension: each one's KL, say), highest first; ties in the order of the dimensions."""
    scores = np.asarray(scores, dtype="float64").reshape(-1)
    return [int(dimension) for dimension in np.argsort(-scores, kind="stable")[:count]]


def traversal_codes(code, values, dimensions=None):
    """The codes of a latent traversal, ``(len(dimensions), steps, latent_dim)`` float32: row ``r``, column
    ``j`` is ``code`` with dimension ``d = dimensions[r]`` set to ``values[j]`` (or ``values[d, j]`` when
    ``values`` holds each dimension's own, shape ``(latent_dim, steps)``) and the others as they are.
    ``dimensions`` defaults to every dimension of ``code``."""
    code = np.asarray(code, dtype="float32").reshape(-1)
    values = np.asarray(values, dtype="float32")
    values = values.reshape(-1) if values.ndim < 2 else values.reshape(code.size, -1)
    dimensions = range(code.size) if dimensions is None else [int(dimension) for dimension in dimensions]
    grid = np.tile(code, (len(dimensions), values.shape[-1], 1))
    for row, dimension in enumerate(dimensions):
        grid[row, :, dimension] = values if values.ndim == 1 else values[dimension]
    return grid


def _value_label(value):
    return f"{float(value) + 0.0:.3g}"  # + 0.0 turns -0.0 into 0.0


def latent_traversal(
    decode,
    code,
    path,
    values=None,
    title="Latent traversal: one dimension swept at a time, the others fixed",
    dimensions=None,
    original=None,
    notes=None,
    inactive=(),
):
    """Draws a latent traversal: ``code`` decoded with one latent dimension at a time swept over ``values``.

    One row per dimension of ``dimensions`` (default: every one, in order), labelled ``z0``, ``z1``...; one
    column per value, labelled at the top. ``values`` defaults to -3 to 3 in ``TRAVERSAL_STEPS`` steps; for a
    Bernoulli bottleneck, whose codes lie in [0, 1], sweep 0 to 1, and under a prior other than N(0, I) each
    dimension's own quantiles, shape ``(latent_dim, steps)``, whose columns are labelled with their
    probabilities (``traversal_values(bottleneck)`` chooses). ``decode`` turns codes ``(n, latent_dim)`` into
    samples ``(n, ...)`` (``model.decoder``, say); it is called once, on every code of the grid
    (``traversal_codes``). Samples that are images are drawn as images, others as line plots.

    ``original``, the sample whose code is swept, is drawn first, in a column of its own; ``notes`` are words
    added to each row's label (its KL, say); the rows of the dimensions in ``inactive`` are greyed and
    labelled so.
    """
    values = np.linspace(-3.0, 3.0, TRAVERSAL_STEPS) if values is None else np.asarray(values)
    code = np.asarray(code).reshape(-1)
    dimensions = range(code.size) if dimensions is None else [int(dimension) for dimension in dimensions]
    codes = traversal_codes(code, values, dimensions)
    rows, columns = codes.shape[:2]
    decoded = np.asarray(decode(codes.reshape(rows * columns, -1)))
    inactive = {int(dimension) for dimension in inactive}
    row_labels = []
    for row, dimension in enumerate(dimensions):
        words = [f"z{dimension}", *([notes[row]] if notes is not None else [])]
        words += ["inactive"] if dimension in inactive else []
        row_labels.append("\n".join(words))
    if values.ndim < 2:
        column_labels = [_value_label(value) for value in values.reshape(-1)]
    else:
        column_labels = [f"{100 * probability:.3g}%" for probability in traversal_probabilities(columns)]
    greyed = [row for row, dimension in enumerate(dimensions) if dimension in inactive]
    shape = image_shape(decoded.shape[1:])
    if shape is None:
        series = decoded.reshape(rows, columns, -1)
        if original is not None:
            first = np.tile(np.ravel(original), (rows, 1, 1))
            series = np.concatenate([first, series], axis=1)
            column_labels = ["original", *column_labels]
        width = series.shape[1]
        figure = _line_grid([series.reshape(rows * width, -1)], [None], width, title, cell=(1.3, 0.9))
        figure.set_figheight(max(2.4, figure.get_figheight()))
        for index, axis in enumerate(figure.axes):
            if index % width:
                axis.tick_params(labelleft=False)  # every cell shares the first column's y axis
            if index // width in greyed:
                axis.set_facecolor("0.85")
            if original is not None and index % width == 0 and index:
                axis.axis("off")
        for axis, label in zip(figure.axes[::width], row_labels):
            axis.set_ylabel(label, fontsize=8)
        for axis, label in zip(figure.axes[:width], column_labels):
            axis.set_title(label, fontsize=8)
        return _save(figure, path)
    low, high = _display_range(decoded if original is None else np.concatenate([decoded, np.asarray(original)[None]]))
    scaled = _scaled(decoded, shape, low, high)
    grid = [list(scaled[row * columns : (row + 1) * columns]) for row in range(rows)]
    if original is not None:
        first = _scaled(np.asarray(original)[None], shape, low, high)[0]
        grid = [[first if row == 0 else None, *cells] for row, cells in enumerate(grid)]
        column_labels = ["original", *column_labels]
    figure = _show_mosaic(grid, shape, title, row_labels, column_labels, min_height=2.4, margin=1.6 if notes else None)
    _grey_rows(figure.axes[0], greyed, shape, len(grid[0]), 1 if original is not None else 0)
    return _save(figure, path)


def _grey_rows(axis, rows, shape, columns, skip):
    """Covers the given rows of a mosaic (their cells after the first ``skip`` columns) in translucent grey."""
    from matplotlib.patches import Rectangle

    height, width = shape[:2]
    for row in rows:
        left = skip * (width + 1) - 0.5
        top = row * (height + 1) - 0.5
        axis.add_patch(
            Rectangle((left, top), (columns - skip) * (width + 1) - 1, height, color="0.5", alpha=0.55, linewidth=0)
        )


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


# A discriminator's loss is logged as <name>_discriminator_loss: a binary cross-entropy, log 2 at chance.
DISCRIMINATOR_SUFFIX = "discriminator_loss"
CHANCE = math.log(2.0)


def loss_curves(history, path):
    """Writes ``loss_figure(history)`` to ``path``: every logged loss per epoch."""
    return _save(loss_figure(history), path)


def loss_figure(history):
    """Plots every logged loss per epoch, training and validation, one panel each: the total, the
    reconstruction, the regularization, each regularizer's term (``<name>_loss``) and any other loss the
    model logs. A discriminator's (``<name>_discriminator_loss``, not part of the total) has its chance
    level, log 2, marked: a loss there means the discriminator cannot tell the codes apart.

    Returns:
        The Matplotlib ``Figure``, its panels in that order.
    """
    from matplotlib.ticker import MaxNLocator

    first = ("loss", "reconstruction_loss", "regularization_loss")
    logged = [name for name in history if (name == "loss" or name.endswith("_loss")) and not name.startswith("val_")]
    names = [name for name in first if name in logged] + [name for name in logged if name not in first]
    columns = min(3, max(1, len(names)))
    rows = max(1, math.ceil(len(names) / columns))
    figure, axes = _figure(rows, columns, 4.2 * columns, 3.2 * rows + 0.4, squeeze=False)
    for index, axis in enumerate(axes.flat):
        if index >= len(names):
            axis.axis("off")
            continue
        name = names[index]
        for prefix, label in (("", "training"), ("val_", "validation")):
            values = history.get(prefix + name)
            if values is not None and len(values):
                epochs = np.arange(1, len(values) + 1)
                axis.plot(epochs, values, marker="o" if len(values) < 20 else None, markersize=3, label=label)
        if name.endswith(DISCRIMINATOR_SUFFIX):
            axis.axhline(CHANCE, color="0.4", linestyle="--", linewidth=1, label="chance, log 2")
        axis.set_title(name.replace("_", " "))
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle("Every logged loss per epoch (nats per sample for a likelihood loss)")
    return figure


def _save(figure, path):
    from tfae.safe_files import replacing

    path = Path(path)
    figure.tight_layout()
    with replacing(path) as temporary:
        figure.savefig(temporary, dpi=DPI, format=path.suffix[1:].lower() or None)
    return path


def neighbours(query, found, distances, path, query_index, found_indices, columns=6):
    """Draws a sample and its nearest neighbours in latent space, labelled with their indices and distances."""
    images = np.concatenate([np.asarray(query)[None], np.asarray(found)])
    shape = image_shape(images.shape[1:])
    labels = [f"sample {query_index}"] + [f"#{i}, d={d:.2f}" for i, d in zip(found_indices, distances)]
    if shape is None:
        figure = _line_grid([images], [None], min(columns, len(images)), "A sample and its nearest neighbours")
        for axis, label in zip(figure.axes, labels):
            axis.set_title(label, fontsize=7)
        return _save(figure, path)
    scaled = _scaled(images, shape, *_display_range(images))
    columns = min(columns, len(images))
    rows = math.ceil(len(images) / columns)
    figure, axes = _figure(rows, columns, columns * 1.5, rows * 1.8 + 0.4, squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.set_xticks([])
        axis.set_yticks([])
        if index >= len(images):
            axis.axis("off")
            continue
        axis.imshow(scaled[index], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        axis.set_title(labels[index], fontsize=8, fontweight="bold" if index == 0 else "normal")
    for spine in axes[0, 0].spines.values():
        spine.set_edgecolor("tab:red")
        spine.set_linewidth(2.5)
    figure.suptitle("A sample (framed) and its nearest neighbours in latent space", fontsize=10)
    return _save(figure, path)
