"""The ``kedro-gpt`` command line: serve, generate, chat, export-hf, import-hf.

Every command picks its model with ``--model`` (see :mod:`kedro_gpt.tracking.model_source`):
``models:/NAME@alias``, ``models:/NAME/VERSION``, ``runs:/…`` (MLflow), a catalog model dataset
(``gpt_model``, ``finetuned_model``) or one version of it (``gpt_model:VERSION``, or the bare
version), or a model folder. Without it: the latest ``gpt_model``; ``chat`` prefers the newest
model fine-tuned for chat. Where the catalog keeps its versions and which MLflow store to ask come
from the Kedro project in ``--project`` (its ``conf/``, environment ``--env``). Each command
says on stderr which model it loaded.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from kedro_gpt.serving.schemas import MIN_TEMPERATURE, MIN_TOP_P


def _model_options(f):
    for option in reversed(
        [
            click.option(
                "--model",
                "source",
                default=None,
                help="models:/NAME@alias, models:/NAME/VERSION, gpt_model, finetuned_model, "
                "DATASET:VERSION, a version, or a folder (default: the latest gpt_model)",
            ),
            click.option(
                "--project",
                default=".",
                show_default=True,
                type=click.Path(file_okay=False, path_type=Path),
                help="the Kedro project whose catalog and MLflow settings locate models",
            ),
            click.option("--env", default=None, help="the project's configuration environment"),
            click.option(
                "--tracking-uri",
                envvar="MLFLOW_TRACKING_URI",
                default=None,
                help="MLflow store [default: $MLFLOW_TRACKING_URI or the project's mlflow.yml]",
            ),
        ]
    ):
        f = option(f)
    return f


def _check_temperature(ctx, param, value: float) -> float:
    if value < 0 or 0 < value < MIN_TEMPERATURE:
        raise click.BadParameter(f"0 (greedy) or at least {MIN_TEMPERATURE:g}")
    return value


def _sampling_options(f):
    for option in reversed(
        [
            click.option("--max-tokens", default=200, show_default=True, type=click.IntRange(0)),
            click.option(
                "--temperature",
                default=0.8,
                show_default=True,
                type=float,
                callback=_check_temperature,
            ),
            click.option("--top-k", default=50, show_default=True, type=click.IntRange(1)),
            click.option("--top-p", default=None, type=click.FloatRange(MIN_TOP_P, 1.0)),
            click.option("--seed", default=None, type=int),
        ]
    ):
        f = option(f)
    return f


def _locations(project: Path, env: str | None, tracking_uri: str | None):
    from kedro_gpt.serving.project import model_locations
    from kedro_gpt.tracking.model_source import ModelSourceError

    try:
        return model_locations(project, env, tracking_uri)
    except ModelSourceError as err:
        raise click.ClickException(str(err)) from None


def _load(source: str | None, locations, device: str = "cpu"):
    """The model, or one line on stderr naming what is wrong (exit 1)."""
    from kedro_gpt.tracking.model_source import describe, load_model

    try:
        bundle = load_model(source, locations, device)
    except (OSError, ValueError) as err:  # ModelSourceError, ModelFolderError, a missing file
        raise click.ClickException(" ".join(str(err).split())) from None
    click.echo(f"model: {describe(bundle)}", err=True)
    return bundle


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
@_model_options
@click.option("--host", default="127.0.0.1", show_default=True, help="0.0.0.0 to listen on all")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--model-name", default="kedro-gpt", show_default=True, help="id in /v1/models")
@click.option("--api-key", envvar="KEDRO_GPT_API_KEY", default=None, help="$KEDRO_GPT_API_KEY")
@click.option("--max-tokens-limit", default=512, show_default=True, type=click.IntRange(1))
@click.option("--max-queue", default=64, show_default=True, type=click.IntRange(1))
@click.option("--max-batch-size", default=8, show_default=True, type=click.IntRange(1))
@click.option("--request-timeout", default=60.0, show_default=True, type=click.FloatRange(0.001))
@click.option("--queue-timeout", default=30.0, show_default=True, type=click.FloatRange(0.001))
@click.option("--read-timeout", default=20.0, show_default=True, type=click.FloatRange(0.001),
              help="seconds a client has to send a whole request")  # fmt: skip
@click.option("--max-body-bytes", default=1_048_576, show_default=True, type=click.IntRange(1))
@click.option("--docs/--no-docs", default=True, show_default=True,
              help="serve /docs, /redoc and /openapi.json (open without a key)")  # fmt: skip
@click.option("--batching/--no-batching", default=True, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--feedback-db", default=None, envvar="KEDRO_GPT_FEEDBACK_DB",
              help="SQLAlchemy URL of the feedback database "
              "[default: sqlite:///PROJECT/data/feedback/feedback.db; 'none' for no feedback]")  # fmt: skip
@click.option("--follow-interval", default=30.0, show_default=True, type=click.FloatRange(0),
              help="with --model models:/NAME@ALIAS: seconds between checks that the alias "
              "moved (0: only POST /admin/reload)")  # fmt: skip
def serve(
    source, project, env, tracking_uri, host, port, model_name, api_key, max_tokens_limit,
    max_queue, max_batch_size, request_timeout, queue_timeout, read_timeout, max_body_bytes,
    docs, batching, device, feedback_db, follow_interval,
) -> None:  # fmt: skip
    """Serve the model with an OpenAI-compatible API and the playground page at / (uvicorn).

    With --model models:/NAME@ALIAS the server follows the alias: when it moves to another
    version, the new model is loaded in the background and answers from the next request on."""
    from kedro_gpt.serving import ServerSettings, create_app
    from kedro_gpt.serving.server import serve as run_server
    from kedro_gpt.tracking.model_source import follows_alias, load_model, registered_version

    locations = _locations(project, env, tracking_uri)
    bundle = _load(source, locations, device)
    settings = ServerSettings(
        model_name=model_name,
        api_key=api_key,
        docs=docs,
        max_body_bytes=max_body_bytes,
        read_timeout_s=read_timeout,
        max_tokens_limit=max_tokens_limit,
        max_queue=max_queue,
        max_batch_size=max_batch_size,
        request_timeout_s=request_timeout,
        queue_timeout_s=queue_timeout,
        batching=batching,
        feedback_url=_feedback_url(feedback_db, project),
        follow_interval_s=follow_interval,
    )
    if host not in ("127.0.0.1", "localhost", "::1") and api_key is None:
        click.echo(f"warning: listening on {host} without an API key", err=True)
    version = None
    if follows_alias(source):
        click.echo(f"following {source} (every {follow_interval:g} s)", err=True)
        version = lambda: registered_version(source, locations.tracking_uri)  # noqa: E731
    app = create_app(
        bundle, settings, reload=lambda: load_model(source, locations, device), version=version
    )
    click.echo(f"playground: http://{host}:{port}/", err=True)
    run_server(app, settings, host, port)


def _feedback_url(option: str | None, project: Path) -> str | None:
    if option is None:
        return f"sqlite:///{(project / 'data' / 'feedback' / 'feedback.db').resolve()}"
    return None if option.lower() == "none" else option


@cli.command()
@click.argument("prompt")
@_model_options
@_sampling_options
def generate(source, project, env, tracking_uri, prompt, **sampling) -> None:
    """Continue PROMPT, streaming the text to the terminal."""
    from kedro_gpt.tokenizer.chat import stop_token_ids

    bundle = _load(source, _locations(project, env, tracking_uri))
    sp = bundle.tokenizer
    ids = sp.encode(prompt) or [sp.piece_to_id("\n")]
    try:
        stops = stop_token_ids(sp)
    except ValueError:
        stops = []
    click.echo(prompt, nl=False)
    _stream(bundle, ids, stops, **sampling)


@cli.command()
@_model_options
@click.option("--system", default=None, help="a system message to start the conversation")
@_sampling_options
def chat(source, project, env, tracking_uri, system, **sampling) -> None:
    """Talk with a chat model, one message per line; /help lists the commands.

    Without --model: the newest model fine-tuned for chat, else the latest gpt_model (which
    continues text rather than answering; it says so).
    """
    from kedro_gpt.serving.chat_session import run_chat
    from kedro_gpt.tokenizer.chat import encode_chat, stop_token_ids
    from kedro_gpt.tracking.model_source import CHAT_TASK, find_chat_model

    locations = _locations(project, env, tracking_uri)
    found = None if source else find_chat_model(locations)
    bundle = _load(source or found, locations)
    try:
        stops = stop_token_ids(bundle.tokenizer)
    except ValueError as err:
        raise click.ClickException(f"this model cannot chat: {err}") from None
    if bundle.info.get("task") != CHAT_TASK:
        hint = "" if source else "no model fine-tuned for chat was found; "
        click.echo(
            f"note: {hint}this model was not fine-tuned for chat, so it continues text rather "
            "than answering (`kedro run --pipelines=finetune` with finetuning.task: chat "
            "makes one)",
            err=True,
        )
    interactive = sys.stdin.isatty()
    if interactive:
        click.echo("/help lists the commands; /quit or Ctrl-D leaves", err=True)

    def reply(messages: list[dict[str, str]]) -> str:
        ids, _ = encode_chat(bundle.tokenizer, messages, add_generation_prompt=True)
        click.echo("assistant> ", nl=False)
        return _stream(bundle, ids, stops, **dict(sampling))

    def lines():
        while True:
            if interactive:
                click.echo("you> ", nl=False)
            line = sys.stdin.readline()
            if not line:
                return
            yield line

    run_chat(lines(), reply, click.echo, system)


@cli.command("export-hf")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@_model_options
def export_hf_command(source, project, env, tracking_uri, out_dir: Path) -> None:
    """Write the model as a transformers GPT-2 folder OUT_DIR."""
    from kedro_gpt.model.hf import HFConversionError, export_hf

    bundle = _load(source, _locations(project, env, tracking_uri))
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
