"""MINE: Mutual Information Neural Estimation, its loss variants and MI-regularized GANs.

The package behind the report reproducing "Enhancing Mutual Information Neural
Estimation: Theoretical Insights and Practical Applications" (Li Ge), built on
Belghazi et al., "MINE: Mutual Information Neural Estimation" (ICML 2018).
"""

__version__ = "0.1.0"

__all__ = ["MIEstimate", "estimate_mi", "__version__"]


def __getattr__(name: str):
    """`mine.estimate_mi` and `mine.MIEstimate`, imported on first use so that the command
    line (`python -m mine list`) does not load torch."""
    if name in ("estimate_mi", "MIEstimate"):
        from mine import estimate

        return getattr(estimate, name)
    raise AttributeError(f"module 'mine' has no attribute {name!r}")
