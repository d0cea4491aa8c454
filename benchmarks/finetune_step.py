"""Where a fine-tuning member's time goes: the bare classifier step against the checkpoint saves.

A GPU member of the English recipe at 8 layers × 512 took 48 s for 800 steps at 1.6 % MFU
(docs/benchmarks.md, "On a GPU"). This times, on random token ids of rt-polarity's length, the
step the fine-tune runs (``GPTClassifier`` with concat pooling, AdamW, bf16 autocast on CUDA) and
``save_checkpoint`` with and without the optimizer state, so the two can be set side by side.

    python benchmarks/finetune_step.py                    # CUDA when present, else the CPU
    python benchmarks/finetune_step.py --steps 20 --device cpu
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from kedro_gpt.model import model_config
from kedro_gpt.model.classifier import GPTClassifier
from kedro_gpt.model.gpt import GPT, IGNORE_INDEX
from kedro_gpt.training.checkpoint import save_checkpoint


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_ms(model: GPTClassifier, device: torch.device, args: argparse.Namespace) -> float:
    """Median milliseconds of a forward, backward and AdamW step over ``args.steps`` steps."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.type == "cuda")
    gen = torch.Generator().manual_seed(0)
    idx = torch.randint(1, args.vocab, (args.batch, args.tokens), generator=gen).to(device)
    labels = torch.full_like(idx, IGNORE_INDEX)  # the label at the last token, as the task sets it
    labels[:, -1] = torch.randint(0, 2, (args.batch,), generator=gen).to(device)
    times = []
    for i in range(args.warmup + args.steps):
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            _, loss = model(idx, labels)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        _sync(device)
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
    model.saved_optimizer = opt  # type: ignore[attr-defined]  # for the save timings
    return 1000 * statistics.median(times)


def save_s(model: GPTClassifier, with_optimizer: bool, repeats: int = 5) -> float:
    """Median seconds of ``save_checkpoint``, with AdamW's state or counters only."""
    opt = model.saved_optimizer  # type: ignore[attr-defined]
    times = []
    with tempfile.TemporaryDirectory(dir=".") as folder:
        for _ in range(repeats):
            state = {"step": 1, **({"optimizer": opt.state_dict()} if with_optimizer else {})}
            start = time.perf_counter()
            save_checkpoint(f"{folder}/ckpt", model.backbone, {"step": 1}, state)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--vocab", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=40, help="ids a sentence (rt-polarity ~30)")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    device = torch.device(args.device)
    shape = {"n_layer": args.layers, "n_head": args.layers, "n_embd": args.width}
    backbone = GPT(model_config(None, args.vocab, block_size=256, **shape))
    model = GPTClassifier(backbone, 2, pad_id=0, pooling="concat").to(device)
    millis = step_ms(model, device, args)
    full, lean = save_s(model, True), save_s(model, False)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    print(
        f"{params:.1f} M parameters on {device}: step {millis:.1f} ms (800 steps: "
        f"{0.8 * millis:.1f} s); save with AdamW state {full:.2f} s, without {lean:.2f} s"
    )


if __name__ == "__main__":
    main()
