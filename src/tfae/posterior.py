"""What a bottleneck gives its regularizers: the posterior of a batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops


class Posterior:
    """The bottleneck's posterior for a batch: its distribution parameters, the code the decoder got, the bottleneck.

    A bottleneck's ``posterior`` method returns one; the model passes it to the regularizers and to the
    objective. A variational bottleneck's ``parameters`` are its distribution's (a Gaussian's mean and
    log-variance, a Bernoulli's logits, a flow's amortised context: any shapes the bottleneck declares, each
    with the batch first) and ``code`` is the code the decoder received: a sample while training and
    evaluating, the mean at inference. With ``k`` importance samples the code has shape ``(k, batch,
    latent_dim)`` and the densities shape ``(k, batch)``. A deterministic bottleneck's ``parameters`` are
    ``(code,)``. Everything is float32, whatever the dtype policy.

    Tests build one by hand from arrays.

    Args:
        parameters: the distribution parameters, each of shape ``(batch, ...)``.
        code: the code the decoder received, shape ``(batch, latent_dim)`` or ``(k, batch, latent_dim)``;
            ``None`` when there is none (a regularizer called with parameters alone).
        bottleneck: the bottleneck that made it, which knows the densities (``log_density``, ``prior``);
            ``None`` when there is none.
        code_log_density: optional ``log q(code | x)`` of the posterior's own code, shape ``(batch,)`` or
            ``(k, batch)``, when the bottleneck knows it from sampling (a flow: it never inverts itself).
        losses: the bottleneck's own loss terms, float32 scalars the model adds to its loss (a VQ-VAE's
            codebook and commitment losses); none by default.

    Example:

    >>> bottleneck = GaussianBottleneck(latent_dim=2)
    >>> posterior = Posterior(parameters=(np.zeros((3, 2)), np.zeros((3, 2))), code=np.ones((3, 2)),
    ...                       bottleneck=bottleneck)
    >>> keras.ops.convert_to_numpy(posterior.log_density()).shape  # log q(code | x), per sample
    (3,)
    """

    __slots__ = ("_parameters", "_code", "_bottleneck", "_code_log_density", "_bottleneck_losses")

    def __init__(
        self,
        parameters: Any,
        code: Any = None,
        bottleneck: keras.layers.Layer | None = None,
        *,
        code_log_density: Any = None,
        losses: Sequence[Any] = (),
    ) -> None:
        parameters = tuple(parameters) if isinstance(parameters, (tuple, list)) else (parameters,)
        if not parameters:
            raise ValueError("A Posterior needs at least one distribution parameter. Received: parameters=()")
        self._parameters: tuple[Any, ...] = tuple(_float32(parameter) for parameter in parameters)
        self._code: Any = None if code is None else _float32(code)
        self._bottleneck = bottleneck
        self._code_log_density: Any = None if code_log_density is None else _float32(code_log_density)
        self._bottleneck_losses: tuple[Any, ...] = tuple(_float32(loss) for loss in losses)

    @property
    def parameters(self) -> tuple[Any, ...]:
        """The distribution parameters, float32 tensors of shape ``(batch, latent_dim)``."""
        return self._parameters

    @property
    def code(self) -> Any:
        """The code the decoder received, a float32 tensor of shape ``(batch, latent_dim)``, or ``None``."""
        return self._code

    @property
    def bottleneck(self) -> keras.layers.Layer | None:
        """The bottleneck that gives the densities, or ``None``."""
        return self._bottleneck

    @property
    def losses(self) -> tuple[Any, ...]:
        """The bottleneck's own loss terms (float32 scalars), which the model adds to its loss."""
        return self._bottleneck_losses

    @property
    def importance_samples(self) -> int:
        """``k``, the number of codes per sample: 1 unless the code has shape ``(k, batch, latent_dim)``."""
        if self._code is None or len(self._code.shape) < 3:
            return 1
        return int(self._code.shape[0])

    def __repr__(self) -> str:
        shapes = ", ".join(str(tuple(parameter.shape)) for parameter in self._parameters)
        bottleneck = None if self._bottleneck is None else type(self._bottleneck).__name__
        code = None if self._code is None else tuple(self._code.shape)
        return f"Posterior(parameters of shapes {shapes}, code of shape {code}, bottleneck={bottleneck})"

    @property
    def batch_size(self) -> Any:
        """The number of samples in the batch (a tensor when the batch size is only known at run time)."""
        return ops.shape(self.parameters[0])[0]

    @property
    def latent_dim(self) -> int:
        """The size of each sample's code."""
        latent_dim = getattr(self._bottleneck, "latent_dim", None)
        if latent_dim is not None:
            return int(latent_dim)
        return int((self.parameters[0] if self._code is None else self._code).shape[-1])

    def log_density(self, code: Any = None, *, per_dimension: bool = False) -> Any:
        """``log q(code | x)`` of each sample under its own posterior: the joint density of its code.

        Args:
            code: codes whose shape broadcasts against the parameters' ``(batch, ...)``: ``(batch,
                latent_dim)`` or ``(k, batch, latent_dim)``; by default the posterior's own ``code`` (whose
                log-density the bottleneck may have given with it). ``code[:, None, :]`` against parameters
                expanded by ``Posterior.pairwise`` gives every code under every sample's posterior.
            per_dimension: return each dimension's log-density (the last axis kept) instead of the joint;
                only for a posterior that factorises over dimensions (``bottleneck.factorizes``).

        Returns:
            float32 log-densities in nats, of shape ``(batch,)`` (``(k, batch)`` for ``k`` codes per sample),
            or with the last axis kept for ``per_dimension``.
        """
        if code is None and self._code_log_density is not None and not per_dimension:
            return self._code_log_density
        code = self._given_or_own(code)
        bottleneck = self._density_source("log_density")
        if per_dimension:
            _require_factorizes(bottleneck, "its posterior")
            return ops.cast(bottleneck.log_density(code, *self.parameters), "float32")
        return ops.cast(bottleneck.joint_log_density(code, *self.parameters), "float32")

    def log_prior(self, code: Any = None, *, per_dimension: bool = False) -> Any:
        """``log p(code)`` under the bottleneck's prior; arguments and shapes as in ``log_density``."""
        code = self._given_or_own(code)
        bottleneck = self._density_source("log_prior")
        if per_dimension:
            return ops.cast(bottleneck.log_prior(code), "float32")
        return ops.cast(bottleneck.joint_log_prior(code), "float32")

    def pairwise(self, code: Any = None, *, per_dimension: bool = False) -> Any:
        """``log q(code_i | x_j)`` for all sample pairs: shape ``(batch, batch)``, or ``(batch, batch, latent_dim)``.

        The matrix the minibatch estimators of ``log q(z)`` (Chen et al. 2018) start from: row ``i`` scores
        sample ``i``'s code under each sample's posterior.
        """
        code = ops.expand_dims(self._given_or_own(code), 1)
        parameters = tuple(ops.expand_dims(parameter, 0) for parameter in self.parameters)
        bottleneck = self._density_source("log_density")
        if per_dimension:
            _require_factorizes(bottleneck, "its posterior")
            return ops.cast(bottleneck.log_density(code, *parameters), "float32")
        return ops.cast(bottleneck.joint_log_density(code, *parameters), "float32")

    def first_code(self) -> Posterior:
        """The posterior with only the first of its ``k`` codes per sample (and that code's log-density)."""
        if self.importance_samples == 1:
            return self
        log_q = None if self._code_log_density is None else self._code_log_density[0]
        return Posterior(self.parameters, self.code[0], self.bottleneck, code_log_density=log_q, losses=self.losses)

    def stop_gradient(self) -> Posterior:
        """The same posterior with gradients stopped: what a regularizer's own objective sees."""
        parameters = tuple(ops.stop_gradient(parameter) for parameter in self.parameters)
        code = None if self.code is None else ops.stop_gradient(self.code)
        log_q = None if self._code_log_density is None else ops.stop_gradient(self._code_log_density)
        losses = tuple(ops.stop_gradient(loss) for loss in self._bottleneck_losses)
        return Posterior(parameters, code, self.bottleneck, code_log_density=log_q, losses=losses)

    def _given_or_own(self, code: Any) -> Any:
        if code is not None:
            return _float32(code)
        if self.code is None:
            raise ValueError(
                "This Posterior holds no code: pass the code to score, or build the Posterior with `code=`."
            )
        return self.code

    def _density_source(self, method: str) -> Any:
        if not getattr(self.bottleneck, "has_densities", False):
            described = (
                "no bottleneck" if self.bottleneck is None else f"the bottleneck {type(self.bottleneck).__name__}"
            )
            raise ValueError(
                f"This Posterior has {described}, which gives no densities ({method}): densities come from a "
                "variational bottleneck such as GaussianBottleneck."
            )
        return self.bottleneck


def _require_factorizes(bottleneck: Any, what: str) -> None:
    if not getattr(bottleneck, "factorizes", True):
        raise ValueError(
            f"The bottleneck {type(bottleneck).__name__} gives the joint log-density of {what}, not one per "
            "dimension: it does not factorise over dimensions. Ask for the joint (per_dimension=False)."
        )


def _float32(value: Any) -> Any:
    if isinstance(value, keras.KerasTensor) or ops.is_tensor(value):
        return value if str(ops.dtype(value)) == "float32" else ops.cast(value, "float32")
    return ops.convert_to_tensor(value, dtype="float32")
