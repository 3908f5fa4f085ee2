"""Train TopK transcoders (per-layer, skip and cross-layer) on a tiny LM's MLPs.

A transcoder reads the input of a layer's HF ``mlp`` module (after the
pre-MLP norm) and predicts the module's output (before Gemma-2's
post-feed-forward norm) through a wide, sparse feature layer:

    a_l   = TopK_k(W_enc_l x_l + b_enc_l)                            (n_features,)
    PLT:  y_l ~ W_dec_l^T a_l + b_dec_l
    skip: y_l ~ W_dec_l^T a_l + b_dec_l + W_skip_l x_l
    CLT:  y_j ~ sum_{l <= j} W_dec_l[:, j - l]^T a_l + b_dec_j

(Dunefsky et al. 2024, "Transcoders find interpretable LLM feature circuits";
Ameisen et al. 2025, "Circuit Tracing", cross-layer transcoders; Gao et al.
2024, "Scaling and evaluating sparse autoencoders", TopK; Paulo, Shabalin &
Belrose 2025, "Transcoders beat sparse autoencoders for interpretability",
arXiv:2501.18823, skip transcoders; Bricken et al.
2023, "Towards Monosemanticity", resampling of dead features.) All layers
train at once as batched tensors.

Here live only the *training* parameters and their training forward pass.
The result is handed to :class:`tracer.transcoders.Transcoders` and saved by
:func:`tracer.transcoders.save_transcoders` (circuit-tracer's layout); every
evaluation reads the saved files back through that loader, the project's one
inference implementation of transcoders (:mod:`tracer.zoo.evaluation`).
TopK here is circuit-tracer's: the ``k`` largest pre-activations are kept as
they are (``pre * gate``), as :meth:`tracer.transcoders.Transcoders.activate`
computes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from tracer.errors import TracerError

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel

    from tracer.transcoders import Transcoders
    from tracer.zoo.lm_recipe import EncodedExamples

#: Transcoder kinds and their ``model_kind`` in config.yaml.
MODEL_KINDS: dict[str, str] = {"plt": "transcoder_set", "skip": "transcoder_set",
                               "clt": "cross_layer_transcoder"}


@dataclass(frozen=True)
class TranscoderTraining:
    """Settings of the transcoder recipe.

    Attributes
    ----------
    n_features : int
        Features per layer.
    k : int
        Active features per token and layer (TopK).
    steps : int
        Adam steps on mini-batches of stored activations.
    batch_size : int
        Tokens per step.
    lr : float
        Peak learning rate (linear decay to 0 over the last 20% of steps).
    dead_after : int
        A feature that has not fired for this many tokens is re-initialised
        at the next resampling step (10%, 25%, 40% and 55% of training).
    """

    n_features: int = 512
    k: int = 8
    steps: int = 2000
    batch_size: int = 512
    lr: float = 2e-3
    dead_after: int = 20_000

    def __post_init__(self) -> None:
        if not 1 <= self.k <= self.n_features:
            raise TracerError(f"k must be in [1, n_features={self.n_features}], got {self.k}")
        if min(self.steps, self.batch_size) < 1 or self.lr <= 0:
            raise TracerError(f"steps, batch_size and lr must be positive, got {self}")


@dataclass
class MLPActivations:
    """Every layer's MLP input and output at every real token of some texts.

    Attributes
    ----------
    inputs, outputs : (n_layers, n_tokens, d_model) float32
    token_ids : (n_tokens,) int64
    example : (n_tokens,) int64
        Row of the example each token comes from.
    position : (n_tokens,) int64
        Token position in its sequence (0 = BOS).
    """

    inputs: torch.Tensor
    outputs: torch.Tensor
    token_ids: torch.Tensor
    example: torch.Tensor
    position: torch.Tensor

    @property
    def n_layers(self) -> int:
        return int(self.inputs.shape[0])


def mlp_modules(model: PreTrainedModel) -> list[torch.nn.Module]:
    """The per-layer ``mlp`` modules, in layer order, where the tracer's
    family adapter (:mod:`tracer.models`) says they live."""
    from tracer.models import LoadedModel, family_for_config

    located = LoadedModel(hf_model=model, tokenizer=None, family=family_for_config(model.config),
                          name=type(model).__name__)
    return [located.part(layer, "mlp") for layer in range(located.n_layers)]


def collect_mlp_activations(model: PreTrainedModel, batch: EncodedExamples) -> MLPActivations:
    """Run ``model`` on ``batch`` and keep each MLP's input and output at the
    non-padding tokens."""
    import torch

    modules = mlp_modules(model)
    inputs: list[torch.Tensor] = [None] * len(modules)  # type: ignore[list-item]
    outputs: list[torch.Tensor] = [None] * len(modules)  # type: ignore[list-item]

    def hook(layer: int) -> Callable[..., None]:
        def record(module: torch.nn.Module, args: tuple, output: torch.Tensor) -> None:
            inputs[layer], outputs[layer] = args[0].detach(), output.detach()
        return record

    handles = [m.register_forward_hook(hook(i)) for i, m in enumerate(modules)]
    try:
        model.eval()
        with torch.no_grad():
            model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
    finally:
        for handle in handles:
            handle.remove()
    real = batch.attention_mask.bool()
    rows, cols = torch.nonzero(real, as_tuple=True)
    return MLPActivations(
        inputs=torch.stack([x[real] for x in inputs]).float(),
        outputs=torch.stack([y[real] for y in outputs]).float(),
        token_ids=batch.input_ids[real],
        example=rows,
        position=cols,
    )


class TopKTranscoders:
    """Training parameters of a PLT set, a skip transcoder set or a CLT over ``n_layers`` layers.

    Parameters
    ----------
    kind : {"plt", "skip", "clt"}
    n_layers, d_model, n_features, k : int
    seed : int
        Seeds the initial weights.

    Attributes
    ----------
    W_enc : (n_layers, n_features, d_model)
    b_enc : (n_layers, n_features)
    W_dec : PLT (n_layers, n_features, d_model); CLT (n_layers, n_features,
        n_layers, d_model), entry [l, :, j] used only for j >= l
    b_dec : (n_layers, d_model)
    """

    def __init__(self, kind: str, n_layers: int, d_model: int, n_features: int, k: int,
                 seed: int) -> None:
        import torch

        if kind not in MODEL_KINDS:
            raise TracerError(f"transcoder kind must be one of {sorted(MODEL_KINDS)}, got {kind!r}")
        self.kind, self.n_layers, self.k = kind, n_layers, k
        generator = torch.Generator().manual_seed(seed)
        directions = torch.randn(n_layers, n_features, d_model, generator=generator)
        directions /= directions.norm(dim=-1, keepdim=True)
        # Scaled for inputs and outputs of unit variance per dimension.
        self.W_enc = directions.clone().requires_grad_()
        self.b_enc = torch.zeros(n_layers, n_features, requires_grad=True)
        if kind != "clt":
            dec = directions * (d_model ** 0.5 / k)
        else:
            dec = directions[:, :, None, :].repeat(1, 1, n_layers, 1) * (d_model ** 0.5 / k / n_layers)
        self.W_dec = dec.requires_grad_()
        self.b_dec = torch.zeros(n_layers, d_model, requires_grad=True)
        self.W_skip = (torch.zeros(n_layers, d_model, d_model, requires_grad=True)
                       if kind == "skip" else None)
        # CLT: feature of layer l writes only to layers j >= l.
        self.write_mask = torch.triu(torch.ones(n_layers, n_layers))[:, None, :, None]

    def parameters(self) -> list[torch.Tensor]:
        skip = [] if self.W_skip is None else [self.W_skip]
        return [self.W_enc, self.b_enc, self.W_dec, self.b_dec, *skip]

    def preactivations(self, x: torch.Tensor) -> torch.Tensor:
        """(n_layers, n, d_model) MLP inputs -> (n_layers, n, n_features)."""
        import torch

        return torch.einsum("lnd,lfd->lnf", x, self.W_enc) + self.b_enc[:, None, :]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Sparse feature activations (n_layers, n, n_features): the ``k``
        largest pre-activations of each token and layer, zero elsewhere."""
        import torch

        pre = self.preactivations(x)
        gate = torch.zeros_like(pre).scatter(-1, pre.topk(self.k, dim=-1).indices, 1.0)
        return pre * gate

    def decode(self, acts: torch.Tensor, x: torch.Tensor | None = None,
               bias: bool = True) -> torch.Tensor:
        """(n_layers, n, n_features) activations -> (n_layers, n, d_model)
        predicted MLP outputs; a skip set also needs the MLP inputs ``x``
        (n_layers, n, d_model) for its linear path."""
        import torch

        if self.kind == "clt":
            out = torch.einsum("lnf,lfjd->jnd", acts, self.W_dec * self.write_mask)
        else:
            out = torch.einsum("lnf,lfd->lnd", acts, self.W_dec)
        if self.W_skip is not None:
            if x is None:
                raise TracerError("a skip transcoder set decodes from its inputs too: pass x")
            out = out + torch.einsum("lnd,led->lne", x, self.W_skip)
        return out + self.b_dec[:, None, :] if bias else out

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """(n_layers, n, d_model) MLP inputs -> predicted MLP outputs."""
        return self.decode(self.encode(x), x)

    def fold_normalisation(self, in_mean: torch.Tensor, in_scale: torch.Tensor,
                           out_mean: torch.Tensor, out_scale: torch.Tensor) -> None:
        """Rewrite weights trained on ``(x - in_mean) / in_scale`` ->
        ``(y - out_mean) / out_scale`` to act on raw x and predict raw y
        (exact: TopK picks the same features under a positive rescaling).

        Shapes: means (n_layers, d_model), scales (n_layers,).
        """
        import torch

        with torch.no_grad():
            self.W_enc /= in_scale[:, None, None]
            self.b_enc -= torch.einsum("lfd,ld->lf", self.W_enc, in_mean)
            if self.kind == "clt":
                self.W_dec *= out_scale[None, None, :, None]
            else:
                self.W_dec *= out_scale[:, None, None]
            self.b_dec.mul_(out_scale[:, None]).add_(out_mean)
            if self.W_skip is not None:
                # out_scale * ((x - in_mean) / in_scale) @ W^T = x @ W'^T - in_mean @ W'^T
                self.W_skip *= (out_scale / in_scale)[:, None, None]
                self.b_dec -= torch.einsum("ld,led->le", in_mean, self.W_skip)

    def to_transcoders(self, scan: str = "") -> Transcoders:
        """The trained weights as the tracer's :class:`tracer.transcoders.Transcoders`
        (PLT ``W_dec (d_tc, d_model)`` per layer, a skip set's plus ``W_skip
        (d_model, d_model)``; CLT ``W_dec_i (d_tc, n_layers - i, d_model)``),
        reading ``mlp.hook_in`` and writing ``mlp.hook_out``."""
        from tracer.transcoders import Transcoders

        n = self.n_layers
        W_enc, b_enc, W_dec, b_dec = (t.detach() for t in self.parameters()[:4])
        decoders = [W_dec[i, :, i:] if self.kind == "clt" else W_dec[i] for i in range(n)]
        skip = None if self.W_skip is None else [self.W_skip[i].detach().contiguous() for i in range(n)]
        return Transcoders.from_tensors(
            "clt" if self.kind == "clt" else "plt",
            W_skip=skip,
            W_enc=[W_enc[i].contiguous() for i in range(n)],
            W_dec=[d.contiguous() for d in decoders],
            b_enc=[b_enc[i].contiguous() for i in range(n)],
            b_dec=[b_dec[i].contiguous() for i in range(n)],
            feature_input_hook="mlp.hook_in", feature_output_hook="mlp.hook_out",
            activation="topk", k=self.k, scan=scan,
        )


