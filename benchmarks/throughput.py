"""Training throughput: kedro-gpt's trainer against Hugging Face ``GPT2LMHeadModel``, same run.

Both train the same shape on the same character-level Tiny Shakespeare (first 90 %), with AdamW
(decay on 2-D weights), the same batch, learning rate and thread count, in fp32 on the CPU. The
two alternate in blocks of steps so that noise on the machine hits both alike: our ``train()``
runs with a callback that, every ``block`` steps, stops our clock and runs ``block`` steps of the
peer (a nanoGPT-style loop around ``GPT2LMHeadModel``). Our time includes everything our trainer
does per step (batch sampling, LR schedule, clipping, logging).

    .venv/bin/python benchmarks/throughput.py                  # both shapes, writes docs/benchmarks.md
    .venv/bin/python benchmarks/throughput.py --shapes small --blocks 3 --no-write
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, machine_line, write_section  # noqa: E402

from kedro_gpt.model.config import GPTConfig  # noqa: E402
from kedro_gpt.model.gpt import GPT  # noqa: E402
from kedro_gpt.model.hf import hf_config  # noqa: E402
from kedro_gpt.training.callbacks import TrainCallback  # noqa: E402
from kedro_gpt.training.config import TrainConfig  # noqa: E402
from kedro_gpt.training.data import RandomWindows  # noqa: E402
from kedro_gpt.training.meter import matmul_peak  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "01_raw" / "tinyshakespeare" / "input.txt"
# nanoGPT's CPU "baby" config, and a 6-layer 384-wide block-256 model (nanoGPT shakespeare-char shape)
SHAPES = {
    "small": {
        "n_layer": 4,
        "n_head": 4,
        "n_embd": 128,
        "block_size": 64,
        "batch": 12,
        "steps": 100,
    },
    "medium": {
        "n_layer": 6,
        "n_head": 6,
        "n_embd": 384,
        "block_size": 256,
        "batch": 12,
        "steps": 8,
    },
}
NANOGPT = {
    "small": 12_300,
    "medium": 1_600,
}  # tokens/s measured here for nanoGPT (the figures)
LR, BETAS, WD = 1e-3, (0.9, 0.99), 0.1


def char_tokens() -> tuple[np.ndarray, int]:
    text = CORPUS.read_text(encoding="utf-8")
    chars = sorted(set(text))
    lookup = {c: i for i, c in enumerate(chars)}
    ids = np.array([lookup[c] for c in text[: int(len(text) * 0.9)]], dtype=np.uint16)
    return ids, len(chars)


def hf_peer(shape: dict, config: GPTConfig, tokens: np.ndarray, seed: int):
    """A nanoGPT-style loop around transformers' GPT2LMHeadModel of ``config``'s shape (through
    ``kedro_gpt.model.hf.hf_config``); returns ``run(steps) -> seconds``."""
    from transformers import GPT2LMHeadModel

    torch.manual_seed(seed)
    model = GPT2LMHeadModel(hf_config(config)).train()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": WD}, {"params": other, "weight_decay": 0.0}],
        lr=LR,
        betas=BETAS,
    )
    data = torch.from_numpy(tokens.astype(np.int64))
    block, batch = shape["block_size"], shape["batch"]
    generator = torch.Generator().manual_seed(seed)

    def run(steps: int) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            ix = torch.randint(len(data) - block - 1, (batch,), generator=generator)
            x = torch.stack([data[i : i + block] for i in ix])
            y = torch.stack([data[i + 1 : i + 1 + block] for i in ix])
            logits = model(input_ids=x).logits
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        return time.perf_counter() - start

    return run


class Alternate(TrainCallback):
    """Times our steps between log events and runs the peer's block inside each event."""

    def __init__(self, peer, block: int) -> None:
        self.peer, self.block = peer, block
        self.ours: list[float] = []
        self.theirs: list[float] = []
        self._resumed = time.perf_counter()

    def on_train_start(self, info: dict) -> None:
        self.peer(2)  # warm the peer up too
        self._resumed = time.perf_counter()

    def on_log(self, step: int, metrics: dict[str, float]) -> None:
        self.ours.append(time.perf_counter() - self._resumed)
        self.theirs.append(self.peer(self.block))
        self._resumed = time.perf_counter()


