"""tfae-vq: the vector-quantised bottleneck of a VQ-VAE for tfae, registered as ``"vq"``."""

from tfae_vq.vector_quantized import VectorQuantizedBottleneck

__version__ = "0.1.0"

__all__ = ["VectorQuantizedBottleneck", "__version__"]
