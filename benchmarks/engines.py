"""Which distributed engine runs cleaning: the overhead of Dask, Ray and Spark on this corpus.

    .venv/bin/python benchmarks/engines.py [CORPUS] [--scale 1.0] [--repeats 2] [--no-write]

The stateless part of cleaning (``kedro_gpt.text.parallel._prepare``: extract, normalise, filter,
exact digest, MinHash signature) runs over the same batches of the benchmark corpus (cut into
~8,000-character documents as in ``data_pipeline.py``, conf/base's cleaning parameters, batches
of ``cleaning.batch_size`` documents) on every core of this machine five ways:

- in this process, one batch after another (the reference the others must equal);
- our local process pool (``ProcessPoolExecutor``, forkserver: the pipeline's ``workers: 0``);
- a local Dask cluster (``LocalCluster``, one single-threaded worker process per core), through
  its ``concurrent.futures`` executor, as the pipeline's ``cleaning.cluster`` runs it;
- Ray (``ray.init(num_cpus=cores)``), one remote task per batch;
- Spark (``local[cores]``), ``parallelize(batches).map(_prepare).collect()``.

For each engine: start-up (the cluster or session, until it accepts work), the first pass (its
workers import kedro_gpt and build their pass on the way) and a second pass on warm workers;
each pass's results are checked equal to the reference. Ray and Spark are optional benchmark
dependencies (``pip install ray pyspark``; Spark needs Java 17+); without one its row says why.
Medians over ``--repeats`` (each repeat starts every engine afresh). The section
"## Distributed engines" of docs/benchmarks.md is replaced.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import os
import shlex
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml
from _common import DOCS, ROOT, machine_info, machine_line, write_section
from data_pipeline import CORPUS, documents, read_corpus

from kedro_gpt.text.config import CleaningConfig
from kedro_gpt.text.parallel import _prepare, cpu_workers
from kedro_gpt.text.prepare import Prepared

HEADING = "## Distributed engines"
MB = 1e6

Rows = list[tuple[str, str | None, str]]


def corpus_batches(path: Path, scale: float, doc_chars: int, batch_size: int) -> list[Rows]:
    text = read_corpus(path, scale)
    rows = [(f"d{i}", doc, "txt") for i, doc in enumerate(documents(text, doc_chars))]
    return [rows[k : k + batch_size] for k in range(0, len(rows), batch_size)]


def _comparable(preparations: list[Any]) -> list[Any]:
    """What must be equal across engines: each document's outcome, text, digest and signature."""
    out = []
    for outcome, changed in preparations:
        if isinstance(outcome, Prepared):
            signature = None if outcome.signature is None else outcome.signature.tobytes()
            out.append((outcome.text, outcome.title, outcome.digest, signature, changed))
        else:
            out.append((outcome, changed))
    return out


@contextmanager
def local_pool(cores: int) -> Iterator[Callable[[str, list[Rows]], list[Any]]]:
    method = "forkserver" if sys.platform.startswith("linux") else "spawn"
    with ProcessPoolExecutor(cores, mp_context=multiprocessing.get_context(method)) as pool:
        yield lambda config, batches: list(pool.map(_prepare, [config] * len(batches), batches))


@contextmanager
def dask_cluster(cores: int) -> Iterator[Callable[[str, list[Rows]], list[Any]]]:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=cores, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(cores)
        executor = client.get_executor()
        yield lambda config, batches: [
            f.result() for f in [executor.submit(_prepare, config, b) for b in batches]
        ]


@contextmanager
def ray_engine(cores: int) -> Iterator[Callable[[str, list[Rows]], list[Any]]]:
    import ray

    ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)  # this venv's Python
    try:
        prepare = ray.remote(num_cpus=1)(_prepare)

        def run(config: str, batches: list[Rows]) -> list[Any]:
            config_ref = ray.put(config)
            return ray.get([prepare.remote(config_ref, b) for b in batches])

        yield run
    finally:
        ray.shutdown()


