"""BalancEdit: a codebook whose radius is set per fact from a positive and a negative sample (Guo et al., ICML
2025)."""
