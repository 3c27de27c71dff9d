"""tfae-plugin-template: a spherical bottleneck, an L1 regularizer and a geometric scheduler for tfae."""