@contextmanager
def spark_engine(cores: int) -> Iterator[Callable[[str, list[Rows]], list[Any]]]:
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable  # workers run this interpreter, this venv
    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("kedro-gpt-engines")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "4g")
        .config("spark.python.worker.reuse", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:

        def run(config: str, batches: list[Rows]) -> list[Any]:
            rdd = spark.sparkContext.parallelize(batches, len(batches))
            return rdd.map(lambda rows: _prepare(config, rows)).collect()

        yield run
    finally:
        spark.stop()


ENGINES: dict[str, tuple[Callable[[int], Any], str | None]] = {
    "local process pool (workers: 0)": (local_pool, None),
    "Dask LocalCluster": (dask_cluster, "distributed"),
    "Ray": (ray_engine, "ray"),
    "Spark (local mode)": (spark_engine, "pyspark"),
}


def missing(module: str | None) -> str | None:
    """Why an engine cannot run here, or None."""
    if module is None:
        return None
    if importlib.util.find_spec(module) is None:
        return f"{module} is not installed"
    if module == "pyspark" and shutil.which("java") is None:
        return "Spark needs Java (java not on PATH)"
    return None


def measure(
    engine: Callable[[int], Any], cores: int, config: str, batches: list[Rows], reference: list[Any]
) -> dict[str, float]:
    """Start-up, first and second pass seconds of one engine, its results checked."""
    start = time.perf_counter()
    with engine(cores) as run:
        started = time.perf_counter()
        first = run(config, batches)
        first_done = time.perf_counter()
        second = run(config, batches)
        second_done = time.perf_counter()
    for result in (first, second):
        got = [_comparable(p) for p in result]
        if got != reference:
            raise SystemExit("an engine's preparations differ from the in-process reference")
    return {
        "startup_s": started - start,
        "first_s": first_done - started,
        "warm_s": second_done - first_done,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    base = yaml.safe_load((ROOT / "conf" / "base" / "parameters_cleaning.yml").read_text())
    config = CleaningConfig.model_validate(base["cleaning"])
    batches = corpus_batches(args.corpus, args.scale, args.doc_chars, config.batch_size)
    text_bytes = sum(len(t.encode()) for b in batches for _, t, _ in b)
    config_json = config.model_dump_json()
    cores = cpu_workers(0)
    reasons = {name: missing(module) for name, (_, module) in ENGINES.items()}
    figures: dict[str, list[dict[str, float]]] = {n: [] for n, why in reasons.items() if not why}
    here: list[float] = []
    reference: list[Any] | None = None
    for repeat in range(args.repeats):
        print(f"repeat {repeat + 1}: in this process ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        local = [_prepare(config_json, b) for b in batches]
        here.append(time.perf_counter() - start)
        reference = [_comparable(p) for p in local] if reference is None else reference
        for name, runs in figures.items():
            print(f"repeat {repeat + 1}: {name} ...", file=sys.stderr, flush=True)
            runs.append(measure(ENGINES[name][0], cores, config_json, batches, reference))
    medians = {
        name: {k: statistics.median(r[k] for r in runs) for k in runs[0]} | {"runs": runs}
        for name, runs in figures.items()
    }
    return {
        "text_bytes": text_bytes,
        "documents": sum(len(b) for b in batches),
        "batches": len(batches),
        "cores": cores,
        "in_process_s": statistics.median(here),
        "in_process_runs": here,
        "engines": medians,
        "skipped": {n: why for n, why in reasons.items() if why},
        "versions": {
            m: version(m) for m in ("distributed", "ray", "pyspark") if importlib.util.find_spec(m)
        },
    }


def table(result: dict[str, Any]) -> str:
    mb = result["text_bytes"] / MB
    pool = result["engines"].get("local process pool (workers: 0)")
    lines = [
        "| engine | start-up s | first pass s | warm pass s | warm MB/s | warm pass / pool's |",
        "|---|---|---|---|---|---|",
        f"| in this process (one core) | | {result['in_process_s']:.1f} | "
        f"{result['in_process_s']:.1f} | {mb / result['in_process_s']:.2f} | "
        + (f"{result['in_process_s'] / pool['warm_s']:.2f}x |" if pool else "|"),
    ]
    for name, m in result["engines"].items():
        ratio = f"{m['warm_s'] / pool['warm_s']:.2f}x" if pool else ""
        lines.append(
            f"| {name} | {m['startup_s']:.1f} | {m['first_s']:.1f} | {m['warm_s']:.1f} | "
            f"{mb / m['warm_s']:.2f} | {ratio} |"
        )
    for name, why in result["skipped"].items():
        lines.append(f"| {name} | skipped: {why} | | | | |")
    return "\n".join(lines)


def section(result: dict[str, Any], command: str, info: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in result["versions"].items())
    return f"""{HEADING}

Command: `{command}`. Machine: {machine_line(info)}; {versions}.

{result["text_bytes"] / MB:.1f} MB of text in {result["documents"]:,} documents, \
{result["batches"]} batches, {result["cores"]} cores; medians of \
{len(result["in_process_runs"])} repeats, each engine started afresh in each. Every pass of every engine gave the same preparations as the
in-process reference (outcome, text, digest, MinHash signature of every document).

{table(result)}

The warm pass is what a long job pays per batch; start-up and the first pass (workers importing
kedro_gpt and building their cleaning pass) are paid once per run. How it is measured: see the
docstring of `benchmarks/engines.py`.
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("corpus", nargs="?", type=Path, default=CORPUS)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--doc-chars", type=int, default=8000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    result = run(args)
    text = section(
        result,
        shlex.join([".venv/bin/python", "benchmarks/engines.py", *sys.argv[1:]]),
        machine_info(),
    )
    print(text)
    if not args.no_write:
        write_section(text, HEADING, DOCS)


if __name__ == "__main__":
    main()
