// The Anthropic TypeScript SDK's tool runner, as its users run it: threaded (its default),
// streamed, one tool, against the gateway for each model named in MODELS — then once more with
// `thread: false` (the whole history every turn), to compare. Prints one JSON line per model:
// the answer's text, every request the SDK made (its `thread`, the status it got, how long it
// took) and both runs' wall time. RECORD_DIR, when set, receives the request bodies (codec
// fixtures).
import Anthropic from '@anthropic-ai/sdk';
import { betaTool } from '@anthropic-ai/sdk/helpers/beta/json-schema';
import { mkdirSync, writeFileSync } from 'node:fs';

const { BASE, KEY, MODELS, RECORD_DIR } = process.env;

for (const model of MODELS.split(',')) {
  const requests = [];
  const recording = async (url, init) => {
    const body = JSON.parse(init?.body ?? '{}');
    const started = performance.now();
    const response = await fetch(url, init);
    requests.push({ thread: body.thread ?? null, status: response.status,
      ms: Math.round((performance.now() - started) * 10) / 10, bytes: String(init?.body ?? '').length,
      messages: body.messages?.length ?? 0, system: 'system' in body, tools: 'tools' in body,
      beta: init?.headers?.['anthropic-beta'] ?? new Headers(init?.headers).get('anthropic-beta') });
    if (RECORD_DIR) {
      mkdirSync(RECORD_DIR, { recursive: true });
      writeFileSync(`${RECORD_DIR}/${model}-${requests.length}.json`, JSON.stringify(body, null, 2));
    }
    return response;
  };
  const client = new Anthropic({ apiKey: KEY, baseURL: BASE, fetch: recording, maxRetries: 0 });
  const weather = betaTool({
    name: 'get_weather',
    description: 'The weather in a city',
    inputSchema: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } },
      required: ['city'] },
    run: async ({ city }) => `Sunny in ${city}`,
  });
  const loop = async (thread) => {
    const runner = client.beta.messages.toolRunner({
      model, max_tokens: 256, system: 'Answer briefly.', stream: true, max_iterations: 6,
      messages: [{ role: 'user', content: 'What is the weather in Paris?' }], tools: [weather],
      ...(thread ? {} : { thread: false }),
    });
    for await (const stream of runner) for await (const _ of stream) { /* events */ }
    const last = await runner.done();
    return last.content.filter(b => b.type === 'text').map(b => b.text).join('');
  };
  let text = '', error = null, threadedMs = null, unthreadedMs = null;
  try {
    let started = performance.now();
    text = await loop(true);
    threadedMs = Math.round(performance.now() - started);
    const threaded = requests.length;
    started = performance.now();
    await loop(false);
    unthreadedMs = Math.round(performance.now() - started);
    requests.splice(threaded);
  } catch (e) {
    error = String(e?.message ?? e);
  }
  console.log(JSON.stringify({ model, text, error, requests, threadedMs, unthreadedMs }));
}
