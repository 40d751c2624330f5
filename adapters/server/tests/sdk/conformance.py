"""SDK conformance matrix: the official `openai`, `anthropic` and `google-genai` Python SDKs against
the gateway.

For every inbound endpoint (chat completions, responses, messages, Gemini generateContent) x upstream protocol (OpenAI chat,
OpenAI responses, Anthropic messages, Gemini) x streaming or not x scenario (plain text, one tool
call, parallel tool calls, tool-result round trip, upstream rate limit), call the gateway through
the SDK's own high-level API -- including the stream helpers' final-object accumulation -- and check
that the SDK parsed everything and that text, tool names, tool arguments (as parsed JSON), finish
reason and usage are what the mock upstream produced.

The response cache: with GATEWAY_CACHED_KEY (a key whose cache keeps sampled answers), each
inbound x upstream x (text, tool) is asked until the cache answers (zero usage), then asked again
streamed: the replay must satisfy the stream helper and give the same text, calls and finish.

Environment: GATEWAY_URL (e.g. http://127.0.0.1:8080), GATEWAY_KEY (a virtual key for every model),
GATEWAY_CACHED_KEY (optional, see above).
Models are named "<upstream>-<scenario>" (see the Rust test that sets them up); embeddings
(`client.embeddings.create`, base64 by default and float on request) go to the OpenAI and Gemini
upstreams through "<upstream>-embed".
Prints one line per failure, then "N passed, M failed"; exits 1 on any failure.
"""

import json
import os
import sys
import time
import traceback
import urllib.request

import anthropic
import openai
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

BASE = os.environ["GATEWAY_URL"]
KEY = os.environ["GATEWAY_KEY"]
ONLY = os.environ.get("ONLY", "")
MOCK = os.environ.get("MOCK_URL", "")

oa = openai.OpenAI(base_url=BASE + "/v1", api_key=KEY, max_retries=0, timeout=20)
an = anthropic.Anthropic(base_url=BASE, api_key=KEY, max_retries=0, timeout=20)
gm = genai.Client(api_key=KEY, http_options=genai_types.HttpOptions(
    base_url=BASE, timeout=20_000, retry_options=genai_types.HttpRetryOptions(attempts=1)))

UPSTREAMS = ["openai_chat", "openai_responses", "anthropic_messages", "gemini", "vertex_gemini",
             "vertex_anthropic", "bedrock"]
# The wire protocol each upstream speaks (the clouds' providers speak their vendor's).
FAMILY = {"vertex_gemini": "gemini", "vertex_anthropic": "anthropic_messages"}
INBOUNDS = ["chat", "responses", "messages", "gemini"]
SCENARIOS = ["text", "tool", "parallel", "tool_result", "error", "reasoning"]

SYSTEM = "You are terse."
USER = "Hi there"
WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "City name"},
        "unit": {"type": ["string", "null"], "enum": ["celsius", "fahrenheit", None]},
    },
    "required": ["city"],
    "additionalProperties": False,
}
TIME = {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}
TOOLS = [("get_weather", "Current weather", WEATHER), ("get_time", "Local time", TIME)]
CALLS = [("call_a", "get_weather", {"city": "Paris"}), ("call_b", "get_time", {"zone": "Asia/Tokyo"})]
RESULTS = ["18°C and sunny", "09:30"]

EXPECTED = {
    "text": {"text": f"Hello, 世界! 👋 You said: {USER}. System: {SYSTEM}.", "calls": [], "finish": "stop"},
    "tool": {"text": "", "calls": [("get_weather", {"city": "Paris", "unit": "celsius"})], "finish": "tool"},
    "parallel": {"text": "", "calls": [(n, a) for _, n, a in CALLS], "finish": "tool"},
    "tool_result": {"text": "Tool results: " + " | ".join(RESULTS), "calls": [], "finish": "stop"},
}
USAGE = (21, 9)


def strict(cls, obj, what):
    """The SDKs build response objects without validating them (pydantic `construct`): validate
    what the gateway sent strictly against the SDK's own type, as a typed client would."""
    data = obj.to_dict() if hasattr(obj, "to_dict") else obj.model_dump(exclude_none=True)
    try:
        cls.model_validate(data, strict=True)
    except Exception as e:
        raise AssertionError(f"{what} is not a valid {cls.__name__}: {e}") from None


def model_for(upstream, scenario):
    return f"{upstream}-{'text' if scenario == 'tool_result' else scenario}"


# --- chat completions -------------------------------------------------------------------------

