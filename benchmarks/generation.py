"""Generation speed, batch 1: our KV-cache ``generate()`` against ``transformers`` and against our
own generation without the cache, on the same weights.

The small shape (4 layers, 4 heads, 128 wide; block 512 so that 500 new tokens fit without a
sliding window; vocab 2048), random GPT-2 weights copied into ``GPT2LMHeadModel`` with
``kedro_gpt.model.hf``, greedy decoding of exactly ``--new-tokens`` tokens from the same prompt.
The three alternate over ``--repeats`` rounds; medians are reported.

    .venv/bin/python benchmarks/generation.py                # writes docs/benchmarks.md
    .venv/bin/python benchmarks/generation.py --repeats 2 --new-tokens 100 --no-write
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, machine_line, write_section  # noqa: E402

from kedro_gpt.model.config import GPTConfig  # noqa: E402
from kedro_gpt.model.decode import DecodePlan  # noqa: E402
from kedro_gpt.model.generate import generate  # noqa: E402
from kedro_gpt.model.gpt import GPT  # noqa: E402
from kedro_gpt.model.hf import hf_config, hf_state_dict  # noqa: E402


def build(new_tokens: int) -> tuple[GPT, object, torch.Tensor]:
    from transformers import GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPTConfig(vocab_size=2048, block_size=512, n_layer=4, n_head=4, n_embd=128)
    ours = GPT(config).eval()
    theirs = GPT2LMHeadModel(hf_config(config)).eval()
    theirs.load_state_dict(hf_state_dict(ours), strict=False)
    prompt = torch.randint(0, config.vocab_size, (1, 8), generator=torch.Generator().manual_seed(1))
    assert prompt.shape[1] + new_tokens <= config.block_size
    return ours, theirs, prompt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--new-tokens", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--compile-decode",
        action="store_true",
        help="add a row with the decode step under torch.compile (compiled before timing)",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    n = args.new_tokens
    ours, theirs, prompt = build(n)
    runs = {
        "kedro-gpt, KV cache": lambda: generate(ours, prompt, n, temperature=0.0),
        "kedro-gpt, no cache": lambda: generate(ours, prompt, n, temperature=0.0, use_cache=False),
        "transformers generate(use_cache=True)": lambda: theirs.generate(
            prompt,
            max_new_tokens=n,
            min_new_tokens=n,
            do_sample=False,
            use_cache=True,
            pad_token_id=0,
        ),
    }
    if args.compile_decode:
        compiled_step = torch.compile(DecodePlan.step, dynamic=True)
        eager_step = DecodePlan.step

        def compiled() -> list[list[int]]:
            DecodePlan.step = compiled_step
            try:
                return generate(ours, prompt, n, temperature=0.0)
            finally:
                DecodePlan.step = eager_step

        runs["kedro-gpt, KV cache, torch.compile'd decode step"] = compiled
    with torch.inference_mode():
        if args.compile_decode:
            start = time.perf_counter()
            runs["kedro-gpt, KV cache, torch.compile'd decode step"]()
            print(f"torch.compile warm-up: {time.perf_counter() - start:.0f} s")
        cached = runs["kedro-gpt, KV cache"]()[0]
        hf_tokens = runs["transformers generate(use_cache=True)"]()[0, prompt.shape[1] :].tolist()
        same = cached == hf_tokens
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeats):
            for name, fn in runs.items():
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    speed = {name: n / statistics.median(t) for name, t in times.items()}
    hf = speed["transformers generate(use_cache=True)"]
    rows = [f"| {name} | {speed[name]:,.0f} | {speed[name] / hf:.2f}× |" for name in runs]
    text = (
        f"Command: `.venv/bin/python benchmarks/generation.py --new-tokens {n} --repeats {args.repeats} "
        f"--threads {args.threads}{' --compile-decode' if args.compile_decode else ''}`. {machine_line(machine_info(('torch', 'transformers')))}\n\n"
        "| generator (batch 1, greedy, 4 layers, 128 wide, block 512, vocab 2048) | new tokens/s (median) "
        "| vs transformers |\n|---|---|---|\n" + "\n".join(rows) + "\n\n"
        f"Same weights in both models; greedy tokens identical to transformers': {same}."
    )
    print(text)
    if not args.no_write:
        write_section(text, "## Generation speed")


if __name__ == "__main__":
    main()
