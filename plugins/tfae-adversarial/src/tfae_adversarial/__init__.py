"""tfae-adversarial: the adversarial autoencoder's regularizer ("aae") and an MS-SSIM reconstruction loss for tfae."""
