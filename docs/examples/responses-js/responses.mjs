// The Responses API through VibeRouter with the official openai package: one plain
// call and one streamed call (what Codex-style clients send).
//
//   npm ci                                       # installs the pinned packages
//   VIBEROUTER_API_KEY=vr-... node responses.mjs
//
// VIBEROUTER_BASE_URL (default http://127.0.0.1:8080/v1) and VIBEROUTER_MODEL (default
// "echo", the offline echo model) point it elsewhere.
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: process.env.VIBEROUTER_BASE_URL ?? "http://127.0.0.1:8080/v1",
  apiKey: process.env.VIBEROUTER_API_KEY,
});
const model = process.env.VIBEROUTER_MODEL ?? "echo";

const response = await client.responses.create({
  model,
  instructions: "You are a concise assistant.",
  input: "Hello from the Responses API!",
});
console.log(response.output_text);
console.log(`status=${response.status}`);
console.log(`tokens: input=${response.usage.input_tokens} output=${response.usage.output_tokens}`);

const stream = await client.responses.create({
  model,
  input: "Stream these words one by one, please.",
  stream: true,
});
let text = "";
for await (const event of stream) {
  if (event.type === "response.output_text.delta") {
    text += event.delta;
  } else if (event.type === "response.completed") {
    const final = event.response.output
      .filter((item) => item.type === "message")
      .flatMap((item) => item.content)
      .map((part) => part.text ?? "")
      .join("");
    console.log(text);
    console.log(`stream status=${event.response.status} deltas_match_output=${text === final}`);
  }
}
