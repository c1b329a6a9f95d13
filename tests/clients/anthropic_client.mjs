// SPDX-License-Identifier: Apache-2.0
// The official `@anthropic-ai/sdk` npm package against hiwayd's POST /v1/messages.
//
//   node anthropic_client.mjs http://127.0.0.1:PORT KEY SCENARIO [OPTIONS_JSON]
//   node anthropic_client.mjs --jobs '[{"base": ..., "key": ..., "scenario": ..., "opts": {}}]'
//
// OPTIONS_JSON: {"model": "...", "text": "...", "followup_text": "...", "tool_result": "...",
//                "tools": bool, "headers": {extra request headers}, "auth_token": bool}.
// Scenarios (one JSON line out per job, see common.mjs):
//   create       messages.create, not streamed
//   stream       messages.stream(): 'text' events, the raw event types, finalMessage()
//                (tools offered when OPTIONS_JSON has "tools": true)
//   stream_raw   messages.create({stream: true}) iterated event by event
//   tools        a tool_use block, then a follow-up with the tool_result
//   raw          create().withResponse(): the HTTP status and headers beside the data
//   bad_request  a content block of an unknown type, which hiway refuses with 400
// A bad key is given as KEY by the caller; any scenario then reports the SDK's exception.
import Anthropic from '@anthropic-ai/sdk';

import { headerMap, main } from './common.mjs';

const classes = {
	APIError: Anthropic.APIError,
	APIConnectionError: Anthropic.APIConnectionError,
	AuthenticationError: Anthropic.AuthenticationError,
	BadRequestError: Anthropic.BadRequestError,
	PermissionDeniedError: Anthropic.PermissionDeniedError,
	NotFoundError: Anthropic.NotFoundError,
	RateLimitError: Anthropic.RateLimitError,
	InternalServerError: Anthropic.InternalServerError,
	AnthropicError: Anthropic.AnthropicError,
};

const TOOLS = [
	{
		name: 'get_weather',
		description: 'Weather of a city',
		input_schema: {
			type: 'object',
			properties: { city: { type: 'string' } },
			required: ['city'],
		},
	},
];

function summary(m) {
	return {
		id: m.id,
		type: m.type,
		role: m.role,
		model: m.model,
		content: m.content,
		stop_reason: m.stop_reason,
		stop_sequence: m.stop_sequence ?? null,
		usage: m.usage,
		hiway: m._hiway ?? null,
	};
}

const scenarios = {
	async create(client, opts, partial) {
		const { model = 'auto', text = 'hello' } = opts;
		const m = await client.messages.create({
			model,
			max_tokens: 64,
			messages: [{ role: 'user', content: text }],
		});
		return summary(m);
	},

	async stream(client, opts, partial) {
		const { model = 'auto', text = 'hello' } = opts;
		const s = client.messages.stream({
			model,
			max_tokens: 64,
			messages: [{ role: 'user', content: text }],
			...(opts.tools ? { tools: TOOLS } : {}),
		});
		partial.text = '';
		partial.events = [];
		s.on('text', (delta) => {
			partial.text += delta;
		});
		s.on('streamEvent', (ev) => {
			partial.events.push(ev.type);
		});
		const final = await s.finalMessage();
		return { streamed_text: partial.text, events: partial.events,
			 final_text: await s.finalText().catch(() => null), final: summary(final) };
	},

	async stream_raw(client, opts, partial) {
		const { model = 'auto', text = 'hello' } = opts;
		const s = await client.messages.create({
			model,
			max_tokens: 64,
			messages: [{ role: 'user', content: text }],
			stream: true,
		});
		partial.text = '';
		partial.events = [];
		for await (const ev of s) {
			partial.events.push(ev.type);
			if (ev.type === 'message_start') partial.model = ev.message.model;
			if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') {
				partial.text += ev.delta.text;
			}
			if (ev.type === 'message_delta') {
				partial.stop_reason = ev.delta.stop_reason;
				partial.output_tokens = ev.usage?.output_tokens;
			}
		}
		return partial;
	},

	async tools(client, opts, partial) {
		const { model = 'auto', text = 'hello' } = opts;
		const first = await client.messages.create({
			model,
			max_tokens: 64,
			tools: TOOLS,
			messages: [{ role: 'user', content: text }],
		});
		partial.first = summary(first);
		const use = first.content.find((b) => b.type === 'tool_use');
		if (!use) return { first: partial.first, second: null };
		// the follow-up: the assistant content as the SDK returned it, then the result
		const second = await client.messages.create({
			model,
			max_tokens: 64,
			tools: TOOLS,
			messages: [
				{ role: 'user', content: opts.followup_text ?? text },
				{ role: 'assistant', content: first.content },
				{
					role: 'user',
					content: [{ type: 'tool_result', tool_use_id: use.id,
						    content: opts.tool_result ?? 'sunny 21C' }],
				},
			],
		});
		return { first: partial.first, second: summary(second) };
	},

	async raw(client, opts, partial) {
		const { model = 'auto', text = 'hello' } = opts;
		const { data, response, request_id } = await client.messages
			.create({ model, max_tokens: 64, messages: [{ role: 'user', content: text }] })
			.withResponse();
		return { status: response.status, headers: headerMap(response.headers), request_id,
			 sdk_request_id: data._request_id ?? null, data: summary(data) };
	},

	async bad_request(client, opts, partial) {
		const { model = 'auto', text = 'hello' } = opts;
		const m = await client.messages.create({
			model,
			max_tokens: 64,
			messages: [{ role: 'user', content: [{ type: 'video', source: {} }] }],
		});
		return summary(m);
	},
};

// "auth_token": true sends the key as Authorization: Bearer (ANTHROPIC_AUTH_TOKEN) instead
// of x-api-key
const makeClient = (baseURL, key, opts) =>
	new Anthropic({
		baseURL,
		...(opts.auth_token ? { authToken: key, apiKey: null } : { apiKey: key }),
		defaultHeaders: opts.headers,
		maxRetries: 0,
		timeout: 20000,
	});
await main(makeClient, scenarios, classes);
