"""Chat through omni-proxy with the official openai SDK: plain, streaming, and with routing hints.

    omni-proxy serve --demo            # prints a key
    OMNI_KEY=<that key> python examples/quickstart.py
"""

import os

from openai import OpenAI

client = OpenAI(base_url="http://127.0.0.1:8080/v1", api_key=os.environ["OMNI_KEY"])

reply = client.chat.completions.create(
    model="auto", messages=[{"role": "user", "content": "Summarize: routers route."}]
)
print(reply.model, "->", reply.choices[0].message.content)
print("omni:", reply.model_extra["omni"])

stream = client.chat.completions.create(
    model="auto",
    messages=[{"role": "user", "content": "Write a Python function that adds two numbers."}],
    stream=True,
    stream_options={"include_usage": True},
    extra_body={"priority": "cheap"},
)
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        print(chunk.choices[0].delta.content, end="", flush=True)
print()
