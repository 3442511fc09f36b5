"""General abilities of a model after many edits ("Should we really edit?"): built-in suites that need no download,
an lm-evaluation-harness bridge (:mod:`amend.abilities.harness`, optional extra), and the run that measures them at
checkpoints of one sequential editing run."""

from amend.abilities.base import Ability, AbilityResult
from amend.abilities.builtin import FluencyAbility, KnownFactsAbility, QuestionAbility
from amend.abilities.runner import DEFAULT_COUNTS, AbilityRun, AbilitySettings, run_abilities
from amend.abilities.suites import TEXT_ABILITIES, WORLD_ABILITIES, text_abilities, world_abilities, world_facts

__all__ = [
    "DEFAULT_COUNTS",
    "TEXT_ABILITIES",
    "WORLD_ABILITIES",
    "Ability",
    "AbilityResult",
    "AbilityRun",
    "AbilitySettings",
    "FluencyAbility",
    "KnownFactsAbility",
    "QuestionAbility",
    "run_abilities",
    "text_abilities",
    "world_abilities",
    "world_facts",
]
