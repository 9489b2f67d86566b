// A streamed chat completion with the official openai package: text as it arrives,
// then the finish reason and the token usage (a last chunk with no choices).
//
//   VIBEROUTER_API_KEY=vr-... node stream.mjs
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: process.env.VIBEROUTER_BASE_URL ?? "http://127.0.0.1:8080/v1",
  apiKey: process.env.VIBEROUTER_API_KEY,
});
const model = process.env.VIBEROUTER_MODEL ?? "echo";

const stream = await client.chat.completions.create({
  model,
  messages: [{ role: "user", content: "Stream these words one by one, please." }],
  stream: true,
  // Ask for the usage chunk; without this option the router leaves it out.
  stream_options: { include_usage: true },
});

for await (const chunk of stream) {
  if (chunk.usage) {
    // the usage chunk: choices is empty
    const { prompt_tokens, completion_tokens } = chunk.usage;
    console.log(`tokens: prompt=${prompt_tokens} completion=${completion_tokens}`);
    continue;
  }
  for (const choice of chunk.choices) {
    if (choice.delta.content) process.stdout.write(choice.delta.content);
    if (choice.finish_reason) {
      process.stdout.write("\n");
      console.log(`finish_reason=${choice.finish_reason}`);
    }
  }
}
