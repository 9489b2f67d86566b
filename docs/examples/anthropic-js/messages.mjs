// The Anthropic Messages API through VibeRouter with the official @anthropic-ai/sdk
// package: one message, then the same question streamed. The SDK reads the router's
// address and key from the environment, the same two variables Claude Code reads:
//
//   ANTHROPIC_BASE_URL=http://127.0.0.1:8080 ANTHROPIC_AUTH_TOKEN=vr-... node messages.mjs
//
// (ANTHROPIC_API_KEY works as well: it is sent as x-api-key instead of a Bearer token.)
import Anthropic from "@anthropic-ai/sdk";

const client = new Anthropic();
const model = process.env.VIBEROUTER_MODEL ?? "echo";

const message = await client.messages.create({
  model,
  max_tokens: 256,
  messages: [{ role: "user", content: "Hello, VibeRouter!" }],
});
const text = message.content.filter((b) => b.type === "text").map((b) => b.text);
console.log(text.join(""));
console.log(`stop_reason=${message.stop_reason}`);
console.log(`tokens: input=${message.usage.input_tokens} output=${message.usage.output_tokens}`);

const stream = client.messages.stream({
  model,
  max_tokens: 256,
  messages: [{ role: "user", content: "Stream these words one by one, please." }],
});
stream.on("text", (delta) => process.stdout.write(delta));
const final = await stream.finalMessage();
process.stdout.write("\n");
console.log(`stop_reason=${final.stop_reason}`);
console.log(`tokens: input=${final.usage.input_tokens} output=${final.usage.output_tokens}`);
