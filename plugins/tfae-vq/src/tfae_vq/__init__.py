"""tfae-vq: the vector-quantised bottleneck of a VQ-VAE for tfae, registered as ``"vq"``.

Installed, it needs no import: ``Autoencoder(bottleneck={"name": "vq", "latent_dim": 8, "codebook_size": 64})``
and a ``tfae train`` config naming ``"vq"`` find it through its ``tfae`` entry point.
"""

from tfae_vq.vector_quantized import VectorQuantizedBottleneck

__all__ = ["VectorQuantizedBottleneck"]
