"""Data pipeline: MB/s of each stage and peak RSS, at 1x and 4x the benchmark corpus.

    .venv/bin/python benchmarks/data_pipeline.py [CORPUS] [--scale 0.05] [--repeats 2] [--no-write]

CORPUS defaults to ../shared/data/benchmark_corpus/benchmark_en.txt.gz (26 MB of text, one file).

Prepared input (not timed): one text file is one document and cannot stream, so the corpus is cut
into documents of about ``--doc-chars`` characters (runs of whole lines) written as
``copy_<k>.jsonl.gz``. The 1x corpus is copy 0. The 4x corpus is copies 0-3: the same text, but
copy k cuts its documents ``k/4`` of a document further along, so every document of one copy
overlaps two documents of another by at most 3/4 of its text (estimated Jaccard <= 0.6, under the
near-dedup threshold of 0.8) and deduplication keeps all four copies, as it would keep distinct
documents that share passages. The cleaning report's drop counts are printed either way.

Each configuration (1x, 4x) runs in a fresh subprocess that does what ``kedro run
--pipelines=data`` does, without the session: it calls the real node functions with the
parameters of conf/base, and saves their outputs, in Kedro's order, with the real datasets
(StreamingParquetDataset, SentencePieceModelDataset, TokenShardsDataset) in a temporary folder.
Per stage: seconds from the node call until its last output is saved, MB/s of the stage's input
text (UTF-8, 1 MB = 10^6 bytes), and the process's peak RSS during the stage (Linux ``VmHWM``,
reset at each stage start; memory an earlier stage left allocated counts, as in one ``kedro
run``). The pipeline's peak RSS is the largest of them.

Peer: after the encoding stage, the same process encodes the same texts (the rows of the split
table) with the same model in one call, ``sp.encode(texts, num_threads=os.cpu_count())``, texts
already in memory; the encoding stage's MB/s over the peer's is the encode ratio (goal >= 0.8).

Medians over ``--repeats``. The table goes to stdout and to docs/benchmarks.md under
"## Data pipeline" (only that section is replaced).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from _common import (
    DOCS,
    ROOT,
    machine_info,
    machine_line,
    peak_rss_bytes,
    reset_peak_rss,
    rss_bytes,
    write_section,
)

CORPUS = ROOT.parent / "shared" / "data" / "benchmark_corpus" / "benchmark_en.txt.gz"
HEADING = "## Data pipeline"
STAGES = ("ingestion", "cleaning", "split", "train_tokenizer", "encode")
STAGE_NAMES = {
    "ingestion": "ingestion",
    "cleaning": "cleaning",
    "split": "tokenization: split",
    "train_tokenizer": "tokenization: sentencepiece training",
    "encode": "tokenization: encoding",
}
ENCODE_GOAL = 0.8
PIPELINE_GOAL = 5.0  # MB/s, the whole pipeline on every core (issue 13)
FULL_COMMAND = ".venv/bin/python benchmarks/data_pipeline.py --repeats 2"
MB = 1e6
MIB = 2**20


# ---- prepared input ----------------------------------------------------------------------------


def read_corpus(path: Path, scale: float) -> str:
    """The corpus text (gzip or plain), cut to its first ``scale`` fraction at a line end."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        text = handle.read()
    if scale < 1.0:
        end = text.find("\n", int(len(text) * scale))
        text = text if end == -1 else text[: end + 1]
    return text


def documents(text: str, doc_chars: int, offset: int = 0) -> Iterator[str]:
    """Cut ``text`` into runs of whole lines; cuts fall at the first line end at or after each
    point ``offset + j * doc_chars``, so copies with different offsets cut in different places."""
    start, target = 0, offset or doc_chars
    while start < len(text):
        cut = text.find("\n", max(target, start + 1) - 1)
        end = len(text) if cut == -1 else cut + 1
        yield text[start:end]
        while target <= end:
            target += doc_chars
        start = end


