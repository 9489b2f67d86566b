// A streamed tool call and its round trip with the official openai package.
//
// 1. Offer a tool and stream the answer; the model calls the tool. Tool-call arguments
//    arrive in fragments: collect them per `index`.
// 2. Run the tool here, send its result back as a `tool` message.
// 3. Stream the model's final answer, which uses the result.
//
//   VIBEROUTER_API_KEY=vr-... node tools.mjs
//
// The echo model calls a tool whose name the user message mentions, and answers a tool
// result by quoting it, so this runs offline.
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: process.env.VIBEROUTER_BASE_URL ?? "http://127.0.0.1:8080/v1",
  apiKey: process.env.VIBEROUTER_API_KEY,
});
const model = process.env.VIBEROUTER_MODEL ?? "echo";

const tools = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "The current weather in a city.",
      parameters: {
        type: "object",
        properties: {
          city: { type: "string", description: "City name, e.g. Paris" },
          unit: { type: "string", enum: ["celsius", "fahrenheit"] },
        },
        required: ["city"],
      },
    },
  },
];

// The tool itself: a real program would call a weather service here.
function getWeather({ city, unit = "celsius" }) {
  return { city, forecast: "sunny", temperature: 21, unit };
}

// Stream one assistant turn; return its text and its complete tool calls.
async function streamTurn(messages) {
  const stream = await client.chat.completions.create({ model, messages, tools, stream: true });
  let text = "";
  const calls = new Map();
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      const delta = choice.delta;
      if (delta.content) {
        text += delta.content;
        process.stdout.write(delta.content);
      }
      for (const part of delta.tool_calls ?? []) {
        // The first fragment of a call has its id and name; later ones only more
        // argument text. `index` says which call a fragment belongs to.
        const call = calls.get(part.index) ?? { id: "", name: "", arguments: "" };
        if (part.id) call.id = part.id;
        if (part.function?.name) call.name = part.function.name;
        if (part.function?.arguments) call.arguments += part.function.arguments;
        calls.set(part.index, call);
      }
    }
  }
  if (text) process.stdout.write("\n");
  return { text, calls: [...calls.keys()].sort((a, b) => a - b).map((i) => calls.get(i)) };
}

const messages = [{ role: "user", content: "What is the weather in Paris? Use get_weather." }];
const first = await streamTurn(messages);
if (first.calls.length === 0) {
  console.error("the model answered without calling the tool");
  process.exit(1);
}

// The assistant's tool calls go back into the conversation, then one result per call.
messages.push({
  role: "assistant",
  content: first.text || null,
  tool_calls: first.calls.map((c) => ({
    id: c.id,
    type: "function",
    function: { name: c.name, arguments: c.arguments },
  })),
});
for (const call of first.calls) {
  const args = JSON.parse(call.arguments);
  console.log(`tool call: ${call.name}(${JSON.stringify(args)})`);
  messages.push({ role: "tool", tool_call_id: call.id, content: JSON.stringify(getWeather(args)) });
}

process.stdout.write("answer: ");
await streamTurn(messages);
