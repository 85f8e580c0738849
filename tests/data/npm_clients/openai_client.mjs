import OpenAI from "openai";
const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY, maxRetries: 0, timeout: 20000 });
const out = {};
const chat = await client.chat.completions.create({ model: "demo-mini", messages: [{ role: "user", content: "Say hello" }] });
out.chat = { content: chat.choices[0].message.content, finish: chat.choices[0].finish_reason, usage: chat.usage };
const stream = await client.chat.completions.create({ model: "demo-mini", messages: [{ role: "user", content: "Count to three" }], stream: true, stream_options: { include_usage: true } });
let text = ""; const usages = [];
for await (const chunk of stream) { text += chunk.choices[0]?.delta?.content ?? ""; if (chunk.usage) usages.push(chunk.usage); }
out.stream = { text, usages };
const tools = [{ type: "function", function: { name: "get_weather", description: "Get the weather in a city", parameters: { type: "object", properties: { city: { type: "string" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } }, required: ["city", "unit"] } } }];
const messages = [{ role: "user", content: "What is the weather in Paris?" }];
const first = await client.chat.completions.create({ model: "demo-premium", messages, tools, tool_choice: "required" });
const msg = first.choices[0].message;
out.tool = { finish: first.choices[0].finish_reason, calls: (msg.tool_calls ?? []).map(c => ({ name: c.function.name, args: JSON.parse(c.function.arguments) })) };
messages.push(msg);
for (const c of msg.tool_calls ?? []) messages.push({ role: "tool", tool_call_id: c.id, content: "sunny, 21 C" });
const second = await client.chat.completions.create({ model: "demo-premium", messages, tools });
out.tool.answer = second.choices[0].message.content;
console.log(JSON.stringify(out));
