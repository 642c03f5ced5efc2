"""The mathematics of a discrete VAE, above the distributions.

- `smoothing`: the registry of smoothing transformations (Sec. 3);
- `latents`: latent types (smoothed binary or Normal units);
- `posterior`: the hierarchical posterior of Fig. 2(d);
- `objectives`: the KL terms of Eqs. 4-5 and Sec. 5 (on any graph);
- `log_z_gradient`: the PCD gradient of log Z (Appendix E);
- `rolfe_gradient`: Rolfe's (2016) gradient under spike-and-exponential
  smoothing;
- `gradient_variance`: the variance of gradient estimators (Sec. 7.1).
"""