def prepare_copies(text: str, folder: Path, copies: int, doc_chars: int) -> list[dict[str, Any]]:
    """Write ``copy_<k>.jsonl.gz`` for k < ``copies``; returns each file's path, documents and bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for k in range(copies):
        path = folder / f"copy_{k}.jsonl.gz"
        count = size = 0
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=6) as out:
            for doc in documents(text, doc_chars, offset=k * doc_chars // copies):
                out.write(json.dumps({"text": doc}, ensure_ascii=False) + "\n")
                count += 1
                size += len(doc.encode("utf-8"))
        made.append({"path": str(path), "documents": count, "text_bytes": size})
    return made


# ---- one configuration, in a fresh process -----------------------------------------------------


def conf_params(name: str) -> dict[str, Any]:
    """The ``name`` parameters of conf/base (what ``kedro run`` gets without conf/local)."""
    path = ROOT / "conf" / "base" / f"parameters_{name}.yml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))[name]


class StageMeter:
    """Times stages and records the process's peak RSS during each."""

    def __init__(self) -> None:
        self.stages: dict[str, dict[str, float]] = {}
        self.peak_resets = True

    def run(self, name: str, work: Callable[[], Any]) -> Any:
        self.peak_resets = reset_peak_rss() and self.peak_resets
        rss_start = rss_bytes()
        start = time.perf_counter()
        result = work()
        seconds = time.perf_counter() - start
        self.stages[name] = {
            "seconds": seconds,
            "rss_start": rss_start,
            "peak_rss": peak_rss_bytes(),
        }
        return result


