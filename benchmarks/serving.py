"""Serving benchmark: N concurrent clients for D seconds against a real `kedro-gpt serve`.

Runs the server twice (batching on, then ``--no-batching``) on the same model and reports, per
mode: requests, errors, p50/p99 latency, generated tokens/s. Also the generation speed of our
KV-cache ``generate`` against ``transformers`` ``generate(use_cache=True)`` on the same weights
(greedy, batch 1), as a ratio. Needs the CPU: run it on an idle machine.

    .venv/bin/python benchmarks/serving.py --duration 60 --clients 32   # full run
    .venv/bin/python benchmarks/serving.py --duration 15 --clients 32   # shortened
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(model: str | None, batching: bool, port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "kedro_gpt.serving.cli", "serve", "--port", str(port)]
    cmd += ["--model", model] if model else []
    cmd += [] if batching else ["--no-batching"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {' '.join(cmd)}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("server did not start")


async def _client(http: httpx.AsyncClient, until: float, max_tokens: int, out: dict) -> None:
    body = {"model": "kedro-gpt", "prompt": "ROMEO:", "max_tokens": max_tokens,
            "temperature": 0.8, "top_k": 50}  # fmt: skip
    while time.monotonic() < until:
        start = time.monotonic()
        try:
            response = await http.post("/v1/completions", json=body)
            if response.status_code != 200:
                out["errors"].append(response.status_code)
                continue
            out["tokens"] += response.json()["usage"]["completion_tokens"]
            out["latency"].append(time.monotonic() - start)
        except httpx.HTTPError as err:
            out["errors"].append(type(err).__name__)


async def _load(url: str, clients: int, duration: float, max_tokens: int) -> dict:
    out: dict = {"latency": [], "errors": [], "tokens": 0}
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        start = time.monotonic()
        until = start + duration
        await asyncio.gather(*(_client(http, until, max_tokens, out) for _ in range(clients)))
        elapsed = time.monotonic() - start
    lat = sorted(out["latency"])
    return {
        "requests": len(lat),
        "errors": len(out["errors"]),
        "error_kinds": sorted({str(e) for e in out["errors"]}),
        "p50_s": round(statistics.median(lat), 3) if lat else None,
        "p99_s": round(lat[min(len(lat) - 1, int(0.99 * len(lat)))], 3) if lat else None,
        "tokens_per_s": round(out["tokens"] / elapsed, 1),
        "requests_per_s": round(len(lat) / elapsed, 2),
        "wall_s": round(elapsed, 1),
    }


def hf_ratio(model: str | None, new_tokens: int = 128, repeats: int = 5) -> dict:
    """Seconds for greedy generation of ``new_tokens`` (batch 1): ours vs transformers.

    The two alternate, best of ``repeats`` each, so a burst of load hits both alike.
    """
    import torch
    from transformers import GPT2LMHeadModel

    from kedro_gpt.model import generate
    from kedro_gpt.model.hf import export_hf
    from kedro_gpt.serving.project import model_locations
    from kedro_gpt.tracking.model_source import load_model

    bundle = load_model(model, model_locations())
    with tempfile.TemporaryDirectory() as tmp:
        hf = GPT2LMHeadModel.from_pretrained(export_hf(bundle, tmp), local_files_only=True).eval()
    ids = torch.tensor([bundle.tokenizer.encode("ROMEO:")])
    n = min(new_tokens, bundle.config.block_size - ids.shape[1])

    def best(fn) -> float:
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)

    with torch.inference_mode():
        ours = best(lambda: generate(bundle.model, ids, n, temperature=0))
        theirs = best(
            lambda: hf.generate(
                ids,
                max_new_tokens=n,
                min_new_tokens=n,
                do_sample=False,
                use_cache=True,
                pad_token_id=0,
            )  # fmt: skip
        )
    return {"new_tokens": n, "ours_s": round(ours, 4), "transformers_s": round(theirs, 4),
            "speedup": round(theirs / ours, 2)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="default: latest gpt_model version")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--skip-hf", action="store_true")
    parser.add_argument("--only-hf", action="store_true")
    args = parser.parse_args()
    result = {"clients": args.clients, "duration_s": args.duration, "max_tokens": args.max_tokens,
              "loadavg_1m_before": round(os.getloadavg()[0], 2)}  # fmt: skip
    for batching in () if args.only_hf else (True, False):
        port = _free_port()
        proc = _start_server(args.model, batching, port)
        try:
            result["batching" if batching else "no_batching"] = asyncio.run(
                _load(f"http://127.0.0.1:{port}", args.clients, args.duration, args.max_tokens)
            )
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    if not args.skip_hf:
        result["hf_generate"] = hf_ratio(args.model)
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