def train_transcoders(
    acts: MLPActivations,
    kind: str,
    training: TranscoderTraining,
    seed: int,
    on_eval: Callable[[int, float], None] | None = None,
    eval_every: int = 250,
) -> TopKTranscoders:
    """Fit a PLT set, a skip transcoder set or a CLT to stored MLP activations.

    Inputs and outputs are standardised per layer (zero mean, unit variance
    per dimension; folded back into the weights at the end), so the loss,
    the mean squared error of every layer's predicted MLP output, weighs
    quiet and loud layers alike and one learning rate suits every family. Features dead for ``dead_after`` tokens are resampled
    a few times early in training (Bricken et al. 2023, "Towards
    Monosemanticity", neuron resampling): their encoder is pointed at an
    input the transcoders reconstruct badly and their decoder at its error.

    Parameters
    ----------
    acts : MLPActivations
    kind : {"plt", "skip", "clt"}
    training : TranscoderTraining
    seed : int
        Seeds the initial weights and the mini-batch order.
    on_eval : callable (step, loss) -> None, optional
        Progress callback, every ``eval_every`` steps.

    Returns
    -------
    TopKTranscoders
    """
    import torch

    from tracer.zoo.lm_recipe import deterministic

    n_layers, n_tokens, d_model = acts.inputs.shape
    in_mean, out_mean = acts.inputs.mean(dim=1), acts.outputs.mean(dim=1)
    in_scale = acts.inputs.var(dim=1).mean(-1).sqrt().clamp_min(1e-8)
    out_scale = acts.outputs.var(dim=1).mean(-1).sqrt().clamp_min(1e-8)
    normalised = MLPActivations(
        (acts.inputs - in_mean[:, None]) / in_scale[:, None, None],
        (acts.outputs - out_mean[:, None]) / out_scale[:, None, None],
        acts.token_ids, acts.example, acts.position,
    )
    with deterministic(seed):
        tc = TopKTranscoders(kind, n_layers, d_model, training.n_features, training.k, seed)
        optimiser = torch.optim.Adam(tc.parameters(), lr=training.lr)
        decay_start = int(0.8 * training.steps)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimiser,
            lambda step: 1.0 if step < decay_start
            else max(0.0, (training.steps - step) / max(1, training.steps - decay_start)),
        )
        generator = torch.Generator().manual_seed(seed)
        since_fired = torch.zeros(n_layers, training.n_features)
        resample_at = {int(training.steps * f) for f in (0.1, 0.25, 0.4, 0.55)}
        for step in range(training.steps):
            if step in resample_at:
                dead = since_fired >= training.dead_after
                _resample_dead(tc, optimiser, normalised, dead, generator)
                since_fired[dead] = 0.0
            rows = torch.randint(n_tokens, (training.batch_size,), generator=generator)
            x, y = normalised.inputs[:, rows], normalised.outputs[:, rows]
            feats = tc.encode(x)
            loss = ((y - tc.decode(feats, x)) ** 2).mean()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            scheduler.step()
            fired = (feats != 0).any(dim=1)
            since_fired = torch.where(fired, 0.0, since_fired + training.batch_size)
            if on_eval is not None and ((step + 1) % eval_every == 0 or step + 1 == training.steps):
                on_eval(step + 1, loss.item())
    for tensor in tc.parameters():
        tensor.requires_grad_(False)
    tc.fold_normalisation(in_mean, in_scale, out_mean, out_scale)
    return tc


