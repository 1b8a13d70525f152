"""MINE: Mutual Information Neural Estimation, its loss variants and MI-regularized GANs.

The package behind the report reproducing "Enhancing Mutual Information Neural
Estimation: Theoretical Insights and Practical Applications" (Li Ge), built on
Belghazi et al., "MINE: Mutual Information Neural Estimation" (ICML 2018).
"""

__version__ = "0.1.0"
