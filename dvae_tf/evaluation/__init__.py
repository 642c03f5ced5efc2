"""Scoring models and runs.

- `bound`: the importance-weighted bound in the binary limit (Burda et al.
  2015), chunked so 4000 samples per image run in bounded memory;
- `report`: a run directory scored on a split, its per-image NLLs kept, and
  paired comparisons of two runs on the same images;
- `reproduction`: the tables of REPRODUCTION.md, generated from tracked runs.
"""
