"""Statistics of a model's activations (second moments now; null-space projectors next), cached on disk."""

from amend.stats.cache import EditedStatisticsWarning, StatsCache, default_cache_dir
from amend.stats.corpus import Corpus
from amend.stats.second_moment import SecondMoment, StatsSettings, collect_second_moments

__all__ = [
    "Corpus",
    "EditedStatisticsWarning",
    "SecondMoment",
    "StatsCache",
    "StatsSettings",
    "collect_second_moments",
    "default_cache_dir",
]