def run_configuration(spec: dict[str, Any]) -> dict[str, Any]:
    """Run every stage over ``spec["sources"]`` in ``spec["workdir"]``; the figures as a dict."""
    import pyarrow.parquet as pq

    from kedro_gpt.datasets import (
        SentencePieceModelDataset,
        StreamingParquetDataset,
        TokenShardsDataset,
    )
    from kedro_gpt.pipelines.cleaning.nodes import clean_documents
    from kedro_gpt.pipelines.ingestion.nodes import ingest_documents
    from kedro_gpt.pipelines.tokenization.nodes import (
        encode_corpus,
        split_corpus,
        train_tokenizer,
    )
    from kedro_gpt.sweep.overrides import apply_overrides

    # imports done; the datasketch/scipy import of near-dedup happens inside cleaning, as in Kedro
    baseline = rss_bytes()
    work = Path(spec["workdir"])
    ingestion = {**conf_params("ingestion"), "sources": [{"path": p} for p in spec["sources"]]}
    cleaning, tokenization = conf_params("cleaning"), conf_params("tokenization")
    cleaning = apply_overrides(cleaning, spec.get("cleaning", {}))  # {"dedup.near.index": …}
    tokenization = apply_overrides(tokenization, spec.get("tokenization", {}))
    documents_ds = StreamingParquetDataset(str(work / "documents.parquet"))
    clean_ds = StreamingParquetDataset(str(work / "clean_documents.parquet"))
    split_ds = StreamingParquetDataset(str(work / "split_documents.parquet"))
    tokenizer_ds = SentencePieceModelDataset(str(work / "tokenizer.model"))
    train_ds = TokenShardsDataset(str(work / "train_tokens"))
    val_ds = TokenShardsDataset(str(work / "val_tokens"))
    reports: dict[str, Any] = {}

    def save_json(name: str, data: dict[str, Any]) -> None:
        reports[name] = json.loads(json.dumps(data))  # what JSONDataset would write
        (work / f"{name}.json").write_text(json.dumps(data, indent=2))

    def ingest() -> None:
        batches, report = ingest_documents(ingestion)
        documents_ds.save(batches)
        save_json("ingestion_report", report)

    def clean() -> None:
        batches, report, _metrics = clean_documents(documents_ds.load(), cleaning)
        clean_ds.save(batches)
        save_json("cleaning_report", report)

    def split() -> None:
        split_ds.save(split_corpus(clean_ds.load(), tokenization))

    def train() -> None:
        tokenizer_ds.save(train_tokenizer(split_ds.load(), tokenization))

    def encode() -> None:
        train, val, report, _metrics = encode_corpus(
            split_ds.load(), tokenizer_ds.load(), tokenization
        )
        train_ds.save(train)
        val_ds.save(val)
        save_json("tokenization_report", report)

    meter = StageMeter()
    for name, stage in zip(STAGES, (ingest, clean, split, train, encode), strict=True):
        meter.run(name, stage)
    pipeline_peak = max(s["peak_rss"] for s in meter.stages.values())

    # the peer: the same texts and model, one multi-threaded sentencepiece call
    sp = tokenizer_ds.load()
    texts: list[str] = []
    train_lines = 0  # what the sentencepiece trainer was offered (it skips empty lines)
    for split_name in ("train", "val"):
        for batch in pq.ParquetFile(work / "split_documents.parquet").iter_batches(
            batch_size=4096, columns=["split", "text"]
        ):
            rows = batch.to_pydict()
            picked = [
                t for s, t in zip(rows["split"], rows["text"], strict=True) if s == split_name
            ]
            if split_name == "train":
                train_lines += sum(1 for t in picked for line in t.split("\n") if line)
            texts += picked
    reset_peak_rss()
    start = time.perf_counter()
    ids = sp.encode(texts, num_threads=os.cpu_count())
    raw_seconds = time.perf_counter() - start
    raw_tokens = sum(len(x) for x in ids)
    raw_peak = peak_rss_bytes()
    del ids, texts

    tok = reports["tokenization_report"]
    clean_report = reports["cleaning_report"]
    encoded_docs = tok["train"]["documents"] + tok["val"]["documents"]
    encoded_tokens = tok["train"]["tokens"] + tok["val"]["tokens"]
    # the stage puts <|endoftext|> between the documents of each split; the peer does not
    eos_tokens = max(tok["train"]["documents"] - 1, 0) + max(tok["val"]["documents"] - 1, 0)
    stage_bytes = {
        "ingestion": spec["text_bytes"],
        "cleaning": clean_report["bytes_in"],
        "split": clean_report["bytes_out"],
        "train_tokenizer": tok["train"]["text_bytes"],
        "encode": tok["train"]["text_bytes"] + tok["val"]["text_bytes"],
    }
    for name, figures in meter.stages.items():
        figures["bytes"] = stage_bytes[name]
    return {
        "stages": meter.stages,
        "peak_resets": meter.peak_resets,
        "baseline_rss": baseline,
        "pipeline_peak_rss": pipeline_peak,
        "raw_encode": {
            "seconds": raw_seconds,
            "bytes": stage_bytes["encode"],
            "peak_rss": raw_peak,
            "tokens": raw_tokens,
        },
        "tokens_match": raw_tokens == encoded_tokens - eos_tokens,
        "documents_in": sum(
            s["documents"] for s in reports["ingestion_report"]["sources"].values()
        ),
        "documents_kept": clean_report["documents_kept"],
        "dropped": {
            rule: entry["documents"]
            for rule, entry in clean_report["dropped"].items()
            if entry["documents"]
        },
        "encoded_documents": encoded_docs,
        "tokens": encoded_tokens,
        "vocab_size": tok["vocab_size"],
        "train_lines": train_lines,
    }


# ---- the parent: prepare, launch, summarise ----------------------------------------------------


