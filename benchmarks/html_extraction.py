"""HTML → text: compare the extractors the cleaning stage can use, and pick the default.

    .venv/bin/python benchmarks/html_extraction.py [--repeats 9] [--no-write]

Similarity: token-level F1 between the extracted text and a plain-text reference. Tokens are the
case-folded ``\\w+`` runs; precision = shared tokens / extracted tokens (boilerplate kept lowers
it), recall = shared tokens / reference tokens (content lost lowers it), shared counted as a
multiset. It is the usual score of extraction benchmarks, and fair here because it ignores what
differs between an extractor's output and the reference for reasons other than extraction:
line wrapping, whitespace, and the reference's Markdown marks (``##``, ``*``, ``--``).
It ignores word order.

References: the Britannica 1911 page's plain-text twin (data/01_raw/html/britannica), and, when
present, the reStructuredText sources of the python docs pages (../shared/data/html_python_docs/
rst_sources, with directives, labels and role markers removed; their F1 is lower for every
extractor because the sources hold words a page never shows).

Speed: MB of HTML per second, the median of ``--repeats`` timed runs of each extractor over the
Britannica page and over the python docs pages of data/01_raw/html/python_docs, and over both.

The winner has the highest mean F1; candidates within 0.005 of it count as tied and the fastest
of them over both inputs wins. The table goes to stdout and to docs/benchmarks.md under "## HTML extraction"
(only that section is replaced).
"""

from __future__ import annotations

import argparse
import platform
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from kedro_gpt.text.extract import EXTRACTORS, extract_html

ROOT = Path(__file__).resolve().parents[1]
BRITANNICA = ROOT / "data/01_raw/html/britannica/britannica_1911_shakespeare.html"
BRITANNICA_REF = BRITANNICA.with_name("britannica_1911_shakespeare.reference.txt")
PYTHON_DOCS = ROOT / "data/01_raw/html/python_docs"
RST_DIR = ROOT.parent / "shared/data/html_python_docs/rst_sources"
DOCS = ROOT / "docs/benchmarks.md"
HEADING = "## HTML extraction"
TIE = 0.005

_TOKEN = re.compile(r"\w+")


def tokens(text: str) -> Counter[str]:
    return Counter(_TOKEN.findall(text.casefold()))


def token_f1(predicted: str, reference: str) -> tuple[float, float, float]:
    """(precision, recall, F1) of the multiset of tokens."""
    p, r = tokens(predicted), tokens(reference)
    shared = sum((p & r).values())
    precision = shared / max(1, sum(p.values()))
    recall = shared / max(1, sum(r.values()))
    f1 = 2 * precision * recall / (precision + recall) if shared else 0.0
    return precision, recall, f1


def rst_plain(source: str) -> str:
    """RST source without directives, explicit targets and role markers (``:func:``)."""
    source = re.sub(r"^\s*\.\. [\w:-]+::.*$", "", source, flags=re.MULTILINE)
    source = re.sub(r"^\s*\.\. _[^:]+:.*$", "", source, flags=re.MULTILINE)
    return re.sub(r":[\w:-]+:`", "`", source)


