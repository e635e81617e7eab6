"""A creature as a model, through the official OpenAI SDK."""

from __future__ import annotations

import pytest
from kt_web_helpers import start_creature

openai = pytest.importorskip("openai")


def test_openai_sdk_lists_and_talks_to_a_creature(server, world):
    start_creature(server, world, name="oracle")
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused")
    assert "oracle" in [m.id for m in client.models.list()]

    completion = client.chat.completions.create(
        model="oracle", messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.choices[0].message.content == "hello from the script"
    assert completion.usage.total_tokens > 0

    chunks = client.chat.completions.create(
        model="oracle", messages=[{"role": "user", "content": "stream it"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == "hello from the script"

    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="ghost", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="oracle", messages=[])
