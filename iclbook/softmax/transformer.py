"""A small standard softmax transformer for in-context tasks (chapters 9-10).

Unlike the closed-form models of Settings 1 and 2 (chapters 3-8), this is an ordinary
transformer: softmax multi-head attention, LayerNorm and an MLP in every layer.  No closed
form is claimed for it; the book trains it and compares its behaviour with the theory
qualitatively (chapter 9 on sparse parity, chapter 10 on in-context classification).

**Prompt.** Context pairs ``(x_i, y_i)``, ``i = 1..N``, and a query ``x_q``:
``x`` of shape (B, N, d_x), ``y`` of shape (B, N) (labels in {-1, +1} or real values) and
``x_q`` of shape (B, d_x).

**Tokens.** Each pair becomes one token ``t_i = (x_i, y_i, 0)`` and the query becomes
``t_q = (x_q, 0, 1)``: the input and the label are concatenated and a last coordinate flags
the query (needed because a real label may itself be 0).  A linear map embeds the
``d_x + 2`` coordinates in ``width`` dimensions.

**Order.** By default there is *no* positional encoding: an in-context training set is a
set, so the output is invariant to permuting the context pairs (each layer is
permutation-equivariant and the query token is found by its flag, not its position).
``positional=True`` adds a learned position embedding (context positions ``0..N-1``, query
at position ``N``), which breaks that invariance and limits ``N`` to ``max_context``.

**Layers.** ``n_layers`` pre-LayerNorm encoder blocks (:class:`torch.nn.TransformerEncoderLayer`,
``norm_first=True``, GELU MLP of width ``mlp_ratio * width``, no dropout), bidirectional
attention, then a final LayerNorm and a linear read-out of the *query token*: one real
score per prompt, ``f(x, y, x_q)`` of shape (B,); for labels in {-1, +1} its sign is the
predicted class.  Since only the query token is read, the last block computes its output
at the query token alone (the same numbers, less work).

* :class:`SoftmaxICLTransformer` -- the model (deterministic given ``seed``).
* :func:`train_in_context` -- trains it with :func:`iclbook.core.engine.train_family`
  (Adam, cosine schedule, squared loss on fresh prompts each step).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..core.engine import TrainingHistory, train_family
from ..core.reproducibility import torch_threads
from ..core.validation import check_nonnegative, check_positive_int

__all__ = ["SoftmaxICLTransformer", "train_in_context", "PromptBatch"]

#: ``((x, y, x_q), y_q)``: what a sampler for :func:`train_in_context` returns.
PromptBatch = tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


class SoftmaxICLTransformer(nn.Module):
    """A standard softmax transformer that reads a prompt of (x, y) pairs and a query.

    Parameters: ``d_x`` input dimension; ``n_layers`` encoder blocks (default 2);
    ``n_heads`` attention heads per block; ``width`` model dimension (a multiple of
    ``n_heads``); ``mlp_ratio`` MLP hidden width as a multiple of ``width``;
    ``positional`` adds learned position embeddings (breaks permutation invariance);
    ``max_context`` the largest ``N`` accepted when ``positional`` is on; ``seed`` fixes the
    initial weights (the global random state is left untouched).

    ``forward(x, y, x_q)`` returns the query score, shape (B,).  See the module docstring
    for the token layout (chapter 10, "a standard transformer").
    """

    def __init__(self, d_x: int, *, n_layers: int = 2, n_heads: int = 2, width: int = 32,
                 mlp_ratio: int = 4, positional: bool = False, max_context: int = 128,
                 seed: int = 0) -> None:
        super().__init__()
        self.d_x = check_positive_int("d_x", d_x)
        self.n_layers = check_positive_int("n_layers", n_layers)
        self.n_heads = check_positive_int("n_heads", n_heads)
        self.width = check_positive_int("width", width)
        self.mlp_ratio = check_positive_int("mlp_ratio", mlp_ratio)
        self.max_context = check_positive_int("max_context", max_context)
        if self.width % self.n_heads != 0:
            raise ValueError(f"width must be a multiple of n_heads = {self.n_heads}, "
                             f"got width = {self.width}")
        if not isinstance(positional, bool):
            raise ValueError(f"positional must be True or False, got {positional!r}")
        self.positional = positional
        self.seed = int(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.embed = nn.Linear(self.d_x + 2, self.width)
            self.pos = (nn.Parameter(0.02 * torch.randn(self.max_context + 1, self.width))
                        if positional else None)
            self.layers = nn.ModuleList(
                nn.TransformerEncoderLayer(
                    self.width, self.n_heads, dim_feedforward=self.mlp_ratio * self.width,
                    dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
                for _ in range(self.n_layers))
            self.norm = nn.LayerNorm(self.width)
            self.head = nn.Linear(self.width, 1)

    def extra_repr(self) -> str:
        return (f"d_x={self.d_x}, n_layers={self.n_layers}, n_heads={self.n_heads}, "
                f"width={self.width}, positional={self.positional}, seed={self.seed}")

    def n_parameters(self) -> int:
        """Number of trainable parameters (the model's "size")."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def tokens(self, x: torch.Tensor, y: torch.Tensor, x_q: torch.Tensor) -> torch.Tensor:
        """The raw tokens ``(x_i, y_i, 0)`` and ``(x_q, 0, 1)``, shape (B, N+1, d_x+2)."""
        if x.ndim != 3 or x.shape[-1] != self.d_x:
            raise ValueError(f"x must have shape (B, N, d_x={self.d_x}), got {tuple(x.shape)}")
        B, N, _ = x.shape
        if N < 1:
            raise ValueError("x must hold at least one context pair (N >= 1)")
        if y.shape != (B, N):
            raise ValueError(f"y must have shape (B, N) = {(B, N)}, got {tuple(y.shape)}")
        if x_q.shape != (B, self.d_x):
            raise ValueError(f"x_q must have shape (B, d_x) = {(B, self.d_x)}, got "
                             f"{tuple(x_q.shape)}")
        if self.positional and N > self.max_context:
            raise ValueError(f"N must be <= max_context = {self.max_context} with positional "
                             f"encoding, got N = {N}")
        dtype = self.embed.weight.dtype
        x, y, x_q = x.to(dtype), y.to(dtype), x_q.to(dtype)
        ctx = torch.cat([x, y[..., None], torch.zeros_like(y)[..., None]], dim=-1)
        ones = torch.ones(B, 1, dtype=dtype, device=x.device)
        qry = torch.cat([x_q, torch.zeros_like(ones), ones], dim=-1)[:, None, :]
        return torch.cat([ctx, qry], dim=1)

    def forward(self, x: torch.Tensor, y: torch.Tensor, x_q: torch.Tensor) -> torch.Tensor:
        """The score of the query, shape (B,); its sign is the predicted label."""
        h = self.embed(self.tokens(x, y, x_q))
        if self.pos is not None:
            n = h.shape[1] - 1
            idx = torch.cat([torch.arange(n), torch.tensor([self.max_context])])
            h = h + self.pos[idx.to(h.device)]
        for layer in self.layers[:-1]:
            h = layer(h)
        return self.head(self.norm(self._query_block(self.layers[-1], h))).squeeze(-1)

    @staticmethod
    def _query_block(layer: nn.TransformerEncoderLayer, h: torch.Tensor) -> torch.Tensor:
        """The last block's output at the query token only, shape (B, width).

        The read-out uses only the query token, so the last block needs no other output:
        pre-LayerNorm attention of the query against every token, then the MLP on the query
        alone.  The same numbers as ``layer(h)[:, -1]`` (up to rounding) at about two thirds
        of the cost of a training step.
        """
        a = layer.norm1(h)
        z = h[:, -1:, :] + layer.self_attn(a[:, -1:, :], a, a, need_weights=False)[0]
        z = z + layer._ff_block(layer.norm2(z))
        return z[:, -1, :]


class _PackedInputs(nn.Module):
    """Adapter: ``forward((x, y, x_q))`` so that :func:`train_family` can drive one model."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return self.model(*inputs)


def train_in_context(
    model: nn.Module,
    sample_batch: Callable[[torch.Generator], PromptBatch],
    *,
    steps: int,
    lr: float = 1e-3,
    warmup: int = 0,
    seed: int = 0,
    log_every: int = 10,
    progress: bool | None = None,
    desc: str = "training",
    threads: int | None = 1,
) -> TrainingHistory:
    """Pretrain ``model`` on fresh prompts: squared loss ``(f(x, y, x_q) - y_q)^2``.

    ``sample_batch(generator)`` returns ``((x, y, x_q), y_q)`` with the shapes of
    :class:`SoftmaxICLTransformer`.  This is :func:`iclbook.core.engine.train_family` (chapter 5:
    Adam, linear warm-up then cosine decay, a fresh batch every step) applied to a single
    model, i.e. a family of shape ``()``; it returns its :class:`TrainingHistory`
    (``losses`` has one scalar per logged step).  ``model`` is left in ``eval`` mode.
    ``threads``: PyTorch threads during training (default 1, see
    :func:`iclbook.core.reproducibility.torch_threads`;
    ``None`` keeps the current setting).
    """
    steps = check_positive_int("steps", steps)
    lr = check_nonnegative("lr", lr)
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    model.train()
    with torch_threads(threads):
        history = train_family(_PackedInputs(model), sample_batch, steps=steps, lr=lr,
                               warmup=warmup, seed=seed, log_every=log_every,
                               progress=progress, desc=desc)
    model.eval()
    return history
