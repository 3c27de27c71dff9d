"""tfae-adversarial: the adversarial autoencoder's regularizer ("aae") and the MS-SSIM, RAE-L2 and RAE-GP
objectives ("msssim", "rae_l2", "rae_gp") for tfae."""
