#!/usr/bin/env python3
"""Drives a running `orkestra serve` with the official `openai` Python client, unchanged.

The gateway must serve the built-in demo models (sim/small, sim/medium, sim/large, echo/echo).
`cargo xtask ci` runs this script (step `openai-python`) against a gateway it starts; to run
it by hand:

    orkestra serve --listen 127.0.0.1:8080 &
    ORKESTRA_BASE_URL=http://127.0.0.1:8080/v1 python3 tests/python/test_openai_client.py

Plain Python, no test framework: every check prints its name, and the script exits with 1 if
any check failed.
"""

import os
import sys
import traceback

import openai

BASE_URL = os.environ.get("ORKESTRA_BASE_URL", "http://127.0.0.1:8080/v1")
DEMO_MODELS = {"sim/small", "sim/medium", "sim/large", "echo/echo"}

client = openai.OpenAI(base_url=BASE_URL, api_key="unused")
failures = []


def check(name):
    """Runs the decorated function at once as one named check, recording its failure."""

    def run(test):
        try:
            test()
        except Exception:  # noqa: BLE001 - any exception fails the check, and is shown.
            failures.append(name)
            print(f"FAIL {name}")
            traceback.print_exc()
        else:
            print(f"ok   {name}")
        return test

    return run


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


@check("plain completion with model=auto")
def plain_auto():
    response = client.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "Say hello to the orchestra"}],
    )
    expect(response.object == "chat.completion", f"object is {response.object!r}")
    expect(response.model in DEMO_MODELS, f"answered by {response.model!r}")
    expect(len(response.choices) == 1, f"{len(response.choices)} choices")
    content = response.choices[0].message.content
    expect(content, f"empty content: {response!r}")
    expect(response.choices[0].finish_reason == "stop", response.choices[0].finish_reason)
    expect(response.usage is not None and response.usage.total_tokens > 0, response.usage)


SIMULATED = "[Simulated answer by "


@check("plain completion with model=sim/small")
def plain_named():
    prompt = "echo this sentence back"
    response = client.chat.completions.create(
        model="sim/small", messages=[{"role": "user", "content": prompt}]
    )
    expect(response.model == "sim/small", f"answered by {response.model!r}")
    # sim/small is an echo model in the demo configuration, and says it is simulated first.
    content = response.choices[0].message.content
    expect(content.startswith(SIMULATED + "sim/small"), content)
    expect(content.endswith(prompt), content)


@check("streaming completion")
def streaming():
    stream = client.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "Stream a short answer"}],
        stream=True,
    )
    chunks = list(stream)
    expect(chunks, "no chunks")
    for chunk in chunks:
        expect(chunk.object == "chat.completion.chunk", f"object is {chunk.object!r}")
    with_choices = [chunk for chunk in chunks if chunk.choices]
    content = "".join(chunk.choices[0].delta.content or "" for chunk in with_choices)
    expect(content, "the deltas carried no content")
    finishes = [c.choices[0].finish_reason for c in with_choices if c.choices[0].finish_reason]
    expect(finishes == ["stop"], f"finish reasons {finishes}")
    # The finish reason comes on the last chunk with a choice, never before content ends.
    expect(with_choices[-1].choices[0].finish_reason == "stop", with_choices[-1])
    models = {chunk.model for chunk in chunks}
    expect(len(models) == 1 and models <= DEMO_MODELS, f"chunk models {models}")


@check("streaming completion of a named model")
def streaming_named():
    prompt = "one two three four five"
    stream = client.chat.completions.create(
        model="sim/small", messages=[{"role": "user", "content": prompt}], stream=True
    )
    content = "".join(
        chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices
    )
    expect(content.startswith(SIMULATED + "sim/small"), f"streamed {content!r}")
    expect(content.endswith(prompt), f"streamed {content!r}")


@check("models.list")
def models_list():
    models = client.models.list()
    ids = {model.id for model in models}
    expect(DEMO_MODELS <= ids, f"listed {sorted(ids)}")
    for model in models:
        expect(model.object == "model", f"{model.id}: object is {model.object!r}")


@check("models.retrieve, ids with / in them included")
def models_retrieve():
    for model_id in ["sim/small", "echo/echo", "auto", "auto:cost"]:
        model = client.models.retrieve(model_id)
        expect(model.id == model_id, f"retrieved {model.id!r} for {model_id!r}")
        expect(model.object == "model", f"{model_id}: object is {model.object!r}")
    try:
        client.models.retrieve("nobody/nothing")
    except openai.NotFoundError as error:
        expect(error.status_code == 404, error.status_code)
        expect(error.code == "model_not_found", error.code)
    else:
        raise AssertionError("no error raised for an unknown model")


@check("a parameter out of its range raises BadRequestError naming it")
def parameter_error():
    for params, param in [
        ({"temperature": 5}, "temperature"),
        ({"n": 3}, "n"),
        ({"response_format": {"type": "nonsense"}}, "response_format.type"),
    ]:
        try:
            client.chat.completions.create(
                model="auto", messages=[{"role": "user", "content": "hi"}], **params
            )
        except openai.BadRequestError as error:
            expect(error.status_code == 400, error.status_code)
            expect(error.param == param, f"param {error.param!r} for {params}")
            expect(error.code == "invalid_value", error.code)
            expect(param in str(error), str(error))
        else:
            raise AssertionError(f"no error raised for {params}")


@check("unknown model raises NotFoundError")
def unknown_model():
    try:
        client.chat.completions.create(
            model="nobody/nothing", messages=[{"role": "user", "content": "hi"}]
        )
    except openai.NotFoundError as error:
        expect(error.status_code == 404, error.status_code)
        expect("nobody/nothing" in str(error), str(error))
    else:
        raise AssertionError("no error raised")


@check("x-orkestra-model header through with_raw_response")
def raw_response_header():
    raw = client.chat.completions.with_raw_response.create(
        model="echo/echo", messages=[{"role": "user", "content": "header check"}]
    )
    expect(raw.headers.get("x-orkestra-model") == "echo/echo", dict(raw.headers))
    expect(raw.headers.get("x-orkestra-attempts") is not None, dict(raw.headers))
    completion = raw.parse()
    expect(completion.choices[0].message.content == "header check", completion)


if failures:
    print(f"{len(failures)} check(s) failed against {BASE_URL}: {', '.join(failures)}")
    sys.exit(1)
print(f"all checks passed against {BASE_URL} with openai {openai.__version__}")
