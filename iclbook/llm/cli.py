"""Command line of the language-model harness: ``python -m iclbook.llm`` (chapter 10).

Example (a reader with two local Llama-family checkpoints and a GPU)::

    python -m iclbook.llm --model /models/llama-7b --model /models/llama-7b-chat \\
        --dataset book --k 16 --flip 0 0.25 0.5 0.75 1 --input-noise 0 \\
        --n-queries 200 --out results/

Also installed as the console script ``iclbook-llm``.  Every model path or hub name, the
dataset and the output folder are checked before the first model loads.  After each model,
``results.csv``, ``results.json`` (configuration and provenance), ``predictions.csv`` and
``accuracy_vs_flip.png`` are rewritten in ``--out`` (per-model copies in
``--out/models/<name>/``); ``--resume`` continues an interrupted run.  Prints the accuracy
table at the end.

Exit codes: 0 success; 2 usage errors (a bad flag or value, a missing model folder or
dataset, an output folder that holds another run), found before any model loads; 1 runtime
errors (a model that fails to load or runs out of memory), printed as one line, with the
models completed so far kept in ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .datasets import load_dataset
from .experiment import RESULT_FIELDS
from .prompts import PromptTemplate
from .runner import run_experiment

__all__ = ["main", "build_parser"]


def _unescape(s: str) -> str:
    return s.replace("\\n", "\n").replace("\\t", "\t")


def _batch_size(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer or 'auto', got "
                                         f"{value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer or 'auto', got {n}")
    return n


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m iclbook.llm``."""
    p = argparse.ArgumentParser(
        prog="iclbook-llm",
        description="In-context classification with flipped demonstration labels "
                    "(Wei et al. 2023 protocol) on any Hugging Face causal language model.")
    p.add_argument("--model", action="append", required=True,
                   help="local folder or hub name of a causal LM (repeat for several)")
    p.add_argument("--name", action="append", default=None,
                   help="display name of each --model, in the same order")
    p.add_argument("--dataset", default="book",
                   help="'book' (the book's sentiment sentences) or a .csv/.jsonl file")
    p.add_argument("--text-column", default="text")
    p.add_argument("--label-column", default="label")
    p.add_argument("--label-names", nargs="+", default=None,
                   help="label values of the file in class order (default: sorted)")
    p.add_argument("--verbalizers", nargs="+", default=None,
                   help="label word of each class in prompts (default: the label names)")
    p.add_argument("--template", default="Input: {input}\\nOutput: {label}",
                   help="demonstration format with {input} and {label} (\\n allowed)")
    p.add_argument("--separator", default="\\n\\n", help="text between demonstrations")
    p.add_argument("--k", type=int, default=16, help="number of demonstrations")
    p.add_argument("--flip", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0],
                   help="fractions of flipped demonstration labels")
    p.add_argument("--input-noise", type=float, nargs="+", default=[0.0],
                   help="fractions of words replaced in each demonstration")
    p.add_argument("--n-queries", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=_batch_size, default=8,
                   help="prompts per forward pass, or 'auto': the largest that fits, halved "
                        "on out-of-memory (default 8)")
    p.add_argument("--unbalanced", action="store_true",
                   help="draw demonstrations uniformly instead of balanced over classes")
    p.add_argument("--chat-template", action="store_true",
                   help="wrap prompts in the tokenizer's chat template")
    p.add_argument("--device", default=None,
                   help="cpu, cuda, cuda:N or mps (default: cuda when available, spread over "
                        "the GPUs, else mps, else cpu)")
    p.add_argument("--dtype", default=None, choices=["auto", "float32", "float16", "bfloat16"])
    p.add_argument("--revision", action="append", default=None,
                   help="hub revision (branch, tag or commit): once for every model, or once "
                        "per --model in the same order")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="allow models whose code lives in their hub repository")
    p.add_argument("--out", default="results", help="output folder")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--resume", action="store_true",
                       help="continue a run in --out: models with complete results are "
                            "skipped")
    group.add_argument("--overwrite", action="store_true",
                       help="replace the results of an earlier run in --out")
    return p


def _say(message: str) -> None:
    print(f"iclbook-llm: error: {' '.join(str(message).split())}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the experiment; returns the exit code (see the module docstring).

    Errors of the argument parser exit with code 2 and the usage text; checks of the values
    (before any model loads) print one line and return 2; runtime failures print one line
    and return 1.
    """
    from .runner import HarnessError

    parser = build_parser()
    args = parser.parse_args(argv)
    revisions = args.revision
    if revisions is not None:
        if len(revisions) == 1:
            revisions = revisions * len(args.model)
        elif len(revisions) != len(args.model):
            _say(f"--revision must be given once or once per --model ({len(args.model)}), "
                 f"got {len(revisions)}")
            return 2
    try:
        dataset = load_dataset(args.dataset, text_column=args.text_column,
                               label_column=args.label_column, label_names=args.label_names)
        template = PromptTemplate(_unescape(args.template), _unescape(args.separator),
                                  tuple(args.verbalizers) if args.verbalizers else None)
        rows = run_experiment(args.model, dataset, k=args.k, flips=args.flip,
                              input_noises=args.input_noise, n_queries=args.n_queries,
                              seed=args.seed, template=template, balanced=not args.unbalanced,
                              batch_size=args.batch_size, names=args.name, out_dir=args.out,
                              device=args.device, dtype=args.dtype,
                              chat_template=args.chat_template, revisions=revisions,
                              trust_remote_code=args.trust_remote_code, resume=args.resume,
                              overwrite=args.overwrite)
    except ValueError as err:
        _say(str(err))
        return 2
    except HarnessError as err:
        _say(str(err))
        return 1
    except KeyboardInterrupt:
        _say(f"interrupted; completed models are kept in {args.out} (rerun with --resume)")
        return 130
    except Exception as err:  # noqa: BLE001 - any other failure: one line, exit 1
        _say(f"{type(err).__name__}: {err}")
        return 1
    print("\t".join(RESULT_FIELDS))
    for r in rows:
        print("\t".join(f"{r[f]:.4g}" if isinstance(r[f], float) else str(r[f])
                        for f in RESULT_FIELDS))
    print(f"results written to {args.out}", file=sys.stderr)
    return 0
