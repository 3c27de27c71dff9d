"""The vector-quantised bottleneck of a VQ-VAE (van den Oord et al. 2017), registered as ``"vq"``."""

import math
import numbers

import keras
from keras import ops

import tfae
from tfae.bottlenecks import BaseBottleneck, Posterior

# Laplace smoothing of the moving-average cluster sizes, so that a code nobody uses divides by no zero.
EMA_EPSILON = 1e-5


class VectorQuantizedBottleneck(BaseBottleneck):
    """Replaces each code by its nearest vector in a learned codebook.

    A Dense layer projects the features to ``z_e`` of size ``latent_dim``, seen as
    ``latent_dim // codebook_dim`` groups of ``codebook_dim`` values. Each group is replaced by the
    codebook vector ``e`` nearest to it in squared distance, so a sample's code is ``latent_dim // codebook_dim``
    indices into a codebook of ``codebook_size`` vectors. The nearest-vector choice has no gradient; the
    straight-through estimator ``z_q = z_e + stop_gradient(e - z_e)`` passes the decoder's gradient to the
    encoder unchanged.

    Its posterior carries as its own ``losses`` (and the layer called alone adds), per sample summed over the
    latent dims and averaged over the batch:

    - the codebook loss ``||stop_gradient(z_e) - e||^2``, which moves the codebook towards the encodings
      (left out when ``ema_decay`` is set: the moving averages move the codebook instead);
    - ``commitment_cost * ||z_e - stop_gradient(e)||^2``, which keeps the encodings near their codes.

    With ``ema_decay`` the codebook is not trained by gradient: each train step moves two moving averages
    towards the batch, of how many encodings chose each code and of their sum, and each codebook vector is
    their ratio, the average encoding that chose it (the counts are Laplace-smoothed). The averages start at
    one encoding per code, at the initial codebook, so a code that is never chosen keeps its initial vector.

    ``perplexity`` is ``exp(entropy)`` of the batch's average code usage: 1 when every group picks the same
    code, ``codebook_size`` when all codes are used equally often. A model logs its mean over the batches as
    the metric ``perplexity``.

    The prior is uniform over the codes: ``sample_prior`` draws each group's index uniformly and returns
    the codebook vectors, for the decoder to turn into new samples.

    Args:
        latent_dim: positive int, the size of the code; a multiple of ``codebook_dim``.
        codebook_size: positive int, the number of vectors in the codebook.
        codebook_dim: positive int, the size of each codebook vector; defaults to ``latent_dim`` (one
            codebook vector per sample).
        commitment_cost: float >= 0, the weight of the commitment loss (0.25 in the paper).
        ema_decay: ``None`` to learn the codebook by gradient, or a float in (0, 1), such as 0.99, to update
            it with exponential moving averages.
        regularizer: an optional regularizer of ``z_e`` (instance, name or dict), such as ``"l2"``.
        seed: optional int, makes the codebook's initial values reproducible.
        **kwargs: base layer keyword arguments.

    Call arguments:
        inputs: the encoder's features, shape ``(batch, ...)``.
        training: update the moving averages (with ``ema_decay``) when ``True``.

    Input shape:
        ``(batch_size, ...)``.

    Output shape:
        ``(batch_size, latent_dim)``, each group of ``codebook_dim`` values a codebook vector.

    Example:

    >>> bottleneck = VectorQuantizedBottleneck(latent_dim=4, codebook_size=16, codebook_dim=2)
    >>> tuple(bottleneck(keras.ops.ones((3, 8))).shape)
    (3, 4)
    >>> tuple(bottleneck.code_indices(keras.ops.ones((3, 8))).shape)
    (3, 2)
    """

    def __init__(
        self,
        latent_dim,
        codebook_size=512,
        codebook_dim=None,
        commitment_cost=0.25,
        ema_decay=None,
        regularizer=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(latent_dim, regularizer=regularizer, **kwargs)
        if codebook_dim is None:
            codebook_dim = self.latent_dim
        for name, value in (("codebook_size", codebook_size), ("codebook_dim", codebook_dim)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        if self.latent_dim % codebook_dim:
            raise ValueError(
                "`latent_dim` must be a multiple of `codebook_dim`: the code is made of whole codebook vectors. "
                f"Received: latent_dim={latent_dim!r}, codebook_dim={codebook_dim!r}"
            )
        if (
            isinstance(commitment_cost, bool)
            or not isinstance(commitment_cost, numbers.Real)
            or not 0 <= commitment_cost < math.inf
        ):
            raise ValueError(
                f"`commitment_cost` must be a finite number >= 0. Received: commitment_cost={commitment_cost!r}"
            )
        if ema_decay is not None and (
            isinstance(ema_decay, bool) or not isinstance(ema_decay, numbers.Real) or not 0 < ema_decay < 1
        ):
            raise ValueError(f"`ema_decay` must be None or a number in (0, 1). Received: ema_decay={ema_decay!r}")
        self.codebook_size = int(codebook_size)
        self.codebook_dim = int(codebook_dim)
        self.groups = self.latent_dim // self.codebook_dim
        self.commitment_cost = float(commitment_cost)
        self.ema_decay = None if ema_decay is None else float(ema_decay)
        self.seed = seed
        # Distances and losses in float32 (the variable dtype) under a mixed-precision policy.
        self.projection = keras.layers.Dense(self.latent_dim, dtype=self.dtype_policy.variable_dtype, name="projection")
        self.perplexity_tracker = keras.metrics.Mean(name="perplexity")

    def build(self, input_shape):
        if not self.projection.built:
            self.projection.build(self.flat_shape(input_shape))
        # Unit variance per component, the scale of a freshly initialised projection's output.
        limit = math.sqrt(3.0)
        initializer = keras.initializers.RandomUniform(-limit, limit, seed=self.seed)
        shape = (self.codebook_size, self.codebook_dim)
        # Not autocast: under a mixed-precision policy the distances are computed from float32 vectors.
        # "mean": under tf.distribute the replicas' moving averages (linear in each batch) are averaged.
        if self.ema_decay is None:
            self.codebook = self.add_weight(shape=shape, initializer=initializer, autocast=False, name="codebook")
        else:
            self.ema_cluster_size = self.add_weight(
                shape=(self.codebook_size,),
                initializer="ones",
                trainable=False,
                autocast=False,
                aggregation="mean",
                name="ema_cluster_size",
            )
            self.ema_codebook_sum = self.add_weight(
                shape=shape,
                initializer=initializer,
                trainable=False,
                autocast=False,
                aggregation="mean",
                name="ema_codebook_sum",
            )
        self.batch_perplexity = self.add_weight(
            shape=(), initializer="ones", trainable=False, autocast=False, aggregation="mean", name="batch_perplexity"
        )

    def codebook_vectors(self):
        """Returns the codebook, shape ``(codebook_size, codebook_dim)``, float32.

        With ``ema_decay`` it is the ratio of the moving averages: each code's average encoding.
        """
        if self.ema_decay is None:
            return ops.cast(self.codebook, "float32")
        return self.ema_codebook_sum / smoothed_cluster_size(self.ema_cluster_size)[:, None]

    def encode(self, inputs):
        """Returns ``z_e``, the projected features before quantisation, shape ``(batch, latent_dim)``, float32."""
        return ops.cast(self.projection(self.flatten(inputs)), "float32")

    def nearest(self, encodings, codebook):
        """Returns the index of the ``codebook`` row nearest to each row of ``encodings`` ``(n, codebook_dim)``."""
        distances = (
            ops.sum(ops.square(encodings), axis=-1, keepdims=True)
            - 2.0 * ops.matmul(encodings, ops.transpose(codebook))
            + ops.sum(ops.square(codebook), axis=-1)[None, :]
        )
        return ops.argmin(distances, axis=-1)

    def code_indices(self, inputs):
        """Returns each sample's codebook indices, shape ``(batch, latent_dim // codebook_dim)``, int32."""
        encodings = ops.reshape(self.encode(inputs), (-1, self.codebook_dim))
        return ops.cast(ops.reshape(self.nearest(encodings, self.codebook_vectors()), (-1, self.groups)), "int32")

    def lookup(self, indices):
        """Returns the codes ``(batch, latent_dim)`` of codebook ``indices`` ``(batch, latent_dim // codebook_dim)``."""
        vectors = ops.take(self.codebook_vectors(), ops.reshape(indices, (-1,)), axis=0)
        return ops.reshape(vectors, (-1, self.latent_dim))

    def posterior(self, inputs, sampling="mean", training=False, importance_samples=1):
        """The quantised code, with the codebook and commitment losses; the same code whatever ``sampling``."""
        if importance_samples != 1:
            raise ValueError(
                "VectorQuantizedBottleneck gives one code per sample; it cannot draw "
                f"importance_samples={importance_samples!r}."
            )
        z_e = self.encode(inputs)
        encodings = ops.reshape(z_e, (-1, self.codebook_dim))
        codebook = self.codebook_vectors()
        indices = self.nearest(encodings, codebook)
        one_hot = ops.one_hot(indices, self.codebook_size, dtype="float32")
        quantized = ops.reshape(ops.take(codebook, indices, axis=0), ops.shape(z_e))
        code = z_e + ops.stop_gradient(quantized - z_e)
        loss = self.commitment_cost * ops.mean(ops.sum(ops.square(z_e - ops.stop_gradient(quantized)), axis=-1))
        if self.ema_decay is None:
            loss = loss + ops.mean(ops.sum(ops.square(ops.stop_gradient(z_e) - quantized), axis=-1))
        elif training:
            self.update_codebook(encodings, one_hot)
        self.batch_perplexity.assign(perplexity(ops.mean(one_hot, axis=0)))
        # The regularizers see the encoder's output as the parameter and the quantized code the decoder gets.
        return Posterior(parameters=(z_e,), code=code, bottleneck=self, losses=(loss,))

    def update_codebook(self, encodings, one_hot):
        """Moves the averages of each code's count and sum of encodings one step towards this batch's."""
        decay = self.ema_decay
        counts = ops.sum(one_hot, axis=0)
        sums = ops.matmul(ops.transpose(one_hot), ops.stop_gradient(encodings))
        self.ema_cluster_size.assign(decay * self.ema_cluster_size + (1.0 - decay) * counts)
        self.ema_codebook_sum.assign(decay * self.ema_codebook_sum + (1.0 - decay) * sums)

    def update_metrics(self):
        """Adds the last batch's perplexity to the ``perplexity`` metric; the model calls it in every step."""
        self.perplexity_tracker.update_state(self.batch_perplexity)

    def sample_prior(self, n, seed=None):
        """Draws ``n`` codes: each group's codebook index uniformly at random. Returns ``(n, latent_dim)``."""
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"The number of samples must be a positive integer. Received: n={n!r}")
        indices = keras.random.randint((int(n), self.groups), 0, self.codebook_size, seed=seed)
        return self.lookup(indices)

    def get_config(self):
        return {
            **super().get_config(),
            "codebook_size": self.codebook_size,
            "codebook_dim": self.codebook_dim,
            "commitment_cost": self.commitment_cost,
            "ema_decay": self.ema_decay,
            "seed": self.seed,
        }


def smoothed_cluster_size(cluster_size):
    """Laplace-smooths moving-average cluster sizes, keeping their total, so that none is zero."""
    total = ops.sum(cluster_size)
    return (cluster_size + EMA_EPSILON) / (total + cluster_size.shape[0] * EMA_EPSILON) * total


def perplexity(probabilities):
    """``exp(-sum p log p)`` of a distribution over codes (zero probabilities count as zero)."""
    safe = ops.where(probabilities > 0, probabilities, 1.0)
    return ops.exp(-ops.sum(probabilities * ops.log(safe)))


@tfae.hookimpl
def register_bottlenecks(register):
    register(VectorQuantizedBottleneck, name="vq", aliases=["vq_vae", "vector_quantized"])
