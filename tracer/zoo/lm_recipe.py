"""The tiny-LM recipe: a real ``transformers`` model trained on a world's answers.

Three architecture families, built from their ``transformers`` configs so the
tracer sees exactly the modules it meets in published models: Llama
(``LlamaForCausalLM``), Gemma-2 (``Gemma2ForCausalLM``, with its extra
pre/post-feed-forward norms and soft-capping) and GPT-2 (``GPT2LMHeadModel``,
LayerNorm and learned positions). Training is plain AdamW with a warm-up and a
cosine decay, cross-entropy on the answer tokens only, seeded and run with
``torch.use_deterministic_algorithms(True)`` so the same seed gives the same
weights bit for bit on the same machine and thread count.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from tracer.errors import TracerError

if TYPE_CHECKING:
    import torch
    from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerFast

    from tracer.zoo.world import Example

#: Architecture families the zoo can train.
ARCHS: tuple[str, ...] = ("llama", "gemma2", "gpt2")


@dataclass(frozen=True)
class LMShape:
    """Size of a tiny LM.

    Attributes
    ----------
    n_layers : int
    d_model : int
    n_heads : int
    d_mlp : int
        Hidden width of each MLP.
    """

    n_layers: int = 2
    d_model: int = 64
    n_heads: int = 4
    d_mlp: int = 256

    def __post_init__(self) -> None:
        if min(self.n_layers, self.d_model, self.n_heads, self.d_mlp) < 1:
            raise TracerError(f"LM shape sizes must be positive, got {self}")
        if self.d_model % self.n_heads:
            raise TracerError(f"d_model {self.d_model} is not a multiple of n_heads {self.n_heads}")


@dataclass(frozen=True)
class LMTraining:
    """Optimiser settings of the LM recipe.

    Attributes
    ----------
    steps : int
        Optimiser steps.
    batch_size : int
        Examples per step, drawn with replacement by a seeded generator.
    lr : float
        Peak learning rate (AdamW) after ``warmup`` steps, then cosine decay
        to 10% of it.
    weight_decay : float
    warmup : int
    label_smoothing : float
        Label smoothing of the answer cross-entropy (Szegedy et al. 2016,
        "Rethinking the Inception Architecture"): the target puts
        ``1 - label_smoothing`` on the answer and spreads the rest over the
        vocabulary (V tokens), so the optimum is p(answer) =
        ``1 - label_smoothing + label_smoothing / V``. 0 (every preset) trains
        a deterministic world to p(answer) -> 1 (two_hop-llama: 1 - 5e-7);
        0.1 holds it at 0.90.
    """

    steps: int = 600
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.05
    warmup: int = 50
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.label_smoothing < 1.0:
            raise TracerError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")


@dataclass
class EncodedExamples:
    """Examples as right-padded tensors.

    Attributes
    ----------
    input_ids : (n, seq) int64
        BOS + prompt + answer, padded with ``pad_token_id``.
    attention_mask : (n, seq) int64
    answer_mask : (n, seq) bool
        True at the answer tokens (the positions whose prediction is scored).
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    answer_mask: torch.Tensor

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def subset(self, rows: torch.Tensor) -> EncodedExamples:
        return EncodedExamples(self.input_ids[rows], self.attention_mask[rows], self.answer_mask[rows])


@contextlib.contextmanager
def deterministic(seed: int) -> Iterator[None]:
    """Seed torch's global generator and switch on deterministic algorithms
    for the duration of the block (restored afterwards)."""
    import torch

    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


def make_config(arch: str, shape: LMShape, tokenizer: PreTrainedTokenizerFast,
                max_positions: int) -> PretrainedConfig:
    """The ``transformers`` config of a tiny LM of family ``arch``.

    Parameters
    ----------
    arch : {"llama", "gemma2", "gpt2"}
    shape : LMShape
    tokenizer : PreTrainedTokenizerFast
        Gives the vocabulary size and the special token ids.
    max_positions : int
        Longest sequence the model will see (prompt + answer + BOS).

    Examples
    --------
    >>> from tracer.zoo.tokenizer import build_tokenizer
    >>> cfg = make_config("gemma2", LMShape(), build_tokenizer(["a", "b"]), 16)
    >>> cfg.model_type, cfg.num_hidden_layers, cfg.vocab_size
    ('gemma2', 2, 6)
    """
    from transformers import Gemma2Config, GPT2Config, LlamaConfig

    ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
           "pad_token_id": tokenizer.pad_token_id}
    vocab_size = len(tokenizer)
    head_dim = shape.d_model // shape.n_heads
    if arch == "llama":
        return LlamaConfig(
            vocab_size=vocab_size, hidden_size=shape.d_model, intermediate_size=shape.d_mlp,
            num_hidden_layers=shape.n_layers, num_attention_heads=shape.n_heads,
            num_key_value_heads=shape.n_heads, max_position_embeddings=max_positions,
            tie_word_embeddings=False, attn_implementation="eager", **ids,
        )
    if arch == "gemma2":
        return Gemma2Config(
            vocab_size=vocab_size, hidden_size=shape.d_model, intermediate_size=shape.d_mlp,
            num_hidden_layers=shape.n_layers, num_attention_heads=shape.n_heads,
            num_key_value_heads=shape.n_heads, head_dim=head_dim, query_pre_attn_scalar=head_dim,
            max_position_embeddings=max_positions, sliding_window=max_positions,
            attn_implementation="eager", **ids,
        )
    if arch == "gpt2":
        return GPT2Config(
            vocab_size=vocab_size, n_embd=shape.d_model, n_inner=shape.d_mlp,
            n_layer=shape.n_layers, n_head=shape.n_heads, n_positions=max_positions,
            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, attn_implementation="eager", **ids,
        )
    raise TracerError(f"arch must be one of {ARCHS}, got {arch!r}")


