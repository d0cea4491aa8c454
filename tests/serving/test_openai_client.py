"""The official openai client against a real server: completions, chat and streaming."""

from __future__ import annotations

import openai
import pytest

from kedro_gpt.model import generate


@pytest.fixture(scope="module")
def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0, timeout=30)


def test_models_lists_the_served_model(client):
    assert [m.id for m in client.models.list().data] == ["kedro-gpt"]


def test_completion_is_the_models_greedy_continuation(client, tiny_bundle):
    out = client.completions.create(model="kedro-gpt", prompt="ROMEO:", max_tokens=8, temperature=0)
    sp = tiny_bundle.tokenizer
    ids = sp.encode("ROMEO:")
    expected = generate(
        tiny_bundle.model, [ids], 8, temperature=0, stop_tokens=[sp.piece_to_id("<|endoftext|>")]
    )[0]
    assert out.choices[0].text == sp.decode(expected)
    assert out.usage.prompt_tokens == len(ids)
    assert out.usage.completion_tokens == len(expected)
    assert out.choices[0].finish_reason == ("length" if len(expected) == 8 else "stop")


def test_several_prompts_give_one_choice_each(client):
    out = client.completions.create(
        model="kedro-gpt", prompt=["To be", "KING", ""], max_tokens=4, temperature=0
    )
    assert [c.index for c in out.choices] == [0, 1, 2]
    alone = client.completions.create(model="kedro-gpt", prompt="KING", max_tokens=4, temperature=0)
    assert out.choices[1].text == alone.choices[0].text  # batching does not change greedy text


def test_streamed_completion_equals_the_whole_one(client):
    kwargs = {"model": "kedro-gpt", "prompt": "First Citizen:", "max_tokens": 12, "temperature": 0}
    whole = client.completions.create(**kwargs).choices[0]
    chunks = list(client.completions.create(stream=True, **kwargs))
    assert "".join(c.choices[0].text for c in chunks) == whole.text
    assert chunks[-1].choices[0].finish_reason == whole.finish_reason
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])


def test_seeded_sampling_is_reproducible(client):
    kwargs = {"model": "kedro-gpt", "prompt": "O", "max_tokens": 10, "temperature": 1.0, "seed": 7}
    first = client.completions.create(**kwargs).choices[0].text
    assert client.completions.create(**kwargs).choices[0].text == first


def test_stop_string_ends_the_text(client):
    kwargs = {"model": "kedro-gpt", "prompt": "ROMEO:", "max_tokens": 20, "temperature": 0}
    text = client.completions.create(**kwargs).choices[0].text
    stop = text[3:5]
    cut = client.completions.create(stop=[stop], **kwargs).choices[0]
    assert cut.text == text[: text.index(stop)] and cut.finish_reason == "stop"
    streamed = list(client.completions.create(stop=stop, stream=True, **kwargs))
    assert "".join(c.choices[0].text for c in streamed) == cut.text


def test_chat_answer_and_stream(client):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    kwargs = {"model": "kedro-gpt", "messages": messages, "max_tokens": 10, "temperature": 0}
    answer = client.chat.completions.create(**kwargs)
    choice = answer.choices[0]
    assert choice.message.role == "assistant" and "<|endoftext|>" not in choice.message.content
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
    chunks = list(
        client.chat.completions.create(
            stream=True, stream_options={"include_usage": True}, **kwargs
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == choice.message.content
    assert chunks[-1].usage.completion_tokens == answer.usage.completion_tokens


def test_chat_stops_at_end_of_text(server, tiny_bundle):
    """A model that always says <|endoftext|> gives an empty answer with finish_reason stop."""
    import torch

    from .conftest import running_server

    sp = tiny_bundle.tokenizer
    eot = sp.piece_to_id("<|endoftext|>")
    model = type(tiny_bundle.model)(tiny_bundle.config)
    with torch.no_grad():
        model.lm_head.weight.zero_()
        model.transformer.ln_f.bias.zero_()
        model.transformer.ln_f.weight.zero_()
        model.transformer.ln_f.bias[0] = 1.0
        model.lm_head.weight[eot, 0] = 10.0
    bundle = type(tiny_bundle)(model.eval(), sp)
    with running_server(bundle) as url:
        c = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
        out = c.chat.completions.create(
            model="kedro-gpt", messages=[{"role": "user", "content": "Hi"}], max_tokens=5
        )
    assert out.choices[0].message.content == "" and out.choices[0].finish_reason == "stop"
