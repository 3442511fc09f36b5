"""GRACE: a codebook of value vectors with deferral radii at one sub-layer (Hartvigsen et al., NeurIPS 2023)."""
