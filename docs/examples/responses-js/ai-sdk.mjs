// The Vercel AI SDK's default OpenAI provider (`openai(modelId)` speaks the Responses
// API) pointed at VibeRouter: generateText, then streamText.
//
//   npm ci
//   VIBEROUTER_API_KEY=vr-... node ai-sdk.mjs
//
// VIBEROUTER_BASE_URL and VIBEROUTER_MODEL as in responses.mjs.
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, streamText } from "ai";

const openai = createOpenAI({
  baseURL: process.env.VIBEROUTER_BASE_URL ?? "http://127.0.0.1:8080/v1",
  apiKey: process.env.VIBEROUTER_API_KEY,
});
const model = openai(process.env.VIBEROUTER_MODEL ?? "echo");

const result = await generateText({ model, prompt: "Hello from the AI SDK!" });
console.log(result.text);
console.log(`finish=${result.finishReason} tokens: input=${result.usage.inputTokens} output=${result.usage.outputTokens}`);

const streamed = streamText({ model, prompt: "Stream these words one by one, please." });
let text = "";
for await (const part of streamed.textStream) {
  text += part;
}
console.log(text);
console.log(`stream finish=${await streamed.finishReason}`);
