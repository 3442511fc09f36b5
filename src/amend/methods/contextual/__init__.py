"""What the contextual methods (SCR, IKE) share: the sentence a request's fact is stored as, the store index kept
equal to a model's context memory, and prompts in a chat template."""

from amend.methods.contextual.index import MemoryIndex, fact_sentence
from amend.methods.contextual.prompts import as_chat

__all__ = ["MemoryIndex", "as_chat", "fact_sentence"]
