"""Cleaning on every core and on a local Dask cluster, against the single-process pass, same run.

    .venv/bin/python benchmarks/parallel_cleaning.py [CORPUS] [--scale 1.0] [--repeats 2] [--no-write]

The corpus (default ../shared/data/benchmark_corpus/benchmark_en.txt.gz, 26 MB) is cut into
documents of ~8,000 characters as in ``data_pipeline.py`` and cleaned with conf/base's cleaning
parameters three ways: ``workers: 1`` (one process), ``workers: 0`` (every core: a local process
pool) and ``cluster: {local_workers: N}`` (a local Dask cluster of N worker processes; its start-up
is timed too). Each run checks that the kept documents equal the single-process run's.

This VM's cores are not whole cores, so the same run also measures the ceiling: one pure-Python
loop alone, then two copies at once in two processes; ``2 × alone / together`` is the most any
two-process speed-up can reach here. The all-cores speed-up is reported as a fraction of it.
Medians over ``--repeats``; the section "## Parallel cleaning" of docs/benchmarks.md is replaced.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml
from _common import DOCS, ROOT, machine_info, machine_line, write_section
from data_pipeline import CORPUS, documents, read_corpus

from kedro_gpt.ingest.schema import DOCUMENT_SCHEMA
from kedro_gpt.text.clean import clean_batches
from kedro_gpt.text.config import CleaningConfig
from kedro_gpt.text.parallel import cpu_workers

HEADING = "## Parallel cleaning"
MB = 1e6


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def ceiling(n: int = 20_000_000) -> dict[str, float]:
    """Seconds of one pure-Python loop alone and of two copies at once; the speed-up bound."""
    start = time.perf_counter()
    _spin(n)
    alone = time.perf_counter() - start
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        pool.map(_spin, [1000, 1000])  # start both workers before the clock
        start = time.perf_counter()
        pool.map(_spin, [n, n], chunksize=1)
        together = time.perf_counter() - start
    return {"alone_s": alone, "together_s": together, "ceiling": 2 * alone / together}


def corpus_table(path: Path, scale: float, doc_chars: int) -> pa.Table:
    text = read_corpus(path, scale)
    rows = [
        {"id": f"d{i}", "source": path.name, "format": "txt", "text": doc}
        for i, doc in enumerate(documents(text, doc_chars))
    ]
    return pa.Table.from_pylist(rows, schema=DOCUMENT_SCHEMA)


def clean(table: pa.Table, config: CleaningConfig, workers: int) -> tuple[float, list[str]]:
    """Seconds to clean ``table`` (executor start-up included) and the kept ids."""
    start = time.perf_counter()
    kept: list[str] = []
    batches = table.to_batches(max_chunksize=config.batch_size)
    for batch in clean_batches(batches, config, DOCUMENT_SCHEMA, None, workers):
        kept += batch.column("id").to_pylist()
    return time.perf_counter() - start, kept


def run(args: argparse.Namespace) -> dict[str, Any]:
    table = corpus_table(args.corpus, args.scale, args.doc_chars)
    text_bytes = sum(len(t.encode()) for t in table.column("text").to_pylist())
    base = yaml.safe_load((ROOT / "conf" / "base" / "parameters_cleaning.yml").read_text())
    cores = cpu_workers(0)
    ways = {
        "one process (workers: 1)": (CleaningConfig.model_validate({**base["cleaning"]}), 1),
        f"every core (workers: 0 = {cores})": (
            CleaningConfig.model_validate(base["cleaning"]),
            cores,
        ),
        f"local Dask cluster ({cores} workers)": (
            CleaningConfig.model_validate(
                {**base["cleaning"], "cluster": {"local_workers": cores}}
            ),
            1,
        ),
    }
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    ceilings: list[dict[str, float]] = []
    reference: list[str] | None = None
    for repeat in range(args.repeats):
        ceilings.append(ceiling())
        for name, (config, workers) in ways.items():
            print(f"repeat {repeat + 1}: {name} ...", file=sys.stderr, flush=True)
            elapsed, kept = clean(table, config, workers)
            reference = kept if reference is None else reference
            if kept != reference:
                raise SystemExit(f"{name}: kept documents differ from the single-process run")
            seconds[name].append(elapsed)
    single = statistics.median(seconds[next(iter(ways))])
    bound = statistics.median(c["ceiling"] for c in ceilings)
    rows = {}
    for name in ways:
        median = statistics.median(seconds[name])
        speedup = single / median
        rows[name] = {
            "seconds": median,
            "runs": seconds[name],
            "mb_s": text_bytes / MB / median,
            "speedup": speedup,
            "of_ceiling": speedup / bound,
        }
    return {
        "documents": table.num_rows,
        "kept": len(reference or []),
        "text_mb": text_bytes / MB,
        "ceiling": bound,
        "ceilings": ceilings,
        "rows": rows,
    }


def section(result: dict[str, Any], command: str, info: dict[str, Any]) -> str:
    each = ", ".join(f"{c['ceiling']:.2f}" for c in result["ceilings"])
    lines = [
        HEADING,
        "",
        f"Command: `{command}`. Machine: {machine_line(info)}.",
        "",
        f"{result['text_mb']:.1f} MB of text in {result['documents']:,} documents, "
        f"{result['kept']:,} kept (the same ids, in the same order, every way). Two copies of a "
        f"pure-Python loop in two processes ran {result['ceiling']:.2f}x as fast as one after "
        f"the other: the ceiling of any two-process speed-up here "
        f"({each}).",
        "",
        "| cleaning | seconds (median) | MB/s | speed-up | of the ceiling |",
        "|---|---|---|---|---|",
    ]
    for name, row in result["rows"].items():
        runs = ", ".join(f"{s:.1f}" for s in row["runs"])
        lines.append(
            f"| {name} | {row['seconds']:.1f} ({runs}) | {row['mb_s']:.2f} | "
            f"{row['speedup']:.2f}x | {row['of_ceiling']:.0%} |"
        )
    lines += [
        "",
        "Workers prepare whole batches (extraction, normalisation, filters, exact digest, MinHash "
        "signature); the calling process deduplicates them in input order, so every way keeps "
        "the same documents. The Dask row includes starting the local cluster.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=CORPUS)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--doc-chars", type=int, default=8000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    info = machine_info()
    result = run(args)
    command = shlex.join([".venv/bin/python", "benchmarks/parallel_cleaning.py", *sys.argv[1:]])
    text = section(result, command, info)
    print(text)
    if not args.no_write:
        write_section(text, HEADING, DOCS)
        print(f"wrote {DOCS}")


if __name__ == "__main__":
    main()
