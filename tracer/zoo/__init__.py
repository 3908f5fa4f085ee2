"""The tiny model zoo: synthetic worlds with known circuits, tiny LMs and their
transcoders, trained deterministically on CPU.

- :mod:`tracer.zoo.world`: the world interface (``NAME``, ``build_world``)
  and its loader; built-in worlds :mod:`~tracer.zoo.two_hop` ("the capital of
  the state containing X"), :mod:`~tracer.zoo.antonyms` (two languages
  sharing concepts) and :mod:`~tracer.zoo.addition`;
- :mod:`tracer.zoo.tokenizer`: the word-level tokenizer (BOS first);
- :mod:`tracer.zoo.lm_recipe`: Llama / Gemma-2 / GPT-2 configs and the
  answer-token training loop;
- :mod:`tracer.zoo.transcoder_recipe`: TopK PLT and CLT training on MLP
  inputs/outputs, saved in circuit-tracer's layout;
- :mod:`tracer.zoo.evaluation`, :mod:`tracer.zoo.labels`,
  :mod:`tracer.zoo.circuits`: reconstruction and replacement metrics, feature
  labels, concept selectivity and interventions;
- :mod:`tracer.zoo.checkpoint`: recipes, presets, checkpoint directories and
  the shipped ones (``tracer/zoo/checkpoints/<world>-<arch>/``);
- :mod:`tracer.zoo.cli`: ``cgram zoo train`` and ``cgram zoo list``.

Nothing heavy is imported here: torch and transformers load with the
sub-modules that need them.
"""

from __future__ import annotations
