"""IKE's configuration (Zheng et al., EMNLP 2023; spec memory-incontext-eval.md §5)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from amend.errors import ConfigError
from amend.methods.config import option
from amend.methods.contextual.base import ContextualConfig


@dataclasses.dataclass(frozen=True)
class IkeConfig(ContextualConfig):
    """IKE: an edit stores the new fact; every query is asked after ``demonstrations`` examples drawn from a pool of
    other facts (copy : update : retain = 1 : 3 : 4, the nearest to the new fact last), a copy of the new fact
    itself, and the new fact with the query. Defaults are the original's (k = 32, all-MiniLM-L6-v2, its
    "New Fact: … Prompt: …" format). ``retrieval`` finds the stored fact a query is about (with many stored);
    the demonstrations are always ranked by the embedder."""

    method: ClassVar[str] = "ike"
    PATH_FIELDS: ClassVar[tuple[str, ...]] = ("pool_path",)
    TEMPLATES: ClassVar[dict[str, tuple[str, ...]]] = {
        **ContextualConfig.TEMPLATES,
        "demo_template": ("{fact}", "{prompt}"),
    }

    fact_template: str = option("{prompt} {target}", "The new fact as stated ({prompt}: the filled prompt).")
    demonstrations: int = option(32, "k, the demonstrations before the new fact (EasyEdit uses 16).")
    pool_path: str = option(
        "", "A dataset file of requests the demonstrations are made from ('': the testbed's own, for its models)."
    )
    pool_format: str = option("counterfact-easyedit", "The format of pool_path (a name of amend's dataset registry).")
    pool_size: int = option(2000, "Pool requests used (the first ones of the file, or drawn from the testbed).")
    pool_seed: int = option(1, "Seed of the testbed's pool (its test requests are drawn with seed 0).")
    demo_template: str = option("New Fact: {fact}\nPrompt: {prompt}", "One demonstration ({fact}, {prompt}).")
    separator: str = option("\n\n", "Between demonstrations.")
    facts_per_query: int = option(
        1, "Stored facts nearest the query put in its prompt as one new fact, nearest last (document edits: all)."
    )
    seed: int = option(0, "Seed of the shuffle that gives the demonstrations their types.")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.demonstrations < 0 or self.pool_size < 1 or self.facts_per_query < 1:
            raise ConfigError("demonstrations must be ≥ 0, pool_size and facts_per_query ≥ 1")