def chat_messages(scenario):
    msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}]
    if scenario == "tool_result":
        msgs.append({"role": "assistant", "content": None, "tool_calls": [
            {"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}} for i, n, a in CALLS]})
        msgs += [{"role": "tool", "tool_call_id": i, "content": r} for (i, _, _), r in zip(CALLS, RESULTS)]
    return msgs


def chat_tools():
    return [{"type": "function", "function": {"name": n, "description": d, "parameters": p}} for n, d, p in TOOLS]


def responses_tools():
    return [{"type": "function", "name": n, "description": d, "parameters": p, "strict": False} for n, d, p in TOOLS]


def messages_tools():
    return [{"name": n, "description": d, "input_schema": p} for n, d, p in TOOLS]


def gemini_tools():
    return [genai_types.Tool(function_declarations=[
        genai_types.FunctionDeclaration(name=n, description=d, parameters_json_schema=p) for n, d, p in TOOLS])]


# Each SDK's call, streamed or not: a stream goes through the SDK's helper and ends in the final
# object it accumulated, which is what callers use.

def sdk_call(create, helper, final, stream, **kwargs):
    """`create(**kwargs)`, or the stream `helper` read to its end and its accumulated `final()`."""
    if not stream:
        return create(**kwargs)
    with helper(**kwargs) as s:
        for _ in s:
            pass
        return getattr(s, final)()


def chat_call(stream, **kwargs):
    helper = lambda **kw: oa.chat.completions.stream(stream_options={"include_usage": True}, **kw)
    return sdk_call(oa.chat.completions.create, helper, "get_final_completion", stream, **kwargs)


def responses_call(stream, **kwargs):
    return sdk_call(oa.responses.create, oa.responses.stream, "get_final_response", stream, **kwargs)


def messages_call(stream, **kwargs):
    return sdk_call(an.messages.create, an.messages.stream, "get_final_message", stream, **kwargs)


def gemini_chunks(stream, **kwargs):
    if stream:
        return list(gm.models.generate_content_stream(**kwargs))
    return [gm.models.generate_content(**kwargs)]


def run_chat(model, scenario, stream):
    completion = chat_call(stream, model=model, messages=chat_messages(scenario), tools=chat_tools())
    strict(openai.types.chat.ChatCompletion, completion, "the completion")
    if completion.usage:
        strict(openai.types.CompletionUsage, completion.usage, "usage")
    choice = completion.choices[0]
    calls = [(c.function.name, json.loads(c.function.arguments)) for c in (choice.message.tool_calls or [])]
    finish = {"stop": "stop", "tool_calls": "tool"}.get(choice.finish_reason, choice.finish_reason)
    usage = (completion.usage.prompt_tokens, completion.usage.completion_tokens) if completion.usage else None
    return choice.message.content or "", calls, finish, usage


# --- responses --------------------------------------------------------------------------------

def responses_input(scenario):
    items = [{"role": "user", "content": USER}]
    if scenario == "tool_result":
        items += [{"type": "function_call", "call_id": i, "name": n, "arguments": json.dumps(a)} for i, n, a in CALLS]
        items += [{"type": "function_call_output", "call_id": i, "output": r} for (i, _, _), r in zip(CALLS, RESULTS)]
    return items


def run_responses(model, scenario, stream):
    response = responses_call(stream, model=model, instructions=SYSTEM, input=responses_input(scenario),
                              tools=responses_tools())
    strict(openai.types.responses.Response, response, "the response")
    strict(openai.types.responses.ResponseUsage, response.usage, "usage")
    calls = [(o.name, json.loads(o.arguments)) for o in response.output if o.type == "function_call"]
    finish = "tool" if calls else ("stop" if response.status == "completed" else response.status)
    usage = (response.usage.input_tokens, response.usage.output_tokens) if response.usage else None
    return response.output_text, calls, finish, usage


# --- messages ---------------------------------------------------------------------------------

def messages_input(scenario):
    msgs = [{"role": "user", "content": USER}]
    if scenario == "tool_result":
        msgs.append({"role": "assistant", "content": [
            {"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in CALLS]})
        msgs.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": i, "content": r} for (i, _, _), r in zip(CALLS, RESULTS)]})
    return msgs


def run_messages(model, scenario, stream):
    message = messages_call(stream, model=model, max_tokens=256, system=SYSTEM, messages=messages_input(scenario),
                            tools=messages_tools())
    strict(anthropic.types.Message, message, "the message")
    strict(anthropic.types.Usage, message.usage, "usage")
    text = "".join(b.text for b in message.content if b.type == "text")
    calls = [(b.name, b.input) for b in message.content if b.type == "tool_use"]
    finish = {"end_turn": "stop", "tool_use": "tool"}.get(message.stop_reason, message.stop_reason)
    u = message.usage
    usage = (u.input_tokens + (u.cache_read_input_tokens or 0) + (u.cache_creation_input_tokens or 0), u.output_tokens)
    return text, calls, finish, usage


# --- Gemini generateContent (google-genai) -------------------------------------------------------

def gemini_contents(scenario):
    T = genai_types
    contents = [T.Content(role="user", parts=[T.Part(text=USER)])]
    if scenario == "tool_result":
        contents.append(T.Content(role="model", parts=[
            T.Part(function_call=T.FunctionCall(id=i, name=n, args=a)) for i, n, a in CALLS]))
        contents.append(T.Content(role="user", parts=[
            T.Part(function_response=T.FunctionResponse(id=i, name=n, response={"result": r}))
            for (i, n, _), r in zip(CALLS, RESULTS)]))
    return contents


def run_gemini(model, scenario, stream):
    config = genai_types.GenerateContentConfig(
        system_instruction=SYSTEM, tools=gemini_tools(),
        automatic_function_calling=genai_types.AutomaticFunctionCallingConfig(disable=True))
    chunks = gemini_chunks(stream, model=model, contents=gemini_contents(scenario), config=config)
    text, calls, finish, usage = "", [], None, None
    for chunk in chunks:
        candidate = chunk.candidates[0] if chunk.candidates else None
        parts = candidate.content.parts if candidate and candidate.content and candidate.content.parts else []
        for part in parts:
            if part.text and not part.thought:
                text += part.text
            if part.function_call:
                calls.append((part.function_call.name, dict(part.function_call.args)))
        if candidate and candidate.finish_reason:
            finish = candidate.finish_reason.value
        if chunk.usage_metadata:
            u = chunk.usage_metadata
            strict(genai_types.GenerateContentResponseUsageMetadata, u, "usageMetadata")
            usage = (u.prompt_token_count, (u.candidates_token_count or 0) + (u.thoughts_token_count or 0))
    finish = {"STOP": "tool" if calls else "stop"}.get(finish, finish)
    return text, calls, finish, usage


# --- reasoning round trip -----------------------------------------------------------------------

def upstream_seal(upstream):
    """The seal the upstream received back on the last request of its text model (from the mock's
    record), or None."""
    upstream = FAMILY.get(upstream, upstream)
    path = {"openai_chat": "/v1/chat/completions", "openai_responses": "/v1/responses",
            "anthropic_messages": "/v1/messages", "bedrock": "anthropic.mock-text-v1%3A0/converse",
            }.get(upstream, "mock-text%3AgenerateContent")
    with urllib.request.urlopen(f"{MOCK}/mock/last?path={path}") as r:
        sent = json.load(r)
    if upstream == "anthropic_messages":
        blocks = [b for m in sent["messages"] if m["role"] == "assistant" for b in m["content"]]
        return next((b.get("signature") for b in blocks if b["type"] == "thinking"), None)
    if upstream == "bedrock":
        blocks = [b for m in sent["messages"] if m["role"] == "assistant" for b in m["content"]]
        return next((b["reasoningContent"]["reasoningText"].get("signature") for b in blocks
                     if "reasoningContent" in b), None)
    if upstream == "openai_responses":
        return next((i.get("encrypted_content") for i in sent["input"] if i.get("type") == "reasoning"), None)
    if upstream == "gemini":
        parts = [p for c in sent["contents"] if c["role"] == "model" for p in c["parts"]]
        return next((p["thoughtSignature"] for p in parts if "thoughtSignature" in p), None)
    return None


def run_reasoning(inbound, upstream, stream):
    """A two-turn tool loop with reasoning on, the first turn's final object (stream helpers'
    accumulation included) given back as the SDK's own types hold it: the mock refuses any
    reasoning seal it did not mint, so the second turn succeeds only if each seal reached its own
    upstream intact."""
    tool, text = f"{upstream}-tool", f"{upstream}-text"
    result = RESULTS[0]
    if inbound == "chat":
        msgs = [{"role": "user", "content": USER}]
        first = chat_call(stream, model=tool, messages=msgs, tools=chat_tools(), reasoning_effort="high")
        m = first.choices[0].message
        calls = [c.model_dump(exclude_none=True, include={"id", "type", "function"}) for c in m.tool_calls or []]
        msgs = msgs + [{"role": "assistant", "content": m.content, "tool_calls": calls}]
        msgs += [{"role": "tool", "tool_call_id": c["id"], "content": result} for c in calls]
        second = oa.chat.completions.create(model=text, messages=msgs, tools=chat_tools(), reasoning_effort="high")
        return second.choices[0].message.content
    if inbound == "responses":
        kwargs = dict(tools=responses_tools(), store=False, reasoning={"effort": "high", "summary": "auto"},
                      include=["reasoning.encrypted_content"])
        items = [{"role": "user", "content": USER}]
        first = responses_call(stream, model=tool, input=list(items), **kwargs)
        for o in first.output:
            items.append(o.model_dump(exclude_none=True))
            if o.type == "function_call":
                items.append({"type": "function_call_output", "call_id": o.call_id, "output": result})
        return oa.responses.create(model=text, input=items, **kwargs).output_text
    if inbound == "messages":
        kwargs = dict(max_tokens=4096, tools=messages_tools(), thinking={"type": "enabled", "budget_tokens": 2048})
        msgs = [{"role": "user", "content": USER}]
        first = messages_call(stream, model=tool, messages=msgs, **kwargs)
        content = [b.model_dump(exclude_none=True) for b in first.content]
        results = [{"type": "tool_result", "tool_use_id": b["id"], "content": result}
                   for b in content if b["type"] == "tool_use"]
        msgs = msgs + [{"role": "assistant", "content": content}, {"role": "user", "content": results}]
        second = an.messages.create(model=text, messages=msgs, **kwargs)
        return "".join(b.text for b in second.content if b.type == "text")
    T = genai_types
    config = T.GenerateContentConfig(
        tools=gemini_tools(), thinking_config=T.ThinkingConfig(thinking_budget=2048, include_thoughts=True),
        automatic_function_calling=T.AutomaticFunctionCallingConfig(disable=True))
    contents = [T.Content(role="user", parts=[T.Part(text=USER)])]
    chunks = gemini_chunks(stream, model=tool, contents=list(contents), config=config)
    parts = [p for c in chunks if c.candidates and c.candidates[0].content
             for p in (c.candidates[0].content.parts or [])]
    calls = [p.function_call for p in parts if p.function_call]
    contents += [T.Content(role="model", parts=parts), T.Content(role="user", parts=[
        T.Part(function_response=T.FunctionResponse(id=c.id, name=c.name, response={"result": result}))
        for c in calls])]
    second = gm.models.generate_content(model=text, contents=contents, config=config)
    return "".join(p.text for p in second.candidates[0].content.parts if p.text and not p.thought)


class GeminiRateLimit(Exception):
    """Stands for google-genai's ClientError with code 429 (its errors have no subclass for it)."""


def run_gemini_checked(model, scenario, stream):
    try:
        return run_gemini(model, scenario, stream)
    except genai_errors.ClientError as e:
        if e.code == 429:
            err = GeminiRateLimit(str(e))
            err.status_code = e.code
            raise err from e
        raise


RUNNERS = {"chat": run_chat, "responses": run_responses, "messages": run_messages, "gemini": run_gemini_checked}
RATE_LIMIT = {"chat": openai.RateLimitError, "responses": openai.RateLimitError,
              "messages": anthropic.RateLimitError, "gemini": GeminiRateLimit}


def check(inbound, upstream, stream, scenario):
    model = model_for(upstream, scenario)
    if scenario == "reasoning":
        text = run_reasoning(inbound, upstream, stream)
        want = f"Tool results: {RESULTS[0]}"
        if text != want:
            return f"text {text!r} != {want!r}"
        # Sealed reasoning went back to its own upstream (Chat callers have no place for it).
        sealed = upstream_seal(upstream)
        expected = inbound != "chat" and upstream != "openai_chat"
        if bool(sealed) != expected:
            return f"the upstream got {sealed!r} back; a seal expected: {expected}"
        return None
    if scenario == "error":
        try:
            RUNNERS[inbound](model, "text", stream)
        except RATE_LIMIT[inbound] as e:
            if e.status_code != 429:
                return f"status {e.status_code}"
            return None
        return "no RateLimitError raised"
    text, calls, finish, usage = RUNNERS[inbound](model, scenario, stream)
    want = EXPECTED[scenario]
    problems = []
    if text != want["text"]:
        problems.append(f"text {text!r} != {want['text']!r}")
    if calls != want["calls"]:
        problems.append(f"calls {calls!r} != {want['calls']!r}")
    if finish != want["finish"]:
        problems.append(f"finish {finish!r} != {want['finish']!r}")
    if usage != USAGE:
        problems.append(f"usage {usage!r} != {USAGE!r}")
    return "; ".join(problems) or None


def mock_vector(text, dims=8):
    """The mock upstream's embedding of `text` (mock_upstream::embeddings::vector)."""
    h = 17
    for b in text.encode():
        h = (h * 31 + b) & 0xFFFFFFFF
    return [((h + ((i * 2654435761) & 0xFFFFFFFF)) & 0xFFFFFFFF) % 1000 / 1000 for i in range(dims)]


def check_embeddings(upstream, batch):
    """`client.embeddings.create` (the SDK asks for base64 by default and decodes it)."""
    model = f"{upstream}-embed"
    if batch:
        texts = ["Hi there", "second input text"]
        r = oa.embeddings.create(model=model, input=texts, dimensions=4, encoding_format="float")
    else:
        texts = ["Hi there"]
        r = oa.embeddings.create(model=model, input=texts[0])
    problems = []
    if len(r.data) != len(texts):
        return f"{len(r.data)} embeddings for {len(texts)} inputs"
    for i, (item, text) in enumerate(zip(r.data, texts)):
        want = mock_vector(text, 4 if batch else 8)
        if item.index != i or len(item.embedding) != len(want) or any(
            abs(a - b) > 1e-6 for a, b in zip(item.embedding, want)
        ):
            problems.append(f"embedding {i}: {item.embedding!r} != {want!r}")
    if not r.usage or r.usage.prompt_tokens <= 0:
        problems.append(f"usage {r.usage!r}")
    return "; ".join(problems) or None


def check_cached(inbound, upstream, scenario):
    """A cached answer replayed through the stream helpers (see the module doc)."""
    global oa, an, gm
    saved = (oa, an, gm)
    cached = os.environ["GATEWAY_CACHED_KEY"]
    oa = openai.OpenAI(base_url=BASE + "/v1", api_key=cached, max_retries=0, timeout=20)
    an = anthropic.Anthropic(base_url=BASE, api_key=cached, max_retries=0, timeout=20)
    gm = genai.Client(api_key=cached, http_options=genai_types.HttpOptions(
        base_url=BASE, timeout=20_000, retry_options=genai_types.HttpRetryOptions(attempts=1)))
    try:
        model = model_for(upstream, scenario)
        for _ in range(40):  # the first is fetched; its entry is kept after the answer
            if RUNNERS[inbound](model, scenario, False)[3] == (0, 0):
                break
            time.sleep(0.05)
        else:
            return "the cache never answered"
        text, calls, finish, usage = RUNNERS[inbound](model, scenario, True)
        want = EXPECTED[scenario]
        got = {"text": text, "calls": calls, "finish": finish}
        problems = [f"{k} {got[k]!r} != {want[k]!r}" for k in got if got[k] != want[k]]
        if usage != (0, 0):
            problems.append(f"usage {usage!r}: not answered from the cache")
        return "; ".join(problems) or None
    finally:
        oa, an, gm = saved


def run_case(name, check_fn, *args):
    """Runs one case (unless ONLY leaves it out): `None` when skipped, else whether it passed."""
    if ONLY and ONLY not in name:
        return None
    try:
        problem = check_fn(*args)
    except Exception as e:  # the SDK could not parse what it got
        problem = f"{type(e).__name__}: {e}"
        if os.environ.get("VERBOSE"):
            traceback.print_exc()
    if problem:
        print(f"FAIL {name}: {problem}", flush=True)
    return not problem


def main():
    cases = []
    if os.environ.get("GATEWAY_CACHED_KEY"):
        cases += [(f"cache replay: {inbound} -> {upstream} stream {scenario}", check_cached,
                   inbound, upstream, scenario)
                  for inbound in INBOUNDS for upstream in UPSTREAMS for scenario in ("text", "tool")]
    cases += [(f"embeddings -> {upstream} {'batch float' if batch else 'single base64'}",
               check_embeddings, upstream, batch)
              for upstream in ["openai_chat", "gemini"] for batch in (False, True)]
    cases += [(f"{inbound} -> {upstream} {'stream' if stream else 'json'} {scenario}", check,
               inbound, upstream, stream, scenario)
              for inbound in INBOUNDS for upstream in UPSTREAMS for stream in (False, True)
              for scenario in SCENARIOS]
    results = [r for r in (run_case(*case) for case in cases) if r is not None]
    passed, failed = results.count(True), results.count(False)
    print(f"SDK matrix (openai {openai.__version__}, anthropic {anthropic.__version__}, "
          f"google-genai {genai.__version__}): "
          f"{passed}/{passed + failed} cases")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
