"""scripts/insert_listings.py: every theorem's listing names a function that exists, and the
insertion touches markdown only and is idempotent."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("insert_listings",
                                              ROOT / "scripts" / "insert_listings.py")
il = importlib.util.module_from_spec(spec)
spec.loader.exec_module(il)


def test_every_listed_function_exists() -> None:
    assert il.missing_objects() == []


def test_a_renamed_function_is_reported(monkeypatch) -> None:
    monkeypatch.setitem(il.LISTINGS, "thm-rank-r", ("linear/theory.py", "optimal_loss_old"))
    assert il.missing_objects() == ["thm-rank-r: iclbook/linear/theory.py defines no "
                                    "optimal_loss_old"]


def test_every_listed_label_is_a_theorem_of_a_chapter() -> None:
    labels = set()
    for p in ROOT.glob("book/*.ipynb"):
        for c in json.loads(p.read_text(encoding="utf-8"))["cells"]:
            if c["cell_type"] == "markdown":
                labels |= {m["label"] for m in il._THEOREM.finditer("".join(c["source"]))}
    assert set(il.LISTINGS) <= labels


def test_insertion_is_markdown_only_and_idempotent() -> None:
    nb = json.loads((ROOT / "book" / "04_deriving_rank_r.ipynb").read_text(encoding="utf-8"))
    once = il.with_listings(nb)
    assert il.with_listings(once) == once
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert [c for c in once["cells"] if c["cell_type"] == "code"] == code
    added = [c for c in once["cells"] if il._marked(c)]
    assert {il._marked(c) for c in added} == {"lem-fourth-moment", "lem-per-direction",
                                              "thm-rank-r"}
    assert ":pyobject: optimal_loss" in "".join(
        next(c for c in added if il._marked(c) == "thm-rank-r")["source"])
