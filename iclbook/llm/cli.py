"""Command line of the language-model harness: ``python -m iclbook.llm`` (chapter 10).

Example (a reader with two local Llama-family checkpoints and a GPU)::

    python -m iclbook.llm --model /models/llama-7b --model /models/llama-7b-chat \\
        --dataset book --k 16 --flip 0 0.25 0.5 0.75 1 --input-noise 0 \\
        --n-queries 200 --out results/

Writes ``results.csv``, ``results.json``, ``predictions.csv`` and ``accuracy_vs_flip.png``
in ``--out`` and prints the accuracy table.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .datasets import load_dataset
from .experiment import RESULT_FIELDS, run_experiment
from .prompts import PromptTemplate

__all__ = ["main", "build_parser"]


def _unescape(s: str) -> str:
    return s.replace("\\n", "\n").replace("\\t", "\t")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m iclbook.llm``."""
    p = argparse.ArgumentParser(
        prog="python -m iclbook.llm",
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
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--unbalanced", action="store_true",
                   help="draw demonstrations uniformly instead of balanced over classes")
    p.add_argument("--chat-template", action="store_true",
                   help="wrap prompts in the tokenizer's chat template")
    p.add_argument("--device", default=None, help="e.g. cpu, cuda:0 (default: auto)")
    p.add_argument("--dtype", default=None, choices=["auto", "float32", "float16", "bfloat16"])
    p.add_argument("--out", default="results", help="output folder")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the experiment; argument errors are printed as ``error: ...`` with exit code 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
                              chat_template=args.chat_template)
    except ValueError as err:
        parser.error(str(err))
    print("\t".join(RESULT_FIELDS))
    for r in rows:
        print("\t".join(f"{r[f]:.4g}" if isinstance(r[f], float) else str(r[f])
                        for f in RESULT_FIELDS))
    print(f"results written to {args.out}", file=sys.stderr)
    return 0