def median_seconds(extractor: str, pages: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for page in pages:
            extract_html(page, extractor)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def megabytes(pages: list[str]) -> float:
    return sum(len(p.encode("utf-8")) for p in pages) / 1e6


def run(repeats: int, rst_dir: Path) -> tuple[list[dict], str]:
    britannica = BRITANNICA.read_text(encoding="utf-8")
    reference = BRITANNICA_REF.read_text(encoding="utf-8")
    docs = sorted(PYTHON_DOCS.glob("*.html"))
    pages = [p.read_text(encoding="utf-8") for p in docs]
    rst = {p.stem: rst_dir / "tutorial" / f"{p.stem}.rst.txt" for p in docs}
    have_rst = rst_dir.is_dir() and all(r.exists() for r in rst.values())
    rows = []
    for name in sorted(EXTRACTORS):
        extract_html(britannica, name)  # warm-up: imports, lazy initialisation
        row = {"extractor": name}
        row["precision"], row["recall"], row["f1"] = token_f1(
            extract_html(britannica, name).text, reference
        )
        row["f1s"] = [row["f1"]]
        if have_rst:
            f1s = [
                token_f1(extract_html(page, name).text, rst_plain(rst[p.stem].read_text("utf-8")))[
                    2
                ]
                for p, page in zip(docs, pages, strict=True)
            ]
            row["rst_f1"] = statistics.mean(f1s)
            row["f1s"].append(row["rst_f1"])
        row["mean_f1"] = statistics.mean(row["f1s"])
        seconds_b = median_seconds(name, [britannica], repeats)
        seconds_d = median_seconds(name, pages, repeats)
        row["britannica_mb_s"] = megabytes([britannica]) / seconds_b
        row["docs_mb_s"] = megabytes(pages) / seconds_d
        row["all_mb_s"] = megabytes([britannica, *pages]) / (seconds_b + seconds_d)
        rows.append(row)
    best = max(r["mean_f1"] for r in rows)
    tied = [r for r in rows if r["mean_f1"] >= best - TIE]
    winner = max(tied, key=lambda r: r["all_mb_s"])["extractor"]
    return rows, winner


def table(rows: list[dict], winner: str) -> str:
    has_rst = "rst_f1" in rows[0]
    head = "| extractor | Britannica P | R | F1 |" + (" docs F1 (RST) |" if has_rst else "")
    head += " Britannica MB/s | docs MB/s | all MB/s |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        mark = " (winner)" if r["extractor"] == winner else ""
        line = (
            f"| {r['extractor']}{mark} | {r['precision']:.4f} | {r['recall']:.4f} | {r['f1']:.4f} |"
        )
        if has_rst:
            line += f" {r['rst_f1']:.4f} |"
        line += f" {r['britannica_mb_s']:.1f} | {r['docs_mb_s']:.1f} | {r['all_mb_s']:.1f} |"
        lines.append(line)
    return "\n".join(lines)


def section(rows: list[dict], winner: str, repeats: int, command: str, sizes: str) -> str:
    return f"""{HEADING}

Command: `{command}` (median of {repeats} runs; {platform.processor() or platform.machine()},
Python {platform.python_version()}; 2 cores shared with other jobs, so speeds vary between runs:
up to 2.5x was seen, the ranking by "all MB/s" held). Inputs: {sizes}.

{table(rows, winner)}

Similarity is token F1 (case-folded `\\w+` tokens counted as a multiset) against the Britannica
page's plain-text twin and, in "docs F1 (RST)", the mean over the python docs pages against their
reStructuredText sources (markup stripped; their words include what no page shows, so recall is
below 1 for every extractor). F1 ignores line wrapping and the reference's Markdown marks, so it
scores what was kept and dropped, not layout. The winner has the best mean F1; within
{TIE} of it, the fastest over all pages ("all MB/s": total bytes over the summed median times)
wins. `cleaning.html.extractor` defaults to **{winner}**.

Beyond the score (same pages, read by eye): resiliparse joins a paragraph's wrapped source lines
into one line and keeps the indentation of `<pre>` code; selectolax (tag rules, no boilerplate
model) keeps the source's line wrapping and collapses code indentation; trafilatura keeps
Sphinx's pilcrow (¶) in headings and in the title it reports.
"""


def write_section(text: str, path: Path = DOCS) -> None:
    """Replace the section under HEADING in ``path`` (or append it); other sections stay."""
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(old):
        new = pattern.sub(lambda _: text.rstrip("\n") + "\n\n", old).rstrip("\n") + "\n"
    else:
        new = old.rstrip("\n") + "\n\n" + text
    path.write_text(new, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--rst-dir", type=Path, default=RST_DIR)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    rows, winner = run(args.repeats, args.rst_dir)
    sizes = (
        f"Britannica {BRITANNICA.stat().st_size / 1e3:.0f} KB; "
        f"{len(list(PYTHON_DOCS.glob('*.html')))} python docs pages, "
        f"{sum(p.stat().st_size for p in PYTHON_DOCS.glob('*.html')) / 1e3:.0f} KB"
    )
    print(table(rows, winner))
    print(f"winner: {winner}")
    if not args.no_write:
        command = "python " + " ".join(
            [str(Path(sys.argv[0]).resolve().relative_to(ROOT)), *sys.argv[1:]]
        )
        write_section(section(rows, winner, args.repeats, command, sizes))
        print(f"wrote {DOCS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
