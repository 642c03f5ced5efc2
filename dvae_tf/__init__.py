"""dvae_tf: DVAE++ (Vahdat et al., ICML 2018) in TensorFlow 2.

From the bottom up (no module imports one above it):

- `distributions`: the overlapping smoothing transformations (Sec. 3,
  Appendices A-B), Rolfe's spike-and-exponential smoothing and the
  Boltzmann machine on any graph (Sec. 5; `graphs`), the RBM its complete
  bipartite case, as TensorFlow Probability distributions, with annealed
  importance sampling of log Z; `ocean` connects them to dimod samplers.
- `math` (`smoothing`, `latents`, `posterior`, `objectives`,
  `log_z_gradient`, `rolfe_gradient`, `gradient_variance`) and `priors`:
  the pieces of a discrete VAE; smoothings, latent types and priors are
  registries of named classes.
- `networks` (`mlp`, `se_resnet`, `pyramid`, `kl_balancing`): the blocks
  the models are built from.
- `models`: `DiscreteVAE` and its two models, `FeedForwardDVAE` (Secs. 4-5)
  and `DVAEpp` (Sec. 6); `models.config` describes and builds either.
- `data`, `train_config`, `run_directory`, `evaluation` (`bound`, `report`,
  `reproduction`), `export`: datasets, how to train (`TrainConfig`), what a
  run directory is (its config record, checkpoints, best checkpoint,
  training mean, and `restore_model`), the importance-weighted bound,
  scored run directories and the generated tables, SavedModels; `presets`
  names the paper's experiments.
- `training`: the loop of `dvae-train` (steps, then one hook per concern);
  only the programs import it: `binaries` (the command-line programs and
  their flags, `binaries.cli`) and `benchmarks` (their measurements). The
  models also train with Keras' own `fit`.
"""

__version__ = '0.1.0'
