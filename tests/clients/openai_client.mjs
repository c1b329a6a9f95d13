// SPDX-License-Identifier: Apache-2.0
// The official `openai` npm package against hiwayd's POST /v1/chat/completions.
//
//   node openai_client.mjs http://127.0.0.1:PORT/v1 KEY SCENARIO [OPTIONS_JSON]
//   node openai_client.mjs --jobs '[{"base": ..., "key": ..., "scenario": ..., "opts": {}}]'
//
// OPTIONS_JSON: {"model": "...", "text": "...", "followup_text": "...", "tool_result": "...",
//                "headers": {extra request headers}}.
// Scenarios (one JSON line out per job, see common.mjs):
//   create         chat.completions.create, not streamed
//   stream         stream: true + stream_options.include_usage, async iteration of the chunks
//   stream_plain   stream: true without stream_options (no usage chunk expected)
//   stream_helper  chat.completions.stream() and its finalChatCompletion() (tools offered)
//   tools          a tool call, then a follow-up with the tool result
//   raw            create().withResponse(): the HTTP status and headers beside the data
//   bad_request    n: 2, which hiway refuses with 400
//   models         models.list(): the ids of GET /v1/models
// A bad key is given as KEY by the caller; any scenario then reports the SDK's exception.
import OpenAI from 'openai';

import { headerMap, main } from './common.mjs';

const classes = {
	APIError: OpenAI.APIError,
	APIConnectionError: OpenAI.APIConnectionError,
	AuthenticationError: OpenAI.AuthenticationError,
	BadRequestError: OpenAI.BadRequestError,
	PermissionDeniedError: OpenAI.PermissionDeniedError,
	NotFoundError: OpenAI.NotFoundError,
	RateLimitError: OpenAI.RateLimitError,
	InternalServerError: OpenAI.InternalServerError,
	OpenAIError: OpenAI.OpenAIError,
};

const TOOLS = [
	{
		type: 'function',
		function: {
			name: 'get_weather',
			description: 'Weather of a city',
			parameters: {
				type: 'object',
				properties: { city: { type: 'string' } },
				required: ['city'],
			},
		},
	},
];

function summary(c) {
	const ch = c.choices[0];
	return {
		id: c.id,
		object: c.object,
		created: c.created,
		model: c.model,
		role: ch?.message?.role,
		content: ch?.message?.content ?? null,
		tool_calls: ch?.message?.tool_calls ?? null,
		finish_reason: ch?.finish_reason ?? null,
		n_choices: c.choices.length,
		usage: c.usage ?? null,
		hiway: c._hiway ?? null,
	};
}

async function iterate(stream, partial) {
	partial.text = '';
	partial.chunks = 0;
	partial.finish_reasons = [];
	partial.usage_chunks = [];
	partial.meta_chunks = 0;
	partial.models = [];
	partial.ids = [];
	partial.roles = [];
	for await (const chunk of stream) {
		partial.chunks++;
		if (!partial.models.includes(chunk.model)) partial.models.push(chunk.model);
		if (!partial.ids.includes(chunk.id)) partial.ids.push(chunk.id);
		if (chunk._hiway) partial.meta_chunks++;
		if (chunk.choices.length === 0 && chunk.usage) partial.usage_chunks.push(chunk.usage);
		for (const ch of chunk.choices) {
			if (ch.delta?.role) partial.roles.push(ch.delta.role);
			if (ch.delta?.content) partial.text += ch.delta.content;
			if (ch.finish_reason) partial.finish_reasons.push(ch.finish_reason);
		}
		partial.last_object = chunk.object;
	}
	return partial;
}

const scenarios = {
	async create(client, opts, partial) {
		const { model = 'auto', text = 'hello' } = opts;
		const c = await client.chat.completions.create({
			model,
			messages: [{ role: 'user', content: text }],
			max_tokens: 64,
		});
		return summary(c);
	},

	async stream(client, opts, partial) {
		const { model = 'auto', text = 'hello' } = opts;
		const { data: s, response } = await client.chat.completions
			.create({
				model,
				messages: [{ role: 'user', content: text }],
				max_tokens: 64,
				stream: true,
				stream_options: { include_usage: true },
			})
			.withResponse();
		partial.routed_model = headerMap(response.headers)['x-hiway-routed-model'] ?? null;
		return iterate(s, partial);
	},

	async stream_plain(client, opts, partial) {
		const { model = 'auto', text = 'hello' } = opts;
		const s = await client.chat.completions.create({
			model,
			messages: [{ role: 'user', content: text }],
			max_tokens: 64,
			stream: true,
		});
		return iterate(s, partial);
	},

	async stream_helper(client, opts, partial) {
		const { model = 'auto', text = 'hello' } = opts;
		const s = client.chat.completions.stream({
			model,
			messages: [{ role: 'user', content: text }],
			max_tokens: 64,
			tools: TOOLS,
			stream_options: { include_usage: true },
		});
		partial.text = '';
		s.on('content', (delta) => {
			partial.text += delta;
		});
		const final = await s.finalChatCompletion();
		return { streamed_text: partial.text, final: summary(final) };
	},

	async tools(client, opts, partial) {
		const { model = 'auto', text = 'hello' } = opts;
		const user = { role: 'user', content: text };
		const first = await client.chat.completions.create({
			model,
			messages: [user],
			tools: TOOLS,
			tool_choice: 'auto',
			max_tokens: 64,
		});
		partial.first = summary(first);
		const msg = first.choices[0].message;
		const calls = msg.tool_calls ?? [];
		if (!calls.length) return { first: partial.first, second: null };
		const args = JSON.parse(calls[0].function.arguments);
		// the follow-up: the assistant message as the SDK returned it, then the result
		const second = await client.chat.completions.create({
			model,
			messages: [
				{ role: 'user', content: opts.followup_text ?? text },
				msg,
				{ role: 'tool', tool_call_id: calls[0].id, content: opts.tool_result ?? 'sunny 21C' },
			],
			tools: TOOLS,
			max_tokens: 64,
		});
		return { first: partial.first, parsed_arguments: args, second: summary(second) };
	},

	async raw(client, opts, partial) {
		const { model = 'auto', text = 'hello' } = opts;
		const { data, response, request_id } = await client.chat.completions
			.create({ model, messages: [{ role: 'user', content: text }], max_tokens: 64 })
			.withResponse();
		return { status: response.status, headers: headerMap(response.headers), request_id,
			 data: summary(data) };
	},

	async models(client) {
		const ids = [];
		for await (const m of client.models.list()) ids.push({ id: m.id, object: m.object,
								      owned_by: m.owned_by });
		return { models: ids };
	},

	async bad_request(client, opts, partial) {
		const { model = 'auto', text = 'hello' } = opts;
		const c = await client.chat.completions.create({
			model,
			messages: [{ role: 'user', content: text }],
			n: 2,
		});
		return summary(c);
	},
};

const makeClient = (baseURL, apiKey, opts) =>
	new OpenAI({ baseURL, apiKey, defaultHeaders: opts.headers, maxRetries: 0, timeout: 20000 });
await main(makeClient, scenarios, classes);
