"""The book's own run: the paper's protocol on a base and a chat model of two sizes.

Usage (a GPU machine with four local checkpoints, e.g. of the Llama 2 family)::

    python scripts/run_llm_book_protocol.py \\
        --base-small /models/Llama-2-7b-hf  --chat-small /models/Llama-2-7b-chat-hf \\
        --base-large /models/Llama-2-13b-hf --chat-large /models/Llama-2-13b-chat-hf \\
        --small-size 7B --large-size 13B

Runs Wei et al.'s flipped-label protocol (book dataset, k = 16 balanced demonstrations,
flipped fractions 0, 0.25, 0.5, 0.75, 1, 200 queries, seed 0, the same plain prompt for
base and chat models) through ``iclbook.llm.run_experiment`` with ``--batch-size auto``,
writing every model's results to ``--out`` as soon as it is done (``--resume`` continues
an interrupted run), then writes ``iclbook/data/llm_book_run.json`` (date, models,
command, configuration, provenance, accuracies), which chapter 10 shows.  Every path is
checked before the first model loads.  Exit codes: 0 done, 2 bad arguments, 1 a failure
while models run.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import iclbook
from iclbook.llm import HarnessError, book_dataset, run_experiment
from iclbook.llm.book_run import book_run_path, write_book_run

SLOTS = (("base_small", "small", "base"), ("chat_small", "small", "chat"),
         ("base_large", "large", "base"), ("chat_large", "large", "chat"))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for slot, size, kind in SLOTS:
        p.add_argument(f"--{slot.replace('_', '-')}", required=True,
                       help=f"local folder of the {size} {kind} model")
    p.add_argument("--small-size", default="small", help="size label, e.g. 7B")
    p.add_argument("--large-size", default="large", help="size label, e.g. 13B")
    p.add_argument("--k", type=int, default=16)
    p.add_argument("--n-queries", type=int, default=200)
    p.add_argument("--flip", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", default="auto")
    p.add_argument("--device", default=None)
    p.add_argument("--dtype", default=None, choices=["auto", "float32", "float16", "bfloat16"])
    p.add_argument("--out", default="results/book_run", help="folder of the harness files")
    p.add_argument("--book-file", type=Path, default=book_run_path(),
                   help="where the chapter's file is written (default: iclbook/data)")
    p.add_argument("--date", default=None, help="date of the run (default: today, UTC)")
    p.add_argument("--resume", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sizes = {"small": args.small_size, "large": args.large_size}
    paths, describe = [], []
    for slot, size, kind in SLOTS:
        path = str(getattr(args, slot))
        if not (Path(path).expanduser() / "config.json").is_file():
            print(f"run_llm_book_protocol: error: --{slot.replace('_', '-')} {path!r} is not "
                  "a local model folder with config.json", file=sys.stderr)
            return 2
        paths.append(path)
        describe.append({"name": f"{sizes[size]}-{kind}", "size": sizes[size], "kind": kind,
                         "path": path})
    if args.batch_size != "auto":
        try:
            args.batch_size = int(args.batch_size)
        except ValueError:
            print("run_llm_book_protocol: error: --batch-size must be an integer or 'auto'",
                  file=sys.stderr)
            return 2
    iclbook.setup(seed=args.seed, threads=None)
    try:
        run_experiment(paths, book_dataset(), k=args.k, flips=args.flip,
                       n_queries=args.n_queries, seed=args.seed,
                       batch_size=args.batch_size, names=[d["name"] for d in describe],
                       out_dir=args.out, device=args.device, dtype=args.dtype,
                       resume=args.resume)
    except ValueError as err:
        print(f"run_llm_book_protocol: error: {err}", file=sys.stderr)
        return 2
    except HarnessError as err:
        print(f"run_llm_book_protocol: error: {err}", file=sys.stderr)
        return 1
    command = "python scripts/run_llm_book_protocol.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    out = write_book_run(args.book_file, models=describe, command=command,
                         results_json=Path(args.out) / "results.json", date=args.date)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
