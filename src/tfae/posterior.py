"""What a bottleneck gives its regularizers: the posterior of a batch."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


class Posterior:
    """The bottleneck's posterior for a batch: its distribution parameters, the code the decoder got, the bottleneck.

    A bottleneck builds one in each call and passes it to each of its regularizers. A variational bottleneck's
    ``parameters`` are its distribution's (a Gaussian's mean and log-variance, a Bernoulli's logits) and
    ``code`` is the sampled code while training, the mean at inference; a deterministic bottleneck's
    ``parameters`` are ``(code,)``. Everything is float32, whatever the dtype policy.

    Tests build one by hand from arrays.

    Args:
        parameters: the distribution parameters, each of shape ``(batch, latent_dim)``.
        code: the code the decoder received, shape ``(batch, latent_dim)``; ``None`` when there is none (a
            regularizer called with parameters alone, the seed's way).
        bottleneck: the bottleneck that made it, which knows the densities (``log_density``, ``log_prior``);
            ``None`` when there is none.

    Example:

    >>> bottleneck = GaussianBottleneck(latent_dim=2)
    >>> posterior = Posterior(parameters=(np.zeros((3, 2)), np.zeros((3, 2))), code=np.ones((3, 2)),
    ...                       bottleneck=bottleneck)
    >>> keras.ops.convert_to_numpy(posterior.log_density()).shape  # log q(code | x), per sample
    (3,)
    """

    __slots__ = ("_parameters", "_code", "_bottleneck")

    def __init__(self, parameters: Any, code: Any = None, bottleneck: keras.layers.Layer | None = None) -> None:
        parameters = tuple(parameters) if isinstance(parameters, (tuple, list)) else (parameters,)
        if not parameters:
            raise ValueError("A Posterior needs at least one distribution parameter. Received: parameters=()")
        self._parameters: tuple[Any, ...] = tuple(_float32(parameter) for parameter in parameters)
        self._code: Any = None if code is None else _float32(code)
        self._bottleneck = bottleneck

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
        return int(self.parameters[0].shape[-1])

    def log_density(self, code: Any = None, *, per_dimension: bool = False) -> Any:
        """``log q(code | x)`` of each sample under its own posterior.

        Args:
            code: codes whose shape broadcasts against the parameters' ``(batch, latent_dim)``; by default
                the posterior's own ``code``. ``code[:, None, :]`` against parameters expanded by
                ``Posterior.pairwise`` gives every code under every sample's posterior.
            per_dimension: return each dimension's log-density (the last axis kept) instead of their sum.

        Returns:
            float32 log-densities, in nats.
        """
        return self._densities("log_density", self._given_or_own(code), self.parameters, per_dimension)

    def log_prior(self, code: Any = None, *, per_dimension: bool = False) -> Any:
        """``log p(code)`` under the bottleneck's prior; arguments as in ``log_density``."""
        return self._densities("log_prior", self._given_or_own(code), (), per_dimension)

    def pairwise(self, code: Any = None, *, per_dimension: bool = False) -> Any:
        """``log q(code_i | x_j)`` for every pair of samples: shape ``(batch, batch)``, or ``(batch, batch, latent_dim)``.

        The matrix the minibatch estimators of ``log q(z)`` (Chen et al. 2018) start from: row ``i`` scores
        sample ``i``'s code under each sample's posterior.
        """
        code = ops.expand_dims(self._given_or_own(code), 1)
        parameters = tuple(ops.expand_dims(parameter, 0) for parameter in self.parameters)
        return self._densities("log_density", code, parameters, per_dimension)

    def stop_gradient(self) -> Posterior:
        """The same posterior with gradients stopped: what a regularizer's own objective sees."""
        parameters = tuple(ops.stop_gradient(parameter) for parameter in self.parameters)
        code = None if self.code is None else ops.stop_gradient(self.code)
        return Posterior(parameters=parameters, code=code, bottleneck=self.bottleneck)

    def _given_or_own(self, code: Any) -> Any:
        if code is not None:
            return _float32(code)
        if self.code is None:
            raise ValueError(
                "This Posterior holds no code: pass the code to score, or build the Posterior with `code=`."
            )
        return self.code

    def _densities(self, method: str, code: Any, parameters: tuple[Any, ...], per_dimension: bool) -> Any:
        density = getattr(self.bottleneck, method, None)
        if density is None:
            described = "no bottleneck" if self.bottleneck is None else f"the bottleneck {type(self.bottleneck).__name__}"
            raise ValueError(
                f"This Posterior has {described}, which gives no densities ({method}): densities come from a "
                "variational bottleneck such as GaussianBottleneck."
            )
        values = ops.cast(density(code, *parameters), "float32")
        return values if per_dimension else ops.sum(values, axis=-1)


def _float32(value: Any) -> Any:
    if isinstance(value, keras.KerasTensor) or ops.is_tensor(value):
        return value if str(ops.dtype(value)) == "float32" else ops.cast(value, "float32")
    return ops.convert_to_tensor(value, dtype="float32")
