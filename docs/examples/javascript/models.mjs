// List the models VibeRouter publishes, with the official openai package.
//
//   VIBEROUTER_API_KEY=vr-... node models.mjs
//
// Besides the OpenAI fields (id, owned_by) every card carries VibeRouter's extras:
// context_length, max_output_tokens, pricing, capabilities and status.
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: process.env.VIBEROUTER_BASE_URL ?? "http://127.0.0.1:8080/v1",
  apiKey: process.env.VIBEROUTER_API_KEY,
});

for await (const card of client.models.list()) {
  console.log(
    `${card.id}\tcontext=${card.context_length}\tstatus=${card.status}` +
      `\ttools=${card.capabilities?.tools}`,
  );
}
