"""tfae-plugin-template: a spherical bottleneck, L1 and uniformity regularizers and a geometric scheduler for tfae."""
