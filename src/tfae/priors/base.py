"""The contract every prior of the latent code fulfils."""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import keras

from tfae.counts import checked_optional_count


class BasePrior(keras.layers.Layer):
    """The prior ``p(z)`` of a bottleneck's codes: its log-density and a sampler.

    A variational bottleneck takes one as ``prior=`` (a name such as ``"mixture"``, a dict, or an instance)
    and builds it for its ``latent_dim``. The model's regularizers, objective, ``model.sample(n)``, ``tfae
    evaluate``'s IWAE and ``tfae train``'s pictures all use it. A prior may own trainable weights (a learned
    mixture's means), trained with the model in the same ``fit``; and it may reach the model's encoder (a
    VampPrior) through ``connect``, which the model calls once its networks exist (and again on loading).

    A subclass implements ``log_prob`` and ``sample``; one that factorises over dimensions also implements
    ``log_prob_per_dimension`` (then the KL per dimension can be reported). Weights are made in
    ``build(latent_dim)``. A prior that can describe only some bottlenecks' codes (those on a sphere) refuses
    the others in ``check_bottleneck``, which the bottleneck calls as it is made.

    Args:
        latent_dim: optional; the code size the prior is for. ``None`` takes the bottleneck's; a number that
            differs from the bottleneck's is refused.
        **kwargs: base layer keyword arguments.

    Example:

    ```python
    class LaplacePrior(BasePrior):
        def log_prob(self, code):
            return keras.ops.sum(-keras.ops.abs(code) - math.log(2.0), axis=-1)

        def log_prob_per_dimension(self, code):
            return -keras.ops.abs(code) - math.log(2.0)

        def sample(self, n, seed=None):
            uniform = keras.random.uniform((n, self.latent_dim), -0.5, 0.5, seed=seed)
            return -keras.ops.sign(uniform) * keras.ops.log1p(-2.0 * keras.ops.abs(uniform))
    ```
    """

    #: The codes it gives density to: "real" (a Gaussian bottleneck's) or "binary" (a Bernoulli one's).
    support: ClassVar[str] = "real"

    def __init__(self, latent_dim: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.latent_dim: int | None = checked_optional_count(latent_dim, "latent_dim")

    @property
    def factorizes(self) -> bool:
        """Whether ``log_prob`` is a sum over dimensions, given one by one by ``log_prob_per_dimension``."""
        return type(self).log_prob_per_dimension is not BasePrior.log_prob_per_dimension

    def build(self, latent_dim: Any) -> None:
        """Makes the prior's weights for codes of ``latent_dim``; the bottleneck calls it when it is made."""
        self.latent_dim = int(latent_dim)
        self.built = True

    def check_bottleneck(self, bottleneck: keras.layers.Layer) -> None:
        """Raises ``ValueError`` when this prior cannot describe ``bottleneck``'s codes, saying what would.

        The bottleneck calls it as it is made, once the prior is built for its ``latent_dim`` and before the
        bottleneck makes its regularizers or weights: read its class attributes (``distribution``, or a
        plugin's own, such as a ``manifold``), not its layers. The default refuses a bottleneck whose codes are
        not of the prior's ``support`` (binary codes for a prior of real ones, and the reverse); a prior whose
        density lives on a manifold (the sphere, a Poincare ball) also refuses bottlenecks whose codes lie off
        it, here rather than in ``connect``, so that the refusal comes when the bottleneck is made.
        """
        support = "binary" if getattr(bottleneck, "distribution", None) == "bernoulli" else "real"
        if self.support != support:
            raise ValueError(
                f"The prior {type(self).__name__} gives density to {self.support} codes, but "
                f"{type(bottleneck).__name__} draws {support} ones: choose a prior of {support} codes."
            )

    def connect(self, model: keras.Model) -> None:
        """Called by the model once its networks exist, and again when it is loaded; by default, nothing.

        A prior that needs the model's encoder (a VampPrior) keeps what it needs of ``model.feature_network``
        and ``model.bottleneck`` here (as functions: the model owns their weights), and may make weights here
        with ``add_weight`` (those whose shape is the data's): the model lets it, though the prior is built.
        """

    def log_prob(self, code: Any) -> Any:
        """``log p(code)``, float32 nats, of shape ``code.shape[:-1]``; ``code`` has the latent size last."""
        raise NotImplementedError

    def log_prob_per_dimension(self, code: Any) -> Any:
        """``log p(code)`` of each dimension, elementwise, for a prior that factorises; shape of ``code``."""
        raise NotImplementedError(
            f"{type(self).__name__} does not factorise over dimensions: it has a joint log-density only (log_prob)."
        )

    def sample(self, n: Any, seed: Any = None) -> Any:
        """Draws ``n`` codes, shape ``(n, latent_dim)``, float32; the same ``seed`` draws the same codes.

        ``n`` is a positive Python int, or a scalar integer tensor: a batch's size inside a traced step
        (``ops.shape(code)[0]`` on TensorFlow), so that a regularizer can draw one prior code per code of the
        batch. Pass it through ``sample_shape`` and give the shape to ``keras.random``, which accepts both.
        """
        raise NotImplementedError

    def sample_shape(self, n: Any) -> tuple[Any, int]:
        """``(n, latent_dim)`` after checking that ``n`` is a positive integer (or a scalar integer tensor, a
        batch's size in a traced step) and that the prior is built."""
        if not _size_tensor(n) and (isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1):
            raise ValueError(
                "The number of samples must be a positive integer, or a scalar integer tensor (a batch's size). "
                f"Received: n={n!r}"
            )
        if self.latent_dim is None:
            raise ValueError(f"{type(self).__name__} is not built: give it to a bottleneck, which builds it.")
        return (n if _size_tensor(n) else int(n), self.latent_dim)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return tuple(input_shape)[:-1]

    def call(self, code: Any) -> Any:
        return self.log_prob(code)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "latent_dim": self.latent_dim}


def _size_tensor(n: Any) -> bool:
    """Whether ``n`` is a scalar integer tensor, such as a batch's size in a traced step."""
    if isinstance(n, (numbers.Number, str, bytes)) or not keras.ops.is_tensor(n) or tuple(n.shape) != ():
        return False
    return "int" in keras.backend.standardize_dtype(n.dtype)