def launch(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one configuration in a fresh Python process and return its figures."""
    result = Path(spec["workdir"]) / "result.json"
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "PYTHONUNBUFFERED": "1"}
    load_before = os.getloadavg()[0]
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"configuration {spec['label']} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
        )
    figures = json.loads(result.read_text())
    figures["loadavg_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return figures


def mb_s(nbytes: float, seconds: float) -> float:
    return nbytes / MB / seconds if seconds > 0 else float("nan")


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the repeats of one configuration."""
    first = runs[0]
    stages = {}
    for name in STAGES:
        seconds = statistics.median(r["stages"][name]["seconds"] for r in runs)
        nbytes = first["stages"][name]["bytes"]
        stages[name] = {
            "seconds": seconds,
            "bytes": nbytes,
            "mb_s": mb_s(nbytes, seconds),
            "peak_rss": statistics.median(r["stages"][name]["peak_rss"] for r in runs),
            "rss_start": statistics.median(r["stages"][name]["rss_start"] for r in runs),
        }
    total_seconds = statistics.median(sum(r["stages"][n]["seconds"] for n in STAGES) for r in runs)
    raw_seconds = statistics.median(r["raw_encode"]["seconds"] for r in runs)
    return {
        "stages": stages,
        "pipeline": {
            "seconds": total_seconds,
            "bytes": stages["ingestion"]["bytes"],
            "mb_s": mb_s(stages["ingestion"]["bytes"], total_seconds),
            "peak_rss": statistics.median(r["pipeline_peak_rss"] for r in runs),
        },
        "raw_encode": {
            "seconds": raw_seconds,
            "mb_s": mb_s(first["raw_encode"]["bytes"], raw_seconds),
            "peak_rss": statistics.median(r["raw_encode"]["peak_rss"] for r in runs),
        },
        "encode_ratio": statistics.median(
            r["raw_encode"]["seconds"] / r["stages"]["encode"]["seconds"] for r in runs
        ),
        "encode_ratios": [
            r["raw_encode"]["seconds"] / r["stages"]["encode"]["seconds"] for r in runs
        ],
        "baseline_rss": statistics.median(r["baseline_rss"] for r in runs),
        "tokens_match": all(r["tokens_match"] for r in runs),
        "peak_resets": all(r["peak_resets"] for r in runs),
        "loadavg_1m": [r["loadavg_1m"] for r in runs],
        **{
            k: first[k]
            for k in (
                "documents_in",
                "documents_kept",
                "dropped",
                "encoded_documents",
                "tokens",
                "vocab_size",
                "train_lines",
            )
        },
    }


def config_label(multiple: int, workers: int | None) -> str:
    """A configuration's name: ``4x``, or ``4x, one core`` / ``4x, every core`` when the run
    compares core counts (``workers`` None: conf/base's own setting)."""
    if workers is None:
        return f"{multiple}x"
    cores = {0: "every core", 1: "one core"}.get(workers, f"{workers} cores")
    return f"{multiple}x, {cores}"


def _cleaning_needed(run: dict[str, Any]) -> str:
    """What cleaning's MB/s would have to be for the whole pipeline to reach PIPELINE_GOAL."""
    per_mb = run["pipeline"]["bytes"] / MB
    others = sum(run["stages"][n]["seconds"] for n in STAGES if n != "cleaning") / per_mb
    left = 1 / PIPELINE_GOAL - others  # seconds per MB of input left for cleaning
    if left <= 0:
        return f"the other stages alone exceed the {PIPELINE_GOAL:g} MB/s goal's time"
    share = run["stages"]["cleaning"]["bytes"] / run["pipeline"]["bytes"]
    return (
        f"for {PIPELINE_GOAL:g} MB/s, cleaning would have to run at "
        f"{share / left:.0f} MB/s (it runs at {run['stages']['cleaning']['mb_s']:.2f})"
    )


def speedups(summary: dict[str, dict[str, Any]]) -> list[str]:
    """For each multiple run both ways: every core over one core, whole pipeline and stages."""
    lines = []
    for label, every in summary.items():
        one = summary.get(label.replace("every core", "one core"))
        if not label.endswith("every core") or one is None:
            continue
        per_stage = ", ".join(
            f"{STAGE_NAMES[n].removeprefix('tokenization: ')} "
            f"{every['stages'][n]['mb_s'] / one['stages'][n]['mb_s']:.2f}x"
            for n in STAGES
        )
        # seconds per MB of the pipeline's input text spent in sentencepiece's two stages
        tokenizer_s = sum(every["stages"][n]["seconds"] for n in ("train_tokenizer", "encode")) / (
            every["pipeline"]["bytes"] / MB
        )
        lines.append(
            f"Every core over one core, {label.split(',')[0]}: whole pipeline "
            f"**{every['pipeline']['mb_s'] / one['pipeline']['mb_s']:.2f}x** "
            f"({one['pipeline']['mb_s']:.2f} → {every['pipeline']['mb_s']:.2f} MB/s); "
            f"per stage: {per_stage}. Sentencepiece's training and encoding alone, on every "
            f"core, cap the whole pipeline at {1 / tokenizer_s:.2f} MB/s (a MB of input through "
            f"both takes {tokenizer_s:.2f} s), whatever the other stages do; "
            f"{_cleaning_needed(every)}."
        )
    return lines


def table(summary: dict[str, dict[str, Any]]) -> str:
    """Markdown table: MB/s and peak RSS per stage for each configuration, and the RSS ratio of
    the last to the first."""
    labels = list(summary)
    low, high = labels[0], labels[-1]
    head = "| stage |" + "".join(f" {m} MB/s |" for m in labels)
    head += "".join(f" {m} peak RSS MiB |" for m in labels)
    compare = len(labels) > 1
    head += f" RSS {high} / {low} |" if compare else ""
    lines = [head, "|" + "---|" * (head.count("|") - 1)]

    def row(label: str, key: Callable[[dict[str, Any]], dict[str, float]]) -> str:
        cells = [key(summary[m]) for m in labels]
        line = f"| {label} |" + "".join(f" {c['mb_s']:.2f} |" for c in cells)
        line += "".join(f" {c['peak_rss'] / MIB:.0f} |" for c in cells)
        if compare:
            line += f" {cells[-1]['peak_rss'] / cells[0]['peak_rss']:.2f} |"
        return line

    for name in STAGES:
        lines.append(row(STAGE_NAMES[name], lambda s, n=name: s["stages"][n]))
    lines.append(row("**whole pipeline**", lambda s: s["pipeline"]))
    lines.append(row("peer: raw `sp.encode` (all texts in memory)", lambda s: s["raw_encode"]))
    ratios = " | ".join(
        f"{m}: **{summary[m]['encode_ratio']:.2f}**"
        f" ({', '.join(f'{r:.2f}' for r in summary[m]['encode_ratios'])})"
        for m in labels
    )
    lines.append("")
    lines.append(f"Encoding stage / raw `sp.encode` MB/s (goal >= {ENCODE_GOAL}): {ratios}")
    compared = speedups(summary)
    lines += ["", *compared] if compared else []
    return "\n".join(lines)


def details(summary: dict[str, dict[str, Any]]) -> str:
    """Per configuration: documents, cleaning drops, tokens, baseline RSS, load averages."""
    lines = []
    for m, s in summary.items():
        dropped = ", ".join(f"{k} {v}" for k, v in s["dropped"].items()) or "none"
        lines.append(
            f"- {m}: {s['stages']['ingestion']['bytes'] / MB:.1f} MB of text in "
            f"{s['documents_in']} documents; cleaning kept {s['documents_kept']} "
            f"(dropped: {dropped}); {s['tokens']:,} tokens (vocab {s['vocab_size']}); "
            f"RSS after imports {s['baseline_rss'] / MIB:.0f} MiB, pipeline peak "
            f"{(s['pipeline']['peak_rss'] - s['baseline_rss']) / MIB:.0f} MiB above it; peer token count "
            f"{'matches' if s['tokens_match'] else 'DIFFERS FROM'} the stage's; "
            f"1-min load average before/after each run {s['loadavg_1m']}."
        )
        grown = ", ".join(
            f"{STAGE_NAMES[n].removeprefix('tokenization: ')} "
            f"{(s['stages'][n]['peak_rss'] - s['stages'][n]['rss_start']) / MIB:.0f}"
            for n in STAGES
        )
        lines.append(
            f"  Each stage's own growth (peak RSS minus RSS at its start), MiB: {grown}. "
            f"The sentencepiece trainer was offered {s['train_lines']:,} lines."
        )
    return "\n".join(lines)


def section(
    summary: dict[str, dict[str, Any]], args: argparse.Namespace, command: str, info: dict
) -> str:
    scale_note = (
        ""
        if args.scale >= 1.0
        else (
            f"\n**Small-slice figures (`--scale {args.scale}`: the first {args.scale:.0%} of "
            f"the corpus), not the full benchmark.** The full run is `{FULL_COMMAND}`.\n"
        )
    )
    return f"""{HEADING}

Command: `{command}` (median of {args.repeats} runs per configuration, each in a fresh process).
Machine: {machine_line(info)}. The 1-minute load averages before and after each run are listed
below.
{scale_note}
{table(summary)}

{details(summary)}

How it is measured (`benchmarks/data_pipeline.py`):

- **Input.** The corpus ({Path(args.corpus).name}) is one text file, and one file is one document,
  which cannot stream. It is first cut (untimed) into documents of about {args.doc_chars:,}
  characters, runs of whole lines, written as `copy_<k>.jsonl.gz` and read by the ingestion
  stage as JSONL sources. 1x is copy 0. 4x is copies 0-3 of the same text, but copy k cuts its
  documents k/4 of a document further along: each document of one copy overlaps two of another by
  at most 3/4 of its text (Jaccard <= 0.6 < the 0.8 near-dedup threshold), so deduplication keeps
  the copies, as it keeps distinct pages that share passages. Where one line is longer than a
  quarter of a document, two copies can cut at the same place: the few documents made that way
  are dropped as near duplicates. Exact copies with a marker would
  have been dropped by near-dedup and left the later stages at 1x; shuffled words would not be
  realistic text for the tokenizer. The drop counts above show what dedup did.
- **Stages.** Each configuration runs in a fresh Python process that calls the real node
  functions (`ingest_documents`, `clean_documents`, `split_corpus`, `train_tokenizer`,
  `encode_corpus`) with the parameters of `conf/base` and saves their outputs, in Kedro's order,
  with the real datasets (StreamingParquetDataset, SentencePieceModelDataset, TokenShardsDataset)
  in a temporary folder: what `kedro run --pipelines=data` does, minus the session. Why not a
  real `kedro run`: a per-stage peak RSS needs the peak reset at each node boundary, inside the
  process, which would take a hook registered in the project's settings; and the session adds
  fixed costs (config loading, the MLflow run and its artifacts) unrelated to the corpus size.
  Outputs are unversioned here (a versioned save writes the same bytes one folder deeper). A
  stage's time runs from the node call until its last output is saved (the nodes return
  generators that the datasets consume while saving).
- **Cores.** Each multiple runs twice unless `--workers` says otherwise: on one core
  (`cleaning.workers: 1`, the sentencepiece trainer's and encoder's `num_threads: 1`) and on
  every core (`0` for all three, conf/base's setting). Cleaning prepares batches in worker
  processes and deduplicates in input order, so both keep the same documents; the other stages
  are single calls (ingestion, the split) or sentencepiece's own threads.
- **MB/s** is the stage's input text (UTF-8, 1 MB = 10^6 bytes) over its time: the documents'
  text for ingestion (the gzip decompression and JSON parsing are part of the stage), the ingested
  text for cleaning, the cleaned text for the split, the training split's text for sentencepiece
  training, and both splits' text for encoding. The whole pipeline: ingested text over the summed
  stage times.
- **Peak RSS** is Linux `VmHWM` of that process, reset at each stage start (`clear_refs`), so a
  stage's peak includes what earlier stages left allocated, as in one `kedro run`; the pipeline's
  peak is the largest. It includes the interpreter and imports (the "RSS after imports" above).
- **Peer.** In the same process, after the encoding stage, the same texts (the split table's
  rows, read into memory untimed) are encoded with the same model in one call,
  `sp.encode(texts, num_threads=os.cpu_count())`. The ratio is the stage's MB/s over the peer's,
  per run (median, then each run in brackets). The peer's token count is checked against the
  stage's (less one `<|endoftext|>` between documents).
- **Memory that grows with the corpus, by design:** near-dedup keeps one MinHash signature
  (128 x 8 bytes) and its LSH entries per kept document, exact dedup a 16-byte digest; the
  sentencepiece trainer holds the training lines it is offered, up to `input_sentence_size`
  (2,000,000 lines: beyond that it samples, so its memory stops growing) and its counts; the
  memory a stage frees is not always returned to the system, so a later stage's peak can carry an
  earlier one's. Everything else streams in batches (ingestion's batches are bounded by
  `batch_size` and `batch_max_mb`). The peer holds every text and every token id as Python
  objects: that is the memory streaming saves.
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=CORPUS)
    parser.add_argument("--scale", type=float, default=1.0, help="use this fraction of the corpus")
    parser.add_argument("--multiples", type=int, nargs="+", default=[1, 4])
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 0],
        help="cores to run each multiple on (0 = every core): cleaning.workers and the "
        "sentencepiece trainer's and encoder's num_threads",
    )
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--doc-chars", type=int, default=8000, help="characters per document")
    parser.add_argument("--workdir", type=Path, help="keep inputs and outputs here (default: temp)")
    parser.add_argument("--docs", type=Path, default=DOCS, help="the Markdown file to update")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    parser.add_argument("--no-write", action="store_true", help="print only; leave --docs alone")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 0.0 < args.scale <= 1.0:
        parser.error("--scale must be in (0, 1]")
    if args.doc_chars < 500:
        parser.error("--doc-chars must be at least 500")
    if args.repeats < 1 or min(args.multiples) < 1:
        parser.error("--repeats and --multiples must be positive")
    if args.child is None and not args.corpus.is_file():
        parser.error(f"corpus not found: {args.corpus}")
    return args


def benchmark(args: argparse.Namespace, root: Path) -> dict[str, dict[str, Any]]:
    text = read_corpus(args.corpus, args.scale)
    inputs = prepare_copies(text, root / "inputs", max(args.multiples), args.doc_chars)
    del text
    compare = len(args.workers) > 1
    configs = {
        config_label(m, w if compare else None): (m, w)
        for m in args.multiples
        for w in args.workers
    }
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in configs}
    for repeat in range(args.repeats):
        for k, (label, (m, workers)) in enumerate(configs.items()):
            workdir = root / f"run_{k}_{repeat}"
            workdir.mkdir()
            spec = {
                "label": f"{label} (repeat {repeat + 1})",
                "workdir": str(workdir),
                "sources": [i["path"] for i in inputs[:m]],
                "text_bytes": sum(i["text_bytes"] for i in inputs[:m]),
                "cleaning": {"workers": workers},
                "tokenization": {
                    "sentencepiece.num_threads": workers,
                    "encode.num_threads": workers,
                },
            }
            print(f"running {spec['label']} ...", file=sys.stderr, flush=True)
            runs[label].append(launch(spec))
            shutil.rmtree(workdir)  # the outputs can be large
    return {label: summarise(r) for label, r in runs.items()}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child is not None:
        spec = json.loads(args.child)
        figures = run_configuration(spec)
        (Path(spec["workdir"]) / "result.json").write_text(json.dumps(figures))
        return
    info = machine_info()
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        summary = benchmark(args, Path(tempfile.mkdtemp(dir=args.workdir)))
    else:
        with tempfile.TemporaryDirectory(prefix="bench_data_") as tmp:
            summary = benchmark(args, Path(tmp))
    print(table(summary))
    print(details(summary))
    if args.json is not None:
        args.json.write_text(json.dumps({"machine": info, "summary": summary}, indent=2))
    if not args.no_write:
        command = shlex.join(
            [".venv/bin/python", str(Path(__file__).resolve().relative_to(ROOT)), *sys.argv[1:]]
        )
        write_section(section(summary, args, command, info), HEADING, args.docs)
        print(f"wrote {args.docs}")


if __name__ == "__main__":
    main()
