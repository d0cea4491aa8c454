"""The ``kedro-gpt`` command line: serve, generate, chat, export-hf, import-hf.

Every command picks its model with ``--model``: ``models:/NAME@alias``, ``models:/NAME/VERSION``
(MLflow, ``--tracking-uri``), a catalog version timestamp of ``gpt_model``, or a model folder;
without it, the latest ``gpt_model`` version under ``--models-dir``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from kedro_gpt.serving.model_source import (
    DEFAULT_MODELS_DIR,
    DEFAULT_TRACKING_URI,
    ModelSourceError,
    load_bundle,
)

model_option = click.option(
    "--model",
    "source",
    default=None,
    help="models:/NAME@alias, models:/NAME/VERSION, a gpt_model version, or a folder "
    "(default: the latest gpt_model version)",
)
models_dir_option = click.option(
    "--models-dir",
    default=str(DEFAULT_MODELS_DIR),
    show_default=True,
    help="where the catalog keeps gpt_model versions",
)
tracking_option = click.option(
    "--tracking-uri",
    default=lambda: os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_TRACKING_URI),
    show_default="$MLFLOW_TRACKING_URI or sqlite:///mlflow.db",
)


def _sampling_options(f):
    for option in reversed(
        [
            click.option("--max-tokens", default=200, show_default=True, type=click.IntRange(0)),
            click.option("--temperature", default=0.8, show_default=True, type=float),
            click.option("--top-k", default=50, show_default=True, type=click.IntRange(1)),
            click.option("--top-p", default=None, type=float),
            click.option("--seed", default=None, type=int),
        ]
    ):
        f = option(f)
    return f


def _load(source: str | None, models_dir: str, tracking_uri: str, device: str = "cpu"):
    try:
        return load_bundle(source, models_dir=models_dir, tracking_uri=tracking_uri, device=device)
    except (ModelSourceError, FileNotFoundError, ValueError) as err:
        raise click.ClickException(str(err)) from None


def _stream(bundle, ids: list[int], stop_ids: list[int], **sampling) -> str:
    """Generate after ``ids``, writing text to stdout as it comes; returns the whole text."""
    from kedro_gpt.model import stream_generate
    from kedro_gpt.serving.textstream import TextStream

    max_tokens = sampling.pop("max_tokens")
    text = TextStream(bundle.tokenizer.decode)
    for token in stream_generate(bundle.model, ids, max_tokens, stop_tokens=stop_ids, **sampling):
        click.echo(text.push(token), nl=False)
        sys.stdout.flush()
    click.echo(text.finish())
    return text.text


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """kedro-gpt: serve and try the models this project trains."""


@cli.command()
@model_option
@models_dir_option
@tracking_option
@click.option("--host", default="127.0.0.1", show_default=True, help="0.0.0.0 to listen on all")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--model-name", default="kedro-gpt", show_default=True, help="id in /v1/models")
@click.option("--api-key", envvar="KEDRO_GPT_API_KEY", default=None, help="$KEDRO_GPT_API_KEY")
@click.option("--max-tokens-limit", default=512, show_default=True, type=click.IntRange(1))
@click.option("--max-queue", default=64, show_default=True, type=click.IntRange(1))
@click.option("--max-batch-size", default=8, show_default=True, type=click.IntRange(1))
@click.option("--request-timeout", default=60.0, show_default=True, type=float)
@click.option("--queue-timeout", default=30.0, show_default=True, type=float)
@click.option("--batching/--no-batching", default=True, show_default=True)
@click.option("--device", default="cpu", show_default=True)
def serve(
    source, models_dir, tracking_uri, host, port, model_name, api_key, max_tokens_limit,
    max_queue, max_batch_size, request_timeout, queue_timeout, batching, device,
) -> None:  # fmt: skip
    """Serve the model with an OpenAI-compatible API (uvicorn)."""
    import uvicorn

    from kedro_gpt.serving import ServerSettings, create_app

    bundle = _load(source, models_dir, tracking_uri, device)
    settings = ServerSettings(
        host=host,
        port=port,
        model_name=model_name,
        api_key=api_key,
        max_tokens_limit=max_tokens_limit,
        max_queue=max_queue,
        max_batch_size=max_batch_size,
        request_timeout_s=request_timeout,
        queue_timeout_s=queue_timeout,
        batching=batching,
    )
    if host not in ("127.0.0.1", "localhost", "::1") and api_key is None:
        click.echo(f"warning: listening on {host} without an API key", err=True)
    uvicorn.run(create_app(bundle, settings), host=host, port=port, log_level="info")


@cli.command()
@click.argument("prompt")
@model_option
@models_dir_option
@tracking_option
@_sampling_options
def generate(source, models_dir, tracking_uri, prompt, **sampling) -> None:
    """Continue PROMPT, streaming the text to the terminal."""
    from kedro_gpt.tokenizer.chat import stop_token_ids

    bundle = _load(source, models_dir, tracking_uri)
    sp = bundle.tokenizer
    ids = sp.encode(prompt) or [sp.piece_to_id("\n")]
    try:
        stops = stop_token_ids(sp)
    except ValueError:
        stops = []
    click.echo(prompt, nl=False)
    _stream(bundle, ids, stops, **sampling)


@cli.command()
@model_option
@models_dir_option
@tracking_option
@click.option("--system", default=None, help="a system message to start the conversation")
@_sampling_options
def chat(source, models_dir, tracking_uri, system, **sampling) -> None:
    """Talk with a chat model: one user message per line; /reset, /exit (or end of input)."""
    from kedro_gpt.tokenizer.chat import encode_chat, stop_token_ids

    bundle = _load(source, models_dir, tracking_uri)
    try:
        stops = stop_token_ids(bundle.tokenizer)
    except ValueError as err:
        raise click.ClickException(f"this model cannot chat: {err}") from None
    start = [{"role": "system", "content": system}] if system else []
    messages = list(start)
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            click.echo("you> ", nl=False)
        line = sys.stdin.readline()
        if not line or line.strip() == "/exit":
            return
        line = line.rstrip("\n")
        if line.strip() == "/reset":
            messages = list(start)
            continue
        messages.append({"role": "user", "content": line})
        ids, _ = encode_chat(bundle.tokenizer, messages, add_generation_prompt=True)
        click.echo("assistant> ", nl=False)
        reply = _stream(bundle, ids, stops, **sampling)
        messages.append({"role": "assistant", "content": reply})


@cli.command("export-hf")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@model_option
@models_dir_option
@tracking_option
def export_hf_command(source, models_dir, tracking_uri, out_dir: Path) -> None:
    """Write the model as a transformers GPT-2 folder OUT_DIR."""
    from kedro_gpt.model.hf import HFConversionError, export_hf

    bundle = _load(source, models_dir, tracking_uri)
    try:
        export_hf(bundle, out_dir)
    except HFConversionError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"wrote {out_dir} (load it with GPT2LMHeadModel.from_pretrained)")


@cli.command("import-hf")
@click.argument("hf_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
def import_hf_command(hf_dir: Path, out_dir: Path) -> None:
    """Turn a local transformers GPT-2 folder HF_DIR into a kedro-gpt model folder OUT_DIR.

    HF_DIR holds config.json, the weights and a tokenizer: the tokenizer.model that export-hf
    writes, or a tokenizer.json such as GPT-2's own BPE (the chat and padding tokens it lacks
    are added, with new embedding rows). OUT_DIR works with --model and as the fine-tuning
    pipeline's finetuning.base_model.path.
    """
    from kedro_gpt.model.hf import HFConversionError, import_hf

    try:
        bundle = import_hf(hf_dir, out_dir)
    except (HFConversionError, FileNotFoundError) as err:
        raise click.ClickException(str(err)) from None
    added = bundle.info.get("added_special_tokens")
    if added:
        click.echo(
            f"added special tokens {', '.join(added)} (vocab_size {bundle.config.vocab_size})"
        )
    click.echo(f"wrote {out_dir} (use it with --model {out_dir})")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