def _resample_dead(tc: TopKTranscoders, optimiser: torch.optim.Optimizer, acts: MLPActivations,
                   dead: torch.Tensor, generator: torch.Generator, n_sample: int = 4096) -> None:
    """Re-initialise the ``dead`` (n_layers, n_features) features on tokens
    drawn with probability proportional to their squared reconstruction
    error, and clear their Adam moments."""
    import torch

    if not dead.any():
        return
    with torch.no_grad():
        rows = torch.randint(acts.inputs.shape[1], (n_sample,), generator=generator)
        x = acts.inputs[:, rows]
        error = acts.outputs[:, rows] - tc.predict(x)
        for layer in torch.nonzero(dead.any(dim=1)).flatten().tolist():
            index = torch.nonzero(dead[layer]).flatten()
            pick = torch.multinomial((error[layer] ** 2).sum(-1) + 1e-12, index.numel(),
                                     replacement=True, generator=generator)
            alive = ~dead[layer]
            enc_norm = tc.W_enc[layer, alive].norm(dim=-1).mean() if alive.any() else 1.0
            centred = x[layer, pick] - x[layer].mean(dim=0)
            direction = centred / centred.norm(dim=-1, keepdim=True).clamp_min(1e-8)
            # Fires only near the chosen token: zero pre-activation at the mean input.
            tc.W_enc[layer, index] = direction * enc_norm
            tc.b_enc[layer, index] = -(direction * enc_norm * x[layer].mean(dim=0)).sum(-1)
            activation = (centred * direction).sum(-1, keepdim=True) * enc_norm
            target = error[layer, pick] / activation.clamp_min(1e-3)
            if tc.kind == "clt":
                tc.W_dec[layer, index] = 0.0
                tc.W_dec[layer, index, layer] = target
            else:
                tc.W_dec[layer, index] = target
            for param in (tc.W_enc, tc.b_enc, tc.W_dec):  # the per-feature tensors
                for moment in optimiser.state.get(param, {}).values():
                    if moment.shape == param.shape:
                        moment[layer, index] = 0.0


def save_trained(tc: TopKTranscoders, out: Path, scan: str, model_name: str) -> Path:
    """Write trained transcoders with :func:`tracer.transcoders.save_transcoders`
    (``config.yaml`` with ``activation: topk`` and ``k``, plus safetensors)."""
    from tracer.transcoders import save_transcoders

    return save_transcoders(tc.to_transcoders(scan), out, model_name=model_name)
