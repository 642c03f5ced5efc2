"""Network blocks the models are built from.

- `mlp`: the encoder and decoder MLPs of the feed-forward model (Secs. 4-5)
  and the squared norm of weight decay;
- `se_resnet`: DVAE++'s squeeze-and-excitation residual networks (Sec. 6);
- `pyramid`: the image pyramid of the multi-scale decoder;
- `kl_balancing`: DVAE++'s KL balancing (our reconstruction of Appendix H).
"""
