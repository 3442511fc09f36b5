"""All model-architecture knowledge: the component table and weight orientation."""

from amend.architectures.anatomy import Anatomy, Component, Site, anatomy
from amend.architectures.spec import ArchSpec
from amend.architectures.table import ARCHITECTURES, spec_for

__all__ = ["ARCHITECTURES", "Anatomy", "ArchSpec", "Component", "Site", "anatomy", "spec_for"]
