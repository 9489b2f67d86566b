// A plain chat completion through VibeRouter with the official openai package.
//
//   npm ci                                   # installs the pinned openai package
//   VIBEROUTER_API_KEY=vr-... node chat.mjs
//
// VIBEROUTER_BASE_URL (default http://127.0.0.1:8080/v1) and VIBEROUTER_MODEL (default
// "echo", the offline echo model) point it elsewhere.
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: process.env.VIBEROUTER_BASE_URL ?? "http://127.0.0.1:8080/v1",
  apiKey: process.env.VIBEROUTER_API_KEY,
});
const model = process.env.VIBEROUTER_MODEL ?? "echo";

const response = await client.chat.completions.create({
  model,
  messages: [
    { role: "system", content: "You are a concise assistant." },
    { role: "user", content: "Hello, VibeRouter!" },
  ],
  max_tokens: 100,
});

const choice = response.choices[0];
console.log(choice.message.content);
console.log(`finish_reason=${choice.finish_reason}`);
if (response.usage) {
  const { prompt_tokens, completion_tokens } = response.usage;
  console.log(`tokens: prompt=${prompt_tokens} completion=${completion_tokens}`);
}
