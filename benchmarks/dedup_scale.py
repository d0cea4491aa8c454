"""Dedup at scale: a ~1 GB corpus with planted near duplicates through the data pipeline, with the
bucket index (``dedup.near.index: buckets``): MB/s per stage, peak RSS, and the dedup's precision
and recall against the planted set.

    .venv/bin/python benchmarks/dedup_scale.py [CORPUS] [--target-mb 1000] [--no-write]
    .venv/bin/python benchmarks/dedup_scale.py --target-mb 60 --scale 0.2 --no-write   # smoke

The corpus (26 MB) is cut into documents as in ``data_pipeline.py`` and its four shifted copies
(the 4x corpus: 106 MB of distinct documents) come first. Then planted copies fill the corpus up
to ``--target-mb``: each is a document of copy 0 that passes the cleaning filters (checked,
untimed, with the real ``DocumentPass``), either exact (``--exact-share`` of them) or with a
random ``0``–``--max-edit`` share of its words replaced by other words of the same document.
Originals come before their copies, so dedup should keep every original and drop every copy.

Both the 4x corpus alone and the full one run through the pipeline (``data_pipeline.py``'s child
process: the real node functions and datasets, a peak RSS per stage). The 4x run gives the drops
the originals cause by themselves; then, for the full run:

- recall = planted copies dropped as duplicates / planted copies that passed the filters;
- precision = planted copies dropped as duplicates / all documents dropped as duplicates.

A planted copy is either kept (read from the cleaned output's ``source``), dropped by a filter
(the full run's filter drops minus the 4x run's: the originals are the same documents), or
dropped as a duplicate.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from _common import machine_info, machine_line, write_section
from data_pipeline import (
    CORPUS,
    MB,
    MIB,
    STAGE_NAMES,
    STAGES,
    documents,
    launch,
    prepare_copies,
    read_corpus,
    summarise,
)

HEADING = "## Dedup at scale"
DUPLICATE_RULES = ("exact_duplicate", "near_duplicate")
BUCKETS = {"dedup.near.index": "buckets"}


def passing_documents(text: str, doc_chars: int) -> list[str]:
    """Copy 0's documents that the cleaning filters keep (conf/base's cleaning)."""
    from data_pipeline import conf_params

    from kedro_gpt.text.config import CleaningConfig
    from kedro_gpt.text.prepare import DocumentPass, Prepared

    document_pass = DocumentPass(CleaningConfig.model_validate(conf_params("cleaning")))
    docs = list(documents(text, doc_chars))
    return [
        d
        for i, d in enumerate(docs)
        if isinstance(document_pass.prepare(str(i), d, "txt")[0], Prepared)
    ]


def perturbed(doc: str, share: float, rng: random.Random) -> str:
    """``doc`` with ``share`` of its space-separated words replaced by other words of it."""
    words = doc.split(" ")
    for i in rng.sample(range(len(words)), int(len(words) * share)):
        words[i] = rng.choice(words)
    return " ".join(words)


def plant(
    originals: list[str], folder: Path, target_bytes: int, args: argparse.Namespace
) -> dict[str, Any]:
    """Write planted copies as ``planted_<k>.jsonl.gz`` (~100 MB of text each) until
    ``target_bytes``; returns the files and counts."""
    rng = random.Random(args.seed)
    files, count, size, exact, out_bytes = [], 0, 0, 0, 0
    out = None
    while size < target_bytes:
        if out is None or out_bytes >= 100 * MB:
            if out is not None:
                out.close()
            path = folder / f"planted_{len(files)}.jsonl.gz"
            files.append(str(path))
            out = gzip.open(path, "wt", encoding="utf-8", compresslevel=1)
            out_bytes = 0
        doc = rng.choice(originals)
        if rng.random() < args.exact_share:
            exact += 1
        else:
            doc = perturbed(doc, rng.uniform(0.0, args.max_edit), rng)
        out.write(json.dumps({"text": doc}, ensure_ascii=False) + "\n")
        nbytes = len(doc.encode("utf-8"))
        out_bytes += nbytes
        size += nbytes
        count += 1
    assert out is not None
    out.close()
    return {"files": files, "documents": count, "exact": exact, "text_bytes": size}


def kept_by_source(workdir: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    table = pq.read_table(workdir / "clean_documents.parquet", columns=["source"])
    for source in table.column("source").to_pylist():
        name = Path(source).name
        counts[name] = counts.get(name, 0) + 1
    return counts


def run(label: str, root: Path, sources: list[str], text_bytes: int) -> dict[str, Any]:
    workdir = root / label
    workdir.mkdir()
    spec = {
        "label": label,
        "workdir": str(workdir),
        "sources": sources,
        "text_bytes": text_bytes,
        "cleaning": BUCKETS,
    }
    print(f"running {label} ...", file=sys.stderr, flush=True)
    figures = launch(spec)
    figures["kept_by_source"] = kept_by_source(workdir)
    shutil.rmtree(workdir)
    return figures


def quality(base: dict[str, Any], full: dict[str, Any], planted: dict[str, Any]) -> dict[str, Any]:
    planted_kept = sum(v for k, v in full["kept_by_source"].items() if k.startswith("planted_"))
    filters = lambda r: sum(v for k, v in r["dropped"].items() if k not in DUPLICATE_RULES)  # noqa: E731
    filtered = filters(full) - filters(base)
    duplicates = sum(full["dropped"].get(k, 0) for k in DUPLICATE_RULES)
    caught = planted["documents"] - planted_kept - filtered
    return {
        "planted": planted["documents"],
        "planted_kept": planted_kept,
        "planted_filtered": filtered,
        "dropped_as_duplicates": duplicates,
        "recall": caught / (planted["documents"] - filtered),
        "precision": caught / duplicates if duplicates else float("nan"),
        "originals_kept_4x": base["documents_kept"],
        "originals_kept_full": full["documents_kept"] - planted_kept,
    }


def section(
    summary: dict[str, dict[str, Any]], scores: dict[str, Any], args: argparse.Namespace
) -> str:
    lines = [
        "| stage | 4x MB/s | full MB/s | 4x peak RSS MiB | full peak RSS MiB |",
        "|---|---|---|---|---|",
    ]
    for name in (*STAGES, "pipeline"):
        cells = [
            summary[k]["pipeline"] if name == "pipeline" else summary[k]["stages"][name]
            for k in ("4x", "full")
        ]
        label = "**whole pipeline**" if name == "pipeline" else STAGE_NAMES[name]
        lines.append(
            f"| {label} | {cells[0]['mb_s']:.2f} | {cells[1]['mb_s']:.2f} | "
            f"{cells[0]['peak_rss'] / MIB:.0f} | {cells[1]['peak_rss'] / MIB:.0f} |"
        )
    full = summary["full"]
    return (
        f"{HEADING}\n\nCommand: `.venv/bin/python benchmarks/dedup_scale.py --target-mb "
        f"{args.target_mb:g}` (one run). Machine: {machine_line(machine_info())}.\n\n"
        + "\n".join(lines)
        + f"\n\nFull corpus: {full['stages']['ingestion']['bytes'] / MB:,.0f} MB of text in "
        f"{full['documents_in']:,} documents, of which {scores['planted']:,} planted copies; "
        f"cleaning kept {full['documents_kept']:,} (dropped: "
        + ", ".join(f"{k} {v:,}" for k, v in full["dropped"].items())
        + f"). Planted copies kept {scores['planted_kept']:,}, dropped by filters "
        f"{scores['planted_filtered']:,}. **Dedup recall {scores['recall']:.4f}, precision "
        f"{scores['precision']:.4f}**; peak RSS {full['pipeline']['peak_rss'] / MIB:,.0f} MiB.\n"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("corpus", nargs="?", type=Path, default=CORPUS)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--target-mb", type=float, default=1000.0)
    parser.add_argument("--doc-chars", type=int, default=8000)
    parser.add_argument("--exact-share", type=float, default=0.2)
    parser.add_argument("--max-edit", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_dedup_") as tmp:
        root = Path(tmp)
        text = read_corpus(args.corpus, args.scale)
        copies = prepare_copies(text, root / "inputs", 4, args.doc_chars)
        base_bytes = sum(c["text_bytes"] for c in copies)
        originals = passing_documents(text, args.doc_chars)
        del text
        planted = plant(originals, root / "inputs", int(args.target_mb * MB) - base_bytes, args)
        print(json.dumps({k: v for k, v in planted.items() if k != "files"}), flush=True)
        sources = [c["path"] for c in copies]
        base = run("4x", root, sources, base_bytes)
        full = run("full", root, sources + planted["files"], base_bytes + planted["text_bytes"])
    summary = {"4x": summarise([base]), "full": summarise([full])}
    summary["full"]["kept_by_source"] = full["kept_by_source"]
    scores = quality(summary["4x"], summary["full"], planted)
    print(json.dumps(scores, indent=2))
    text = section(summary, scores, args)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "scores": scores}, indent=2))
    if not args.no_write:
        write_section(text, HEADING)


if __name__ == "__main__":
    main()
