"""The language-model interface evaluation observes models through, and its backends."""

from amend.lm.base import LanguageModel, Prompt, Scored, VisualPrompt, prompt_text
from amend.lm.contextual import ContextualLM, all_facts
from amend.lm.hf_causal import CausalLM

__all__ = ["CausalLM", "ContextualLM", "LanguageModel", "Prompt", "Scored", "VisualPrompt", "all_facts", "prompt_text"]
