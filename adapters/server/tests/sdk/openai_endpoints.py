"""The official openai SDK against the gateway's relayed OpenAI endpoints: completions (whole and
streamed), images.generate, images.edit (multipart), audio.speech.create (audio bytes),
audio.transcriptions.create (multipart; json, verbose_json and text), moderations.create, and
/v1/rerank (no SDK method: urllib). Prints one line per call; exits non-zero on the first failure."""
import base64
import json
import os
import sys
import urllib.request

import openai

GATEWAY, KEY = os.environ["GATEWAY_URL"], os.environ["GATEWAY_KEY"]
PNG = os.environ["PNG_B64"]
TRANSCRIPT = os.environ["TRANSCRIPT"]
oa = openai.OpenAI(base_url=f"{GATEWAY}/v1", api_key=KEY, max_retries=0)


def check(name, ok, detail=""):
    print(f"{'ok' if ok else 'FAIL'} {name} {detail}", flush=True)
    if not ok:
        sys.exit(1)


c = oa.completions.create(model="text", prompt="Say this", max_tokens=20)
check("completions.create", c.choices[0].text == "Completed: Say this" and c.choices[0].finish_reason == "stop"
      and (c.usage.prompt_tokens, c.usage.completion_tokens) == (21, 9), c.model_dump_json())
check("completions model named as asked", c.model == "text", c.model)

chunks = list(oa.completions.create(model="text", prompt="Say this", stream=True,
                                    stream_options={"include_usage": True}))
text = "".join(ch.choices[0].text for ch in chunks if ch.choices)
usage = [ch.usage for ch in chunks if ch.usage]
check("completions.create(stream=True)", text == "Completed: Say this" and usage
      and (usage[-1].prompt_tokens, usage[-1].completion_tokens) == (21, 9), f"{len(chunks)} chunks: {text!r}")

img = oa.images.generate(model="image", prompt="a cat in a hat", n=2)
check("images.generate", len(img.data) == 2 and img.data[0].b64_json == PNG and img.usage.output_tokens == 272,
      img.model_dump_json()[:200])

edit = oa.images.edit(model="image", image=("cat.png", base64.b64decode(PNG), "image/png"), prompt="add a hat")
check("images.edit (multipart)", len(edit.data) == 1 and edit.data[0].b64_json == PNG, edit.model_dump_json()[:200])

speech = oa.audio.speech.create(model="tts", voice="alloy", input="Hello world")
audio = speech.content
want = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(b ^ 0x5A for b in b"Hello world")
check("audio.speech.create (binary)", audio == want, repr(audio[:16]))

wav = ("speech.wav", bytes(32_000), "audio/wav")
t = oa.audio.transcriptions.create(model="whisper", file=wav)
check("audio.transcriptions.create (json)", t.text == TRANSCRIPT, t.model_dump_json())
v = oa.audio.transcriptions.create(model="whisper", file=wav, response_format="verbose_json")
check("audio.transcriptions.create (verbose_json)", v.text == TRANSCRIPT and v.duration == 2.0, v.model_dump_json())
plain = oa.audio.transcriptions.create(model="whisper", file=wav, response_format="text")
check("audio.transcriptions.create (text)", str(plain).strip() == TRANSCRIPT, repr(plain))

m = oa.moderations.create(model="moderation", input=["I will kill the process", "good morning"])
check("moderations.create", m.results[0].flagged and m.results[0].categories.violence
      and not m.results[1].flagged, m.model_dump_json()[:200])

request = urllib.request.Request(
    f"{GATEWAY}/v1/rerank", method="POST",
    headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    data=json.dumps({"model": "rerank", "query": "capital of France",
                     "documents": ["Berlin is in Germany", "Paris is the capital of France"], "top_n": 1}).encode())
with urllib.request.urlopen(request) as r:
    body = json.load(r)
check("rerank", body["results"][0]["index"] == 1 and len(body["results"]) == 1, json.dumps(body)[:200])

try:
    oa.images.generate(model="image", prompt="x", colour="red")  # an argument OpenAI does not know
    check("unknown argument refused", False)
except TypeError:
    pass
try:
    oa.images.generate(model="image", prompt="x", extra_body={"colour": "red"})
    check("an upstream refusal reaches the caller", False)
except openai.BadRequestError as e:
    check("an upstream refusal reaches the caller", "colour" in str(e), str(e)[:120])
print("all relayed endpoints pass")
