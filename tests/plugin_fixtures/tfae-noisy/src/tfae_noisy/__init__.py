"""tfae-noisy: a tfae plugin that adds ``NoisyBottleneck`` ("noisy")."""