def measure(
    name: str, blocks: int, threads: int, seed: int = 1337, compile: bool = False
) -> dict[str, float]:
    shape = SHAPES[name]
    torch.set_num_threads(threads)
    tokens, vocab = char_tokens()
    block = shape["steps"]
    config = GPTConfig(
        vocab_size=vocab,
        block_size=shape["block_size"],
        n_layer=shape["n_layer"],
        n_head=shape["n_head"],
        n_embd=shape["n_embd"],
        dropout=0.0,
        bias=True,
    )
    torch.manual_seed(seed)
    model = GPT(config)
    train_config = TrainConfig(
        optimizer="adamw",  # the peer's optimizer
        schedule="cosine",
        batch_size=shape["batch"],
        learning_rate=LR,
        beta1=BETAS[0],
        beta2=BETAS[1],
        weight_decay=WD,
        warmup_steps=10,
        max_steps=block * (blocks + 1),
        log_interval=block,
        eval_interval=10**9,
        checkpoint_interval=10**9,
        final_eval=False,
        progress_bar=False,
        num_threads=threads,
        seed=seed,
        device="cpu",
        dtype="float32",
        compile=compile,
    )
    batches = RandomWindows([tokens], shape["block_size"], shape["batch"], seed=seed)
    peer = hf_peer(shape, config, tokens, seed)
    timer = Alternate(peer, block)
    from kedro_gpt.training.loop import train

    with tempfile.TemporaryDirectory() as out:
        train(model, batches, train_config, out, callbacks=[timer], model_config=config.to_dict())
    tokens_per_step = shape["batch"] * shape["block_size"]
    ours = [block * tokens_per_step / t for t in timer.ours[1:]]  # block 0 includes warm-up
    theirs = [block * tokens_per_step / t for t in timer.theirs[1:]]
    peak = matmul_peak(torch.device("cpu"), torch.float32)
    flops = model.flops_per_token()
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    return {
        "ours": statistics.median(ours),
        "theirs": statistics.median(theirs),
        "ratio": statistics.median(ratios),
        "mfu_ours": statistics.median(ours) * flops / peak,
        "mfu_theirs": statistics.median(theirs) * flops / peak,
        "peak": peak,
        "blocks": len(ratios),
        "block_steps": block,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument(
        "--blocks", type=int, default=5, help="timed blocks per side (one more warms up)"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--compile", action="store_true", help="our model under torch.compile (warm-up block)"
    )
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args(argv)
    info = machine_info(("torch", "transformers"))
    rows = []
    peak = 0.0
    for name in args.shapes:
        r = measure(name, args.blocks, args.threads, compile=args.compile)
        s, peak = SHAPES[name], r["peak"]
        rows.append(
            f"| {name}: {s['n_layer']} layers, {s['n_embd']} wide, block {s['block_size']}, batch {s['batch']} "
            f"| {r['ours']:,.0f} ({100 * r['mfu_ours']:.0f} %) | {r['theirs']:,.0f} ({100 * r['mfu_theirs']:.0f} %) "
            f"| **{r['ratio']:.2f}×** | {r['ours'] / NANOGPT[name]:.2f}× | {r['blocks']} × {r['block_steps']} |"
        )
        print(
            f"{name}: ours {r['ours']:,.0f} tok/s, transformers {r['theirs']:,.0f} tok/s, ratio {r['ratio']:.2f}"
        )
    table = "\n".join(
        [
            "| shape | kedro-gpt tokens/s (MFU) | transformers tokens/s (MFU) | ratio (median of blocks) "
            "| vs nanoGPT's figure | blocks × steps |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )
    text = (
        f"Command: `.venv/bin/python benchmarks/throughput.py --threads {args.threads} --blocks {args.blocks}"
        f"{' --compile' if args.compile else ''}`. "
        f"{machine_line(info)}\n\n{table}\n\n"
        "Character-level Tiny Shakespeare (vocab 65), fp32, AdamW (lr 1e-3, betas 0.9/0.99, decay 0.1 on "
        "2-D weights), clipping 1.0, no dropout; blocks of steps alternate between the two trainers in one "
        "process. MFU is against the fp32 matmul peak measured on this machine "
        f'({peak / 1e9:.0f} GFLOP/s). "vs nanoGPT" divides by the tokens/s the issue '
        "reports for nanoGPT on this machine (12.3 k small, 1.6 k medium), measured in another run."
    )
    print(text)
    if not args.no_write:
        write_section(text, "## Training throughput")


if __name__ == "__main__":
    main()