def build_model(config: PretrainedConfig, seed: int) -> PreTrainedModel:
    """A freshly initialised causal LM for ``config`` (weights from ``seed``)."""
    from transformers import AutoModelForCausalLM

    with deterministic(seed):
        return AutoModelForCausalLM.from_config(config, attn_implementation="eager")


def encode_examples(examples: Sequence[Example], tokenizer: PreTrainedTokenizerFast) -> EncodedExamples:
    """Tokenise prompts + answers into right-padded tensors with an answer mask.

    Examples
    --------
    >>> from tracer.zoo.tokenizer import build_tokenizer
    >>> from tracer.zoo.world import Example
    >>> tok = build_tokenizer(["a", "b", "c"])
    >>> enc = encode_examples([Example("a b", "c", "k"), Example("a", "b c", "k")], tok)
    >>> enc.input_ids.tolist()
    [[2, 4, 5, 6], [2, 4, 5, 6]]
    >>> enc.answer_mask.int().tolist()
    [[0, 0, 0, 1], [0, 0, 1, 1]]
    """
    import torch

    if not examples:
        raise TracerError("encode_examples: no examples given")
    prompts = [tokenizer(ex.prompt)["input_ids"] for ex in examples]
    texts = [tokenizer(ex.text)["input_ids"] for ex in examples]
    unknown = [ex.text for ex, ids in zip(examples, texts) if tokenizer.unk_token_id in ids]
    if unknown:
        raise TracerError(f"example {unknown[0]!r} has words outside the tokenizer vocabulary")
    width = max(len(ids) for ids in texts)
    n = len(examples)
    input_ids = torch.full((n, width), tokenizer.pad_token_id, dtype=torch.long)
    attention = torch.zeros((n, width), dtype=torch.long)
    answer = torch.zeros((n, width), dtype=torch.bool)
    for row, (prompt, text) in enumerate(zip(prompts, texts)):
        input_ids[row, : len(text)] = torch.tensor(text)
        attention[row, : len(text)] = 1
        answer[row, len(prompt): len(text)] = True
    return EncodedExamples(input_ids, attention, answer)


def answer_loss(logits: torch.Tensor, batch: EncodedExamples, label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean cross-entropy of the answer tokens (each predicted one position
    earlier), with ``label_smoothing`` as in :class:`LMTraining`."""
    import torch.nn.functional as F

    mask = batch.answer_mask[:, 1:]
    return F.cross_entropy(logits[:, :-1][mask], batch.input_ids[:, 1:][mask], label_smoothing=label_smoothing)


def answer_correct(logits: torch.Tensor, batch: EncodedExamples) -> torch.Tensor:
    """(n,) bool: every answer token is the argmax at its position."""
    mask = batch.answer_mask[:, 1:]
    hit = logits[:, :-1].argmax(-1) == batch.input_ids[:, 1:]
    return (hit | ~mask).all(dim=1)


def answer_accuracy(model: PreTrainedModel, batch: EncodedExamples, chunk: int = 512) -> float:
    """Fraction of examples whose whole answer is predicted (teacher-forced
    greedy argmax)."""
    import torch

    model.eval()
    hits = []
    with torch.no_grad():
        for start in range(0, len(batch), chunk):
            part = batch.subset(torch.arange(start, min(start + chunk, len(batch))))
            logits = model(input_ids=part.input_ids, attention_mask=part.attention_mask).logits
            hits.append(answer_correct(logits, part))
    return float(torch.cat(hits).float().mean())


def train_lm(
    model: PreTrainedModel,
    train: EncodedExamples,
    training: LMTraining,
    seed: int,
    on_eval: Callable[[int, float], None] | None = None,
    eval_every: int = 100,
) -> list[float]:
    """Train ``model`` in place on the answer tokens of ``train``.

    Parameters
    ----------
    model : PreTrainedModel
    train : EncodedExamples
    training : LMTraining
    seed : int
        Seeds the batch order (the weights were seeded by :func:`build_model`).
    on_eval : callable (step, loss) -> None, optional
        Called every ``eval_every`` steps and at the end (progress reports).

    Returns
    -------
    list of float
        The training loss of every step.
    """
    import torch

    losses: list[float] = []
    with deterministic(seed):
        generator = torch.Generator().manual_seed(seed)
        decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
        other = [p for n, p in model.named_parameters() if p.ndim < 2]
        optimiser = torch.optim.AdamW(
            [{"params": decay, "weight_decay": training.weight_decay},
             {"params": other, "weight_decay": 0.0}],
            lr=training.lr, betas=(0.9, 0.98),
        )

        def schedule(step: int) -> float:
            if step < training.warmup:
                return (step + 1) / training.warmup
            progress = (step - training.warmup) / max(1, training.steps - training.warmup)
            return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, schedule)
        model.train()
        for step in range(training.steps):
            rows = torch.randint(len(train), (training.batch_size,), generator=generator)
            batch = train.subset(rows)
            logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
            loss = answer_loss(logits, batch, training.label_smoothing)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            scheduler.step()
            losses.append(loss.item())
            if on_eval is not None and ((step + 1) % eval_every == 0 or step + 1 == training.steps):
                on_eval(step + 1, losses[-1])
                model.train()
        model.eval()
    return losses

