// The @google/genai SDK as its users run it, against the gateway: a chat tool loop streamed with
// `sendMessageStream` (its history keeps every streamed chunk's content and sends it back) for
// each model named in MODELS, then `models.list` and `models.get` on API version v1 (its
// default). Prints one JSON line per model, and one for the model list. RECORD_DIR, when set,
// receives the request bodies (codec fixtures).
import { GoogleGenAI } from '@google/genai';
import { mkdirSync, writeFileSync } from 'node:fs';

const { BASE, KEY, MODELS, RECORD_DIR } = process.env;

const realFetch = globalThis.fetch;

/** fetch, with every request's body kept for the fixtures. */
function recorder(model, seen) {
  return async (url, init) => {
    const response = await realFetch(url, init);
    seen.push({ path: new URL(url).pathname, status: response.status });
    if (RECORD_DIR && init?.body) {
      mkdirSync(RECORD_DIR, { recursive: true });
      writeFileSync(`${RECORD_DIR}/${model}-${seen.length}.json`, String(init.body));
    }
    return response;
  };
}

const declaration = { name: 'get_weather', description: 'The weather in a city',
  parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } },
    required: ['city'] } };

for (const model of MODELS.split(',')) {
  const seen = [];
  globalThis.fetch = recorder(model, seen);
  const ai = new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: BASE } });
  let text = '', error = null, calls = 0;
  try {
    const chat = ai.chats.create({ model, config: { tools: [{ functionDeclarations: [declaration] }] } });
    let message = 'What is the weather in Paris?';
    for (let turn = 0; turn < 4; turn++) {
      const asked = [];
      text = '';
      for await (const chunk of await chat.sendMessageStream({ message })) {
        if (chunk.functionCalls) asked.push(...chunk.functionCalls);
        text += chunk.text ?? '';
      }
      if (!asked.length) break;
      calls += asked.length;
      message = asked.map(fc => ({ functionResponse: { id: fc.id, name: fc.name,
        response: { result: `Sunny in ${fc.args.city}` } } }));
    }
    const history = chat.getHistory(true).length;
    console.log(JSON.stringify({ model, text, calls, history, error, requests: seen }));
  } catch (e) {
    error = String(e?.message ?? e);
    console.log(JSON.stringify({ model, text, calls, error, requests: seen }));
  }
}
globalThis.fetch = realFetch;

const ai = new GoogleGenAI({ apiKey: KEY, apiVersion: 'v1', httpOptions: { baseUrl: BASE } });
const listed = [];
for await (const m of await ai.models.list()) listed.push(m.name);
const first = MODELS.split(',')[0];
const one = await ai.models.get({ model: first });
console.log(JSON.stringify({ list: listed, get: one.name, limits: [one.inputTokenLimit ?? null] }));
