"""The disentangling VAE family for tfae, as regularizers registered by name through tfae's entry points."""
