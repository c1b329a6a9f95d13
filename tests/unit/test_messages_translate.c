// SPDX-License-Identifier: Apache-2.0
/* The /v1/messages translation (SPEC §5.3, §6.3, §6.4, §8.3): request conversion and its
 * validation errors, responses, and stream event sequences, each against a golden value. */
#include "gateway/chat_request.h"
#include "gateway/messages_translate.h"
#include "upstream/sse.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

/* JSON written with ' for " so the goldens stay readable; no golden text holds a quote. */
static json_t *J(const char *text)
{
	char *s = strdup(text);
	for (char *c = s; *c; c++)
		if (*c == '\'')
			*c = '"';
	json_error_t err;
	json_t *v = json_loads(s, JSON_DECODE_ANY, &err);
	if (!v)
		print_error("bad test JSON (%s): %s\n", err.text, s);
	free(s);
	assert_non_null(v);
	return v;
}

/* Compares and releases `got`. */
static void expect_json(json_t *got, const char *expected)
{
	json_t *want = J(expected);
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_COMPACT | JSON_PRESERVE_ORDER);
		char *w = json_dumps(want, JSON_COMPACT | JSON_PRESERVE_ORDER);
		print_error("got:  %s\nwant: %s\n", g ? g : "(null)", w);
		free(g);
		free(w);
	}
	bool eq = json_equal(got, want);
	json_decref(got);
	json_decref(want);
	assert_true(eq);
}

/* ---- requests ---- */

static json_t *convert_ok(const char *anthropic)
{
	json_t *req = J(anthropic);
	json_t *before = json_deep_copy(req);
	char param[128] = "<unset>", msg[256] = "";
	json_t *out = hw_messages_to_openai(req, param, sizeof(param), msg, sizeof(msg));
	if (!out)
		print_error("rejected (%s: %s): %s\n", param, msg, anthropic);
	/* The conversion reads the body and never edits it: the anthropic path forwards it. */
	assert_true(json_equal(req, before));
	json_decref(req);
	json_decref(before);
	assert_non_null(out);
	return out;
}

static void expect_request(const char *anthropic, const char *openai)
{
	expect_json(convert_ok(anthropic), openai);
}

#define BASE "'model':'auto','max_tokens':100"

static void test_request_minimal(void **state)
{
	expect_request("{" BASE ",'messages':[{'role':'user','content':'hi'}]}",
		       "{'model':'auto','messages':[{'role':'user','content':'hi'}],'max_tokens':100}");
}

static void test_request_fields(void **state)
{
	/* system string first; sampling kept; top_k, thinking and unknown fields dropped;
	 * stop_sequences → stop; metadata.user_id → user; stream kept. */
	expect_request("{'model':'openai/gpt-4o','max_tokens':512,'system':'Be brief.',"
		       "'messages':[{'role':'user','content':'hi'}],'temperature':0.5,'top_p':0.9,"
		       "'top_k':40,'thinking':{'type':'enabled','budget_tokens':1024},"
		       "'stop_sequences':['END','###'],'metadata':{'user_id':'u-42'},'stream':true,"
		       "'service_tier':'auto','x_unknown':{'a':1}}",
		       "{'model':'openai/gpt-4o','messages':[{'role':'system','content':'Be brief.'},"
		       "{'role':'user','content':'hi'}],'max_tokens':512,'stop':['END','###'],"
		       "'temperature':0.5,'top_p':0.9,'user':'u-42','stream':true}");
	/* Empty system, empty stop list, null metadata user: nothing emitted. */
	expect_request("{" BASE ",'system':'','stop_sequences':[],'metadata':{'user_id':null},"
		       "'stream':false,'messages':[{'role':'user','content':'hi'}]}",
		       "{'model':'auto','messages':[{'role':'user','content':'hi'}],'max_tokens':100,"
		       "'stream':false}");
}

static void test_request_system_blocks(void **state)
{
	expect_request("{" BASE ",'system':[{'type':'text','text':'You are terse.'},"
		       "{'type':'text','text':'Answer in French.','cache_control':{'type':'ephemeral'}}],"
		       "'messages':[{'role':'user','content':[{'type':'text','text':'hi'}]}]}",
		       "{'model':'auto','messages':[{'role':'system','content':'You are terse.\\nAnswer in French.'},"
		       "{'role':'user','content':[{'type':'text','text':'hi'}]}],'max_tokens':100}");
}

static void test_request_multi_turn_tools(void **state)
{
	expect_request(
		"{" BASE ",'messages':["
		"{'role':'user','content':'weather in Paris and Rome?'},"
		"{'role':'assistant','content':[{'type':'thinking','thinking':'two calls','signature':'sig'},"
		" {'type':'text','text':'Checking.'},"
		" {'type':'tool_use','id':'toolu_1','name':'get_weather','input':{'city':'Paris','units':{'t':'C'}}},"
		" {'type':'tool_use','id':'toolu_2','name':'get_weather','input':{}}]},"
		"{'role':'user','content':["
		" {'type':'tool_result','tool_use_id':'toolu_1','content':'18C'},"
		" {'type':'tool_result','tool_use_id':'toolu_2','is_error':true,'content':["
		"   {'type':'text','text':'part one'},{'type':'text','text':'part two'},"
		"   {'type':'image','source':{'type':'url','url':'https://x.test/radar.png'}}]},"
		" {'type':'text','text':'and tomorrow?'}]},"
		"{'role':'assistant','content':'Tomorrow: rain.'},"
		"{'role':'user','content':[{'type':'tool_result','tool_use_id':'toolu_3'}]}]}",
		"{'model':'auto','messages':["
		"{'role':'user','content':'weather in Paris and Rome?'},"
		"{'role':'assistant','content':'Checking.','tool_calls':["
		" {'id':'toolu_1','type':'function','function':{'name':'get_weather','arguments':'{\\'city\\':\\'Paris\\',\\'units\\':{\\'t\\':\\'C\\'}}'}},"
		" {'id':'toolu_2','type':'function','function':{'name':'get_weather','arguments':'{}'}}]},"
		"{'role':'tool','tool_call_id':'toolu_1','content':'18C'},"
		"{'role':'tool','tool_call_id':'toolu_2','content':'part one\\npart two'},"
		"{'role':'user','content':[{'type':'image_url','image_url':{'url':'https://x.test/radar.png'}},"
		" {'type':'text','text':'and tomorrow?'}]},"
		"{'role':'assistant','content':'Tomorrow: rain.'},"
		"{'role':'tool','tool_call_id':'toolu_3','content':''}],'max_tokens':100}");
}

static void test_request_assistant_shapes(void **state)
{
	/* tool_use only: content null; thinking only: dropped; empty final assistant (a
	 * prefill with nothing in it): dropped; string prefill kept. */
	expect_request("{" BASE ",'messages':[{'role':'user','content':'a'},"
		       "{'role':'assistant','content':[{'type':'tool_use','id':'t1','name':'f','input':{'x':[1,2]}}]},"
		       "{'role':'user','content':[{'type':'tool_result','tool_use_id':'t1','content':'ok'}]},"
		       "{'role':'assistant','content':[{'type':'redacted_thinking','data':'opaque'}]},"
		       "{'role':'user','content':'b'},{'role':'assistant','content':[]}]}",
		       "{'model':'auto','messages':[{'role':'user','content':'a'},"
		       "{'role':'assistant','content':null,'tool_calls':[{'id':'t1','type':'function',"
		       "'function':{'name':'f','arguments':'{\\'x\\':[1,2]}'}}]},"
		       "{'role':'tool','tool_call_id':'t1','content':'ok'},"
		       "{'role':'user','content':'b'}],'max_tokens':100}");
	expect_request("{" BASE ",'messages':[{'role':'user','content':'a'},{'role':'assistant','content':'{'}]}",
		       "{'model':'auto','messages':[{'role':'user','content':'a'},"
		       "{'role':'assistant','content':'{'}],'max_tokens':100}");
}

static void test_request_images_documents(void **state)
{
	expect_request(
		"{" BASE ",'messages':[{'role':'user','content':["
		"{'type':'image','source':{'type':'base64','media_type':'image/png','data':'iVBORw0K'}},"
		"{'type':'image','source':{'type':'url','url':'https://img.test/a.jpg'}},"
		"{'type':'document','title':'report.pdf','source':{'type':'base64','media_type':'application/pdf','data':'JVBERi0x'}},"
		"{'type':'document','source':{'type':'base64','media_type':'application/pdf','data':'JVBE'}},"
		"{'type':'document','source':{'type':'text','media_type':'text/plain','data':'plain doc'}},"
		"{'type':'document','source':{'type':'url','url':'https://doc.test/a.pdf'}},"
		"{'type':'text','text':'describe'}]}]}",
		"{'model':'auto','messages':[{'role':'user','content':["
		"{'type':'image_url','image_url':{'url':'data:image/png;base64,iVBORw0K'}},"
		"{'type':'image_url','image_url':{'url':'https://img.test/a.jpg'}},"
		"{'type':'file','file':{'filename':'report.pdf','file_data':'data:application/pdf;base64,JVBERi0x'}},"
		"{'type':'file','file':{'filename':'document','file_data':'data:application/pdf;base64,JVBE'}},"
		"{'type':'text','text':'plain doc'},"
		"{'type':'file','file':{'file_url':'https://doc.test/a.pdf'}},"
		"{'type':'text','text':'describe'}]}],'max_tokens':100}");
}

#define TOOLS                                                                                     \
	"'tools':[{'name':'get_weather','description':'Weather now','input_schema':{'type':'object',"  \
	"'properties':{'city':{'type':'string'}}},'cache_control':{'type':'ephemeral'}},"             \
	"{'type':'custom','name':'noop-2','input_schema':{'type':'object'}}]"
#define TOOLS_OUT                                                                                 \
	"'tools':[{'type':'function','function':{'name':'get_weather','description':'Weather now',"   \
	"'parameters':{'type':'object','properties':{'city':{'type':'string'}}}}},"                   \
	"{'type':'function','function':{'name':'noop-2','parameters':{'type':'object'}}}]"
#define ONE_MSG "'messages':[{'role':'user','content':'hi'}]"
#define ONE_MSG_OUT "'model':'auto','messages':[{'role':'user','content':'hi'}],'max_tokens':100"

static void test_request_tools_and_choice(void **state)
{
	expect_request("{" BASE "," ONE_MSG "," TOOLS "}", "{" ONE_MSG_OUT "," TOOLS_OUT "}");
	expect_request("{" BASE "," ONE_MSG "," TOOLS ",'tool_choice':{'type':'auto'}}",
		       "{" ONE_MSG_OUT "," TOOLS_OUT ",'tool_choice':'auto'}");
	expect_request("{" BASE "," ONE_MSG "," TOOLS ",'tool_choice':{'type':'any'}}",
		       "{" ONE_MSG_OUT "," TOOLS_OUT ",'tool_choice':'required'}");
	expect_request("{" BASE "," ONE_MSG "," TOOLS ",'tool_choice':{'type':'none'}}",
		       "{" ONE_MSG_OUT "," TOOLS_OUT ",'tool_choice':'none'}");
	expect_request("{" BASE "," ONE_MSG "," TOOLS ",'tool_choice':{'type':'tool','name':'get_weather'}}",
		       "{" ONE_MSG_OUT "," TOOLS_OUT
		       ",'tool_choice':{'type':'function','function':{'name':'get_weather'}}}");
	expect_request("{" BASE "," ONE_MSG "," TOOLS
		       ",'tool_choice':{'type':'auto','disable_parallel_tool_use':true}}",
		       "{" ONE_MSG_OUT "," TOOLS_OUT ",'tool_choice':'auto','parallel_tool_calls':false}");
	expect_request("{" BASE "," ONE_MSG "," TOOLS
		       ",'tool_choice':{'type':'any','disable_parallel_tool_use':false}}",
		       "{" ONE_MSG_OUT "," TOOLS_OUT ",'tool_choice':'required'}");
	/* Without tools OpenAI refuses tool_choice, so it is not sent; [] means no tools. */
	expect_request("{" BASE "," ONE_MSG ",'tools':[],'tool_choice':{'type':'any'}}", "{" ONE_MSG_OUT "}");
}

struct bad {
	const char *body;
	const char *param;
};

static const struct bad bad_requests[] = {
	{"[1]", ""},
	{"{'max_tokens':1," ONE_MSG "}", "model"},
	{"{'model':''," "'max_tokens':1," ONE_MSG "}", "model"},
	{"{'model':'auto'," ONE_MSG "}", "max_tokens"},
	{"{'model':'auto','max_tokens':0," ONE_MSG "}", "max_tokens"},
	{"{'model':'auto','max_tokens':1.5," ONE_MSG "}", "max_tokens"},
	{"{" BASE "}", "messages"},
	{"{" BASE ",'messages':[]}", "messages"},
	{"{" BASE ",'messages':{}}", "messages"},
	{"{" BASE ",'messages':['x']}", "messages[0]"},
	{"{" BASE ",'messages':[{'role':'system','content':'x'}]}", "messages[0].role"},
	{"{" BASE ",'messages':[{'content':'x'}]}", "messages[0].role"},
	{"{" BASE ",'messages':[{'role':'user'}]}", "messages[0].content"},
	{"{" BASE ",'messages':[{'role':'user','content':5}]}", "messages[0].content"},
	{"{" BASE ",'messages':[{'role':'user','content':[]}]}", "messages[0].content"},
	{"{" BASE ",'messages':[{'role':'assistant','content':[]},{'role':'user','content':'x'}]}",
	 "messages[0].content"},
	{"{" BASE ",'messages':[{'role':'assistant','content':[]}]}", "messages"},
	{"{" BASE ",'messages':[{'role':'user','content':'a'},{'role':'user','content':['x']}]}",
	 "messages[1].content[0]"},
	{"{" BASE ",'messages':[{'role':'user','content':[{'text':'x'}]}]}", "messages[0].content[0]"},
	{"{" BASE ",'messages':[{'role':'user','content':'a'},{'role':'assistant','content':'b'},"
	 "{'role':'user','content':[{'type':'text','text':'x'},{'type':'audio'}]}]}",
	 "messages[2].content[1].type"},
	{"{" BASE ",'messages':[{'role':'user','content':[{'type':'text'}]}]}", "messages[0].content[0].text"},
	{"{" BASE ",'messages':[{'role':'user','content':[{'type':'tool_use','id':'a','name':'f','input':{}}]}]}",
	 "messages[0].content[0].type"},
	{"{" BASE ",'messages':[{'role':'user','content':[{'type':'thinking','thinking':'t'}]}]}",
	 "messages[0].content[0].type"},
	{"{" BASE ",'messages':[{'role':'user','content':'a'},{'role':'assistant','content':[{'type':'image',"
	 "'source':{'type':'url','url':'u'}}]}]}",
	 "messages[1].content[0].type"},
	{"{" BASE ",'messages':[{'role':'user','content':'a'},{'role':'assistant','content':[{'type':'tool_result','tool_use_id':'t'}]}]}",
	 "messages[1].content[0].type"},
	{"{" BASE ",'messages':[{'role':'user','content':[{'type':'image'}]}]}", "messages[0].content[0].source"},
	{"{" BASE ",'messages':[{'role':'user','content':[{'type':'image','source':{'type':'file','file_id':'f'}}]}]}",
	 "messages[0].content[0].source.type"},
	{"{" BASE ",'messages':[{'role':'user','content':[{'type':'image','source':{'type':'base64','data':'x'}}]}]}",
	 "messages[0].content[0].source.media_type"},
	{"{" BASE ",'messages':[{'role':'user','content':[{'type':'image','source':{'type':'base64','media_type':'image/png'}}]}]}",
	 "messages[0].content[0].source.data"},
	{"{" BASE ",'messages':[{'role':'user','content':[{'type':'image','source':{'type':'url'}}]}]}",
	 "messages[0].content[0].source.url"},
	{"{" BASE ",'messages':[{'role':'user','content':[{'type':'document','source':{'type':'content','content':[]}}]}]}",
	 "messages[0].content[0].source.type"},
	{"{" BASE ",'messages':[{'role':'user','content':[{'type':'document','source':{'type':'text'}}]}]}",
	 "messages[0].content[0].source.data"},
	{"{" BASE ",'messages':[{'role':'user','content':[{'type':'tool_result','content':'x'}]}]}",
	 "messages[0].content[0].tool_use_id"},
	{"{" BASE ",'messages':[{'role':'user','content':[{'type':'tool_result','tool_use_id':'t','content':7}]}]}",
	 "messages[0].content[0].content"},
	{"{" BASE ",'messages':[{'role':'user','content':[{'type':'tool_result','tool_use_id':'t','content':"
	 "[{'type':'text','text':'a'},{'type':'document','source':{}}]}]}]}",
	 "messages[0].content[0].content[1].type"},
	{"{" BASE ",'messages':[{'role':'user','content':[{'type':'tool_result','tool_use_id':'t','content':"
	 "[{'type':'text'}]}]}]}",
	 "messages[0].content[0].content[0].text"},
	{"{" BASE ",'messages':[{'role':'user','content':[{'type':'tool_result','tool_use_id':'t','content':"
	 "[{'type':'image','source':{'type':'url'}}]}]}]}",
	 "messages[0].content[0].content[0].source.url"},
	{"{" BASE ",'messages':[{'role':'user','content':'a'},{'role':'assistant','content':[{'type':'tool_use','name':'f','input':{}}]}]}",
	 "messages[1].content[0].id"},
	{"{" BASE ",'messages':[{'role':'user','content':'a'},{'role':'assistant','content':[{'type':'tool_use','id':'t','input':{}}]}]}",
	 "messages[1].content[0].name"},
	{"{" BASE ",'messages':[{'role':'user','content':'a'},{'role':'assistant','content':[{'type':'tool_use','id':'t','name':'f','input':'{}'}]}]}",
	 "messages[1].content[0].input"},
	{"{" BASE ",'messages':[{'role':'user','content':'a'},{'role':'assistant','content':[{'type':'thinking'}]}]}",
	 "messages[1].content[0].thinking"},
	{"{" BASE ",'messages':[{'role':'user','content':'a'},{'role':'assistant','content':[{'type':'redacted_thinking'}]}]}",
	 "messages[1].content[0].data"},
	{"{" BASE "," ONE_MSG ",'system':5}", "system"},
	{"{" BASE "," ONE_MSG ",'system':[{'type':'image'}]}", "system[0].type"},
	{"{" BASE "," ONE_MSG ",'system':[{'type':'text','text':'a'},{'type':'text'}]}", "system[1].text"},
	{"{" BASE "," ONE_MSG ",'tools':{}}", "tools"},
	{"{" BASE "," ONE_MSG ",'tools':[7]}", "tools[0]"},
	{"{" BASE "," ONE_MSG ",'tools':[{'type':'web_search_20250305','name':'web_search'}]}", "tools[0].type"},
	{"{" BASE "," ONE_MSG ",'tools':[{'input_schema':{}}]}", "tools[0].name"},
	{"{" BASE "," ONE_MSG ",'tools':[{'name':'ok','input_schema':{}},{'name':'bad name','input_schema':{}}]}",
	 "tools[1].name"},
	{"{" BASE "," ONE_MSG ",'tools':[{'name':'x12345678901234567890123456789012345678901234567890123456789012345',"
	 "'input_schema':{}}]}",
	 "tools[0].name"},
	{"{" BASE "," ONE_MSG ",'tools':[{'name':'f'}]}", "tools[0].input_schema"},
	{"{" BASE "," ONE_MSG ",'tools':[{'name':'f','input_schema':[]}]}", "tools[0].input_schema"},
	{"{" BASE "," ONE_MSG ",'tools':[{'name':'f','input_schema':{},'description':1}]}", "tools[0].description"},
	{"{" BASE "," ONE_MSG ",'tool_choice':'auto'}", "tool_choice"},
	{"{" BASE "," ONE_MSG ",'tool_choice':{'type':'required'}}", "tool_choice.type"},
	{"{" BASE "," ONE_MSG ",'tool_choice':{}}", "tool_choice.type"},
	{"{" BASE "," ONE_MSG ",'tool_choice':{'type':'tool'}}", "tool_choice.name"},
	{"{" BASE "," ONE_MSG ",'tool_choice':{'type':'auto','disable_parallel_tool_use':1}}",
	 "tool_choice.disable_parallel_tool_use"},
	{"{" BASE "," ONE_MSG ",'stop_sequences':'END'}", "stop_sequences"},
	{"{" BASE "," ONE_MSG ",'stop_sequences':['a',3]}", "stop_sequences[1]"},
	{"{" BASE "," ONE_MSG ",'stop_sequences':['']}", "stop_sequences[0]"},
	{"{" BASE "," ONE_MSG ",'temperature':1.5}", "temperature"},
	{"{" BASE "," ONE_MSG ",'temperature':'hot'}", "temperature"},
	{"{" BASE "," ONE_MSG ",'top_p':-0.1}", "top_p"},
	{"{" BASE "," ONE_MSG ",'top_k':-1}", "top_k"},
	{"{" BASE "," ONE_MSG ",'top_k':2.5}", "top_k"},
	{"{" BASE "," ONE_MSG ",'thinking':true}", "thinking"},
	{"{" BASE "," ONE_MSG ",'metadata':[]}", "metadata"},
	{"{" BASE "," ONE_MSG ",'metadata':{'user_id':5}}", "metadata.user_id"},
	{"{" BASE "," ONE_MSG ",'stream':'yes'}", "stream"},
};

static void test_request_errors(void **state)
{
	int failures = 0;
	for (size_t i = 0; i < sizeof(bad_requests) / sizeof(bad_requests[0]); i++) {
		json_t *req = J(bad_requests[i].body);
		char param[128] = "<unset>", msg[256] = "";
		json_t *out = hw_messages_to_openai(req, param, sizeof(param), msg, sizeof(msg));
		if (out || strcmp(param, bad_requests[i].param) != 0 || !msg[0]) {
			print_error("case %zu: got %s param '%s' (want '%s') msg '%s'\n", i,
				    out ? "success" : "error", param, bad_requests[i].param, msg);
			failures++;
		}
		json_decref(out);
		json_decref(req);
	}
	assert_int_equal(failures, 0);
}

/* The converted request is the internal form: chat_request's parser accepts it and its
 * §1.3 text bytes are the messages request's. */
static void parse_internal(json_t *openai, struct hw_chat_req *r)
{
	char *body = json_dumps(openai, JSON_COMPACT | JSON_PRESERVE_ORDER);
	char param[128], msg[256];
	int rc = hw_chat_parse(body, strlen(body), r, param, sizeof(param), msg, sizeof(msg));
	if (rc)
		print_error("internal form rejected (%s: %s): %s\n", param, msg, body);
	free(body);
	json_decref(openai);
	assert_int_equal(rc, 0);
}

static void test_request_internal_form(void **state)
{
	struct hw_chat_req r;
	/* system 5 + "hello" 5 + image 3000 + arguments {"a":1} 7 + tool result 2 + tools. */
	parse_internal(convert_ok("{'model':'auto','max_tokens':9,'system':'sys!!',"
				  "'metadata':{'user_id':'end-user'},"
				  "'messages':[{'role':'user','content':[{'type':'text','text':'hello'},"
				  "{'type':'image','source':{'type':'url','url':'https://i.test/x.png'}}]},"
				  "{'role':'assistant','content':[{'type':'tool_use','id':'t','name':'f','input':{'a':1}}]},"
				  "{'role':'user','content':[{'type':'tool_result','tool_use_id':'t','content':'ok'}]}],"
				  "'tools':[{'name':'f','input_schema':{'type':'object'}}],"
				  "'tool_choice':{'type':'tool','name':'f'}}"),
		       &r);
	const char *tools = "[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\"}}}]";
	int64_t want = 5 + 5 + 3000 + 7 + 2 + (int64_t)strlen(tools);
	assert_int_equal(r.text_bytes, want);
	assert_int_equal(r.est_tokens, (want + 3) / 4);
	assert_int_equal(r.max_tokens, 9);
	assert_string_equal(r.end_user, "end-user");
	assert_string_equal(r.forced_tool, "f");
	assert_true(r.last_is_tool);
	assert_string_equal(r.last_tool_text.data, "ok");
	hw_chat_req_free(&r);

	/* Every request golden above is also valid internal form. */
	parse_internal(convert_ok("{" BASE "," ONE_MSG "," TOOLS ",'tool_choice':{'type':'none'},'stream':true}"), &r);
	assert_true(r.stream);
	assert_true(r.tool_choice_none);
	assert_int_equal(r.n_tools, 2);
	hw_chat_req_free(&r);
}

/* ---- responses ---- */

/* Checks the generated id and replaces it, so the rest compares exactly. */
static json_t *without_id(json_t *message)
{
	assert_non_null(message);
	const char *id = json_string_value(json_object_get(message, "id"));
	assert_non_null(id);
	assert_true(strncmp(id, "msg_", 4) == 0);
	assert_true(strlen(id) >= 4 + 24);
	json_object_set_new(message, "id", json_string("<id>"));
	return message;
}

static void expect_message(const char *completion, const json_t *stops, const char *message)
{
	json_t *c = J(completion);
	expect_json(without_id(hw_openai_to_message(c, "openai/gpt-4o-mini", stops)), message);
	json_decref(c);
}

#define MSG_HEAD "'id':'<id>','type':'message','role':'assistant','model':'openai/gpt-4o-mini'"
#define USAGE_10_5 "'usage':{'prompt_tokens':10,'completion_tokens':5,'total_tokens':15}"
#define AUSAGE_10_5 "'usage':{'input_tokens':10,'output_tokens':5,'cache_read_input_tokens':0,'cache_creation_input_tokens':0}"

static void test_response_text(void **state)
{
	expect_message("{'id':'chatcmpl-1','object':'chat.completion','model':'gpt-4o-mini',"
		       "'choices':[{'index':0,'message':{'role':'assistant','content':'Hello there'},"
		       "'finish_reason':'stop','logprobs':null}]," USAGE_10_5 "}",
		       NULL,
		       "{" MSG_HEAD ",'content':[{'type':'text','text':'Hello there'}],"
		       "'stop_reason':'end_turn','stop_sequence':null," AUSAGE_10_5 "}");
	/* Two calls give two ids. */
	json_t *c = J("{'choices':[{'message':{'content':'x'},'finish_reason':'stop'}]}");
	json_t *a = hw_openai_to_message(c, "m", NULL), *b = hw_openai_to_message(c, "m", NULL);
	assert_string_not_equal(json_string_value(json_object_get(a, "id")),
				json_string_value(json_object_get(b, "id")));
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

static void test_response_tool_calls(void **state)
{
	expect_message("{'choices':[{'message':{'role':'assistant','content':null,'tool_calls':["
		       "{'id':'call_a','type':'function','function':{'name':'get_weather','arguments':'{\\'city\\':\\'Paris\\'}'}},"
		       "{'id':'call_b','type':'function','function':{'name':'noop','arguments':''}},"
		       "{'id':'call_c','type':'function','function':{'name':'cut','arguments':'{\\'a\\':'}}]},"
		       "'finish_reason':'tool_calls'}]," USAGE_10_5 "}",
		       NULL,
		       "{" MSG_HEAD ",'content':["
		       "{'type':'tool_use','id':'call_a','name':'get_weather','input':{'city':'Paris'}},"
		       "{'type':'tool_use','id':'call_b','name':'noop','input':{}},"
		       "{'type':'tool_use','id':'call_c','name':'cut','input':{}}],"
		       "'stop_reason':'tool_use','stop_sequence':null," AUSAGE_10_5 "}");
	/* Text with a call, ended with "stop" by a lax server: still tool_use. A call without
	 * an id gets a toolu_ one. */
	json_t *c = J("{'choices':[{'message':{'content':'Let me check.','tool_calls':["
		      "{'type':'function','function':{'name':'f','arguments':'{}'}}]},'finish_reason':'stop'}]}");
	json_t *m = hw_openai_to_message(c, "m", NULL);
	assert_string_equal(json_string_value(json_object_get(m, "stop_reason")), "tool_use");
	json_t *content = json_object_get(m, "content");
	assert_int_equal(json_array_size(content), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(content, 0), "text")), "Let me check.");
	const char *id = json_string_value(json_object_get(json_array_get(content, 1), "id"));
	assert_true(strncmp(id, "toolu_", 6) == 0 && strlen(id) == 6 + 26);
	json_decref(m);
	json_decref(c);
}

static void test_response_reasoning(void **state)
{
	expect_message("{'choices':[{'message':{'content':'42','reasoning_content':'think hard'},"
		       "'finish_reason':'stop'}]," USAGE_10_5 "}",
		       NULL,
		       "{" MSG_HEAD ",'content':[{'type':'thinking','thinking':'think hard','signature':''},"
		       "{'type':'text','text':'42'}],'stop_reason':'end_turn','stop_sequence':null," AUSAGE_10_5 "}");
	/* `reasoning` (vLLM, OpenRouter) is read too; a refusal stands in for absent content. */
	expect_message("{'choices':[{'message':{'content':null,'refusal':'I cannot.','reasoning':'r'},"
		       "'finish_reason':'content_filter'}]}",
		       NULL,
		       "{" MSG_HEAD ",'content':[{'type':'thinking','thinking':'r','signature':''},"
		       "{'type':'text','text':'I cannot.'}],'stop_reason':'refusal','stop_sequence':null,"
		       "'usage':{'input_tokens':0,'output_tokens':0,'cache_read_input_tokens':0,'cache_creation_input_tokens':0}}");
}

static void expect_stop(const char *choice_extra, const char *text, const char *stops,
			const char *reason, const char *seq)
{
	char body[512];
	snprintf(body, sizeof(body), "{'choices':[{'message':{'content':'%s'}%s}]}", text, choice_extra);
	json_t *c = J(body), *s = stops ? J(stops) : NULL;
	json_t *m = hw_openai_to_message(c, "m", s);
	const char *got_reason = json_string_value(json_object_get(m, "stop_reason"));
	const char *got_seq = json_string_value(json_object_get(m, "stop_sequence"));
	if (strcmp(got_reason, reason) != 0 || (seq ? !got_seq || strcmp(got_seq, seq) : got_seq != NULL))
		print_error("%s with stops %s: got %s/%s\n", body, stops ? stops : "-", got_reason,
			    got_seq ? got_seq : "null");
	assert_string_equal(got_reason, reason);
	if (seq)
		assert_string_equal(got_seq, seq);
	else
		assert_true(json_is_null(json_object_get(m, "stop_sequence")));
	json_decref(m);
	json_decref(c);
	json_decref(s);
}

static void test_response_finish_reasons(void **state)
{
	expect_stop(",'finish_reason':'stop'", "done", NULL, "end_turn", NULL);
	expect_stop(",'finish_reason':'length'", "cut", NULL, "max_tokens", NULL);
	expect_stop(",'finish_reason':'content_filter'", "", NULL, "refusal", NULL);
	expect_stop(",'finish_reason':'tool_calls'", "", NULL, "tool_use", NULL);
	expect_stop(",'finish_reason':'function_call'", "", NULL, "tool_use", NULL);
	expect_stop(",'finish_reason':null", "x", NULL, "end_turn", NULL);
	expect_stop("", "x", NULL, "end_turn", NULL);
	/* Stop sequences: the text ends at one (servers that keep it in the output)... */
	expect_stop(",'finish_reason':'stop'", "one two END", "['###','END']", "stop_sequence", "END");
	/* ...or the server names it (vLLM stop_reason, SGLang matched_stop)... */
	expect_stop(",'finish_reason':'stop','stop_reason':'###'", "one two", "['###','END']",
		    "stop_sequence", "###");
	expect_stop(",'finish_reason':'stop','matched_stop':'END'", "one", "['###','END']",
		    "stop_sequence", "END");
	/* ...but a named sequence the request did not send, or no match, is a plain end_turn. */
	expect_stop(",'finish_reason':'stop','stop_reason':'ZZZ'", "one", "['###','END']", "end_turn", NULL);
	expect_stop(",'finish_reason':'stop'", "END of it", "['END']", "end_turn", NULL);
	/* Only "stop" can mean a stop sequence. */
	expect_stop(",'finish_reason':'length'", "x END", "['END']", "max_tokens", NULL);
}

static void test_response_usage(void **state)
{
	/* input = prompt − cached (− cache writes when the usage carries them). */
	expect_message("{'choices':[{'message':{'content':'hi'},'finish_reason':'stop'}],"
		       "'usage':{'prompt_tokens':1200,'completion_tokens':30,'total_tokens':1230,"
		       "'prompt_tokens_details':{'cached_tokens':1024}}}",
		       NULL,
		       "{" MSG_HEAD ",'content':[{'type':'text','text':'hi'}],'stop_reason':'end_turn',"
		       "'stop_sequence':null,'usage':{'input_tokens':176,'output_tokens':30,"
		       "'cache_read_input_tokens':1024,'cache_creation_input_tokens':0}}");
	expect_message("{'choices':[{'message':{'content':'hi'},'finish_reason':'stop'}],"
		       "'usage':{'prompt_tokens':1300,'completion_tokens':30,'cache_read_input_tokens':1000,"
		       "'cache_creation_input_tokens':200}}",
		       NULL,
		       "{" MSG_HEAD ",'content':[{'type':'text','text':'hi'}],'stop_reason':'end_turn',"
		       "'stop_sequence':null,'usage':{'input_tokens':100,'output_tokens':30,"
		       "'cache_read_input_tokens':1000,'cache_creation_input_tokens':200}}");
	/* No choices at all: an empty message rather than a crash. */
	expect_message("{'choices':[]}", NULL,
		       "{" MSG_HEAD ",'content':[],'stop_reason':'end_turn','stop_sequence':null,"
		       "'usage':{'input_tokens':0,'output_tokens':0,'cache_read_input_tokens':0,"
		       "'cache_creation_input_tokens':0}}");
}

/* ---- streams ---- */

struct events {
	json_t *list; /* data objects, in order */
	int bad_names; /* events whose name differs from their data's type */
};

static int on_event(void *arg, const char *event, const char *data, size_t len)
{
	struct events *ev = arg;
	json_t *v = json_loadb(data, len, 0, NULL);
	if (!v || strcmp(event, json_string_value(json_object_get(v, "type")) ?: "") != 0) {
		print_error("event '%s' with data %.*s\n", event, (int)len, data);
		ev->bad_names++;
	}
	json_array_append_new(ev->list, v ? v : json_null());
	return 0;
}

/* Parses the wire bytes back into events and compares them one by one with `expected`
 * (a JSON array of data objects); message ids are checked for form and sameness, then
 * blanked. */
static void expect_events(const struct hw_buf *out, const char *expected)
{
	struct hw_sse_parser p = {0};
	struct events ev = {json_array(), 0};
	assert_int_equal(hw_sse_feed(&p, out->data, out->len, on_event, &ev), 0);
	assert_false(hw_sse_pending(&p));
	hw_sse_free(&p);
	assert_int_equal(ev.bad_names, 0);
	size_t i;
	json_t *e;
	json_array_foreach(ev.list, i, e)
	{
		json_t *msg = json_object_get(e, "message");
		if (msg)
			without_id(msg);
	}
	json_t *want = J(expected);
	size_t n = json_array_size(want) > json_array_size(ev.list) ? json_array_size(want)
								      : json_array_size(ev.list);
	int diffs = 0;
	for (i = 0; i < n; i++) {
		json_t *g = json_array_get(ev.list, i), *w = json_array_get(want, i);
		if (g && w && json_equal(g, w))
			continue;
		char *gs = g ? json_dumps(g, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		char *ws = w ? json_dumps(w, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		print_error("event %zu\n  got:  %s\n  want: %s\n", i, gs ? gs : "(none)", ws ? ws : "(none)");
		free(gs);
		free(ws);
		diffs++;
	}
	json_decref(want);
	json_decref(ev.list);
	assert_int_equal(diffs, 0);
}

static void feed(struct hw_messages_stream *s, struct hw_buf *out, const char *chunk)
{
	json_t *c = J(chunk);
	int rc = hw_messages_stream_chunk(s, c, out);
	json_decref(c);
	assert_int_equal(rc, 0);
}

#define CHUNK(delta) "{'object':'chat.completion.chunk','choices':[{'index':0,'delta':" delta ",'finish_reason':null}]}"
#define FINISH(reason) "{'choices':[{'index':0,'delta':{},'finish_reason':'" reason "'}]}"
#define USAGE_CHUNK "{'choices':[],'usage':{'prompt_tokens':20,'completion_tokens':7,'total_tokens':27}}"
#define START(input)                                                                              \
	"{'type':'message_start','message':{'id':'<id>','type':'message','role':'assistant',"      \
	"'model':'openai/gpt-4o','content':[],'stop_reason':null,'stop_sequence':null,"            \
	"'usage':{'input_tokens':" #input ",'cache_creation_input_tokens':0,"                       \
	"'cache_read_input_tokens':0,'output_tokens':0}}}"
#define BSTART(i, block) "{'type':'content_block_start','index':" #i ",'content_block':" block "}"
#define BDELTA(i, delta) "{'type':'content_block_delta','index':" #i ",'delta':" delta "}"
#define BSTOP(i) "{'type':'content_block_stop','index':" #i "}"
#define MDELTA(reason, seq, in, out, cached)                                                      \
	"{'type':'message_delta','delta':{'stop_reason':'" reason "','stop_sequence':" seq "},"     \
	"'usage':{'input_tokens':" #in ",'output_tokens':" #out ",'cache_read_input_tokens':" #cached \
	",'cache_creation_input_tokens':0}}"
#define MSTOP "{'type':'message_stop'}"

static void test_stream_text(void **state)
{
	struct hw_messages_stream s;
	struct hw_buf out = {0};
	hw_messages_stream_init(&s, "openai/gpt-4o", NULL);
	feed(&s, &out, CHUNK("{'role':'assistant','content':''}"));
	feed(&s, &out, CHUNK("{'content':'Hello'}"));
	feed(&s, &out, CHUNK("{'content':' world'}"));
	feed(&s, &out, FINISH("stop"));
	feed(&s, &out, USAGE_CHUNK);
	assert_int_equal(hw_messages_stream_finish(&s, 20, 7, 0, NULL, &out), 0);
	expect_events(&out, "[" START(0) "," BSTART(0, "{'type':'text','text':''}") ","
			    BDELTA(0, "{'type':'text_delta','text':'Hello'}") ","
			    BDELTA(0, "{'type':'text_delta','text':' world'}") "," BSTOP(0) ","
			    MDELTA("end_turn", "null", 20, 7, 0) "," MSTOP "]");
	/* Nothing is accepted once the stream ended. */
	json_t *c = J(CHUNK("{'content':'late'}"));
	assert_int_equal(hw_messages_stream_chunk(&s, c, &out), -EINVAL);
	assert_int_equal(hw_messages_stream_finish(&s, 1, 1, 0, NULL, &out), -EINVAL);
	json_decref(c);
	hw_messages_stream_free(&s);
	hw_buf_free(&out);
}

static void test_stream_text_then_tools(void **state)
{
	struct hw_messages_stream s;
	struct hw_buf out = {0};
	hw_messages_stream_init(&s, "openai/gpt-4o", NULL);
	feed(&s, &out, CHUNK("{'role':'assistant','content':'Checking both.'}"));
	feed(&s, &out, CHUNK("{'tool_calls':[{'index':0,'id':'call_1','type':'function',"
			     "'function':{'name':'get_weather','arguments':''}}]}"));
	feed(&s, &out, CHUNK("{'tool_calls':[{'index':0,'function':{'arguments':'{\\'city\\''}}]}"));
	feed(&s, &out, CHUNK("{'tool_calls':[{'index':0,'function':{'arguments':':\\'Paris\\'}'}}]}"));
	/* The second call arrives whole in one delta. */
	feed(&s, &out, CHUNK("{'tool_calls':[{'index':1,'id':'call_2','type':'function',"
			     "'function':{'name':'get_time','arguments':'{\\'tz\\':\\'CET\\'}'}}]}"));
	feed(&s, &out, FINISH("tool_calls"));
	feed(&s, &out, USAGE_CHUNK);
	assert_int_equal(hw_messages_stream_finish(&s, 20, 7, 0, NULL, &out), 0);
	expect_events(&out, "[" START(0) "," BSTART(0, "{'type':'text','text':''}") ","
			    BDELTA(0, "{'type':'text_delta','text':'Checking both.'}") "," BSTOP(0) ","
			    BSTART(1, "{'type':'tool_use','id':'call_1','name':'get_weather','input':{}}") ","
			    BDELTA(1, "{'type':'input_json_delta','partial_json':'{\\'city\\''}") ","
			    BDELTA(1, "{'type':'input_json_delta','partial_json':':\\'Paris\\'}'}") ","
			    BSTOP(1) ","
			    BSTART(2, "{'type':'tool_use','id':'call_2','name':'get_time','input':{}}") ","
			    BDELTA(2, "{'type':'input_json_delta','partial_json':'{\\'tz\\':\\'CET\\'}'}") ","
			    BSTOP(2) "," MDELTA("tool_use", "null", 20, 7, 0) "," MSTOP "]");
	hw_messages_stream_free(&s);
	hw_buf_free(&out);
}

static void test_stream_tool_without_ids(void **state)
{
	/* Two calls in one delta, no index and no id on the pieces: generated toolu_ ids,
	 * distinct, and the argument piece goes to the open call. */
	struct hw_messages_stream s;
	struct hw_buf out = {0};
	hw_messages_stream_init(&s, "m", NULL);
	feed(&s, &out, CHUNK("{'tool_calls':[{'function':{'name':'a','arguments':'{'}},"
			     "{'function':{'arguments':'}'}}]}"));
	feed(&s, &out, CHUNK("{'tool_calls':[{'id':'call_b','function':{'name':'b'}}]}"));
	feed(&s, &out, FINISH("stop"));
	assert_int_equal(hw_messages_stream_finish(&s, 3, 2, 0, NULL, &out), 0);
	struct hw_sse_parser p = {0};
	struct events ev = {json_array(), 0};
	hw_sse_feed(&p, out.data, out.len, on_event, &ev);
	hw_sse_free(&p);
	/* message_start, start a, delta {, delta }, stop, start b, stop, message_delta, stop */
	assert_int_equal(json_array_size(ev.list), 9);
	json_t *a = json_object_get(json_array_get(ev.list, 1), "content_block");
	json_t *b = json_object_get(json_array_get(ev.list, 5), "content_block");
	const char *ida = json_string_value(json_object_get(a, "id"));
	assert_true(strncmp(ida, "toolu_", 6) == 0 && strlen(ida) == 32);
	assert_string_equal(json_string_value(json_object_get(b, "id")), "call_b");
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(ev.list, 3), "delta"),
							      "partial_json")), "}");
	/* finish_reason "stop" with calls: still tool_use. */
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(ev.list, 7), "delta"),
							      "stop_reason")), "tool_use");
	json_decref(ev.list);
	hw_messages_stream_free(&s);
	hw_buf_free(&out);
}

static void test_stream_reasoning(void **state)
{
	struct hw_messages_stream s;
	struct hw_buf out = {0};
	hw_messages_stream_init(&s, "openai/gpt-4o", NULL);
	/* Usage on the first chunk gives message_start its input tokens. */
	feed(&s, &out, "{'choices':[{'index':0,'delta':{'role':'assistant','reasoning_content':'Let'}}],"
		       "'usage':{'prompt_tokens':50,'completion_tokens':0,'prompt_tokens_details':{'cached_tokens':32}}}");
	feed(&s, &out, CHUNK("{'reasoning_content':' me think'}"));
	feed(&s, &out, CHUNK("{'content':'42'}"));
	feed(&s, &out, FINISH("length"));
	assert_int_equal(hw_messages_stream_finish(&s, 50, 9, 32, NULL, &out), 0);
	expect_events(&out, "[" START(18) ","
			    BSTART(0, "{'type':'thinking','thinking':'','signature':''}") ","
			    BDELTA(0, "{'type':'thinking_delta','thinking':'Let'}") ","
			    BDELTA(0, "{'type':'thinking_delta','thinking':' me think'}") "," BSTOP(0) ","
			    BSTART(1, "{'type':'text','text':''}") ","
			    BDELTA(1, "{'type':'text_delta','text':'42'}") "," BSTOP(1) ","
			    MDELTA("max_tokens", "null", 18, 9, 32) "," MSTOP "]");
	hw_messages_stream_free(&s);
	hw_buf_free(&out);
}

static void test_stream_finish_with_hiway(void **state)
{
	struct hw_messages_stream s;
	struct hw_buf out = {0};
	/* The longest sequence spans three chunks: the kept tail must hold all of it. */
	json_t *stops = J("['STOP','###']");
	hw_messages_stream_init(&s, "openai/gpt-4o", stops);
	json_decref(stops); /* the stream keeps its own copy */
	feed(&s, &out, CHUNK("{'content':'a b ST'}"));
	feed(&s, &out, CHUNK("{'content':'O'}"));
	feed(&s, &out, CHUNK("{'content':'P'}"));
	feed(&s, &out, FINISH("stop"));
	json_t *hiway = J("{'routed_model':'openai/gpt-4o','routed_tier':'light','upstream_cost':0.000012}");
	assert_int_equal(hw_messages_stream_finish(&s, 20, 7, 4, hiway, &out), 0);
	json_decref(hiway);
	expect_events(&out, "[" START(0) "," BSTART(0, "{'type':'text','text':''}") ","
			    BDELTA(0, "{'type':'text_delta','text':'a b ST'}") ","
			    BDELTA(0, "{'type':'text_delta','text':'O'}") ","
			    BDELTA(0, "{'type':'text_delta','text':'P'}") "," BSTOP(0) ","
			    MDELTA("stop_sequence", "'STOP'", 16, 7, 4) ","
			    "{'type':'hiway','usage':{'input_tokens':16,'output_tokens':7,"
			    "'cache_read_input_tokens':4,'cache_creation_input_tokens':0},"
			    "'_hiway':{'routed_model':'openai/gpt-4o','routed_tier':'light','upstream_cost':0.000012}},"
			    MSTOP "]");
	hw_messages_stream_free(&s);
	hw_buf_free(&out);

	/* The upstream names the sequence; and an empty stream still ends as a whole message. */
	stops = J("['###']");
	hw_messages_stream_init(&s, "openai/gpt-4o", stops);
	json_decref(stops);
	feed(&s, &out, "{'choices':[{'index':0,'delta':{},'finish_reason':'stop','stop_reason':'###'}]}");
	assert_int_equal(hw_messages_stream_finish(&s, 5, 0, 0, NULL, &out), 0);
	expect_events(&out, "[" START(0) "," MDELTA("stop_sequence", "'###'", 5, 0, 0) "," MSTOP "]");
	hw_messages_stream_free(&s);
	hw_buf_free(&out);

	hw_messages_stream_init(&s, "openai/gpt-4o", NULL);
	assert_int_equal(hw_messages_stream_finish(&s, 5, 0, 0, NULL, &out), 0);
	expect_events(&out, "[" START(5) "," MDELTA("end_turn", "null", 5, 0, 0) "," MSTOP "]");
	hw_messages_stream_free(&s);
	hw_buf_free(&out);
}

static void test_stream_cache_creation(void **state)
{
	/* A usage chunk that reports cache writes: they leave input_tokens, as in responses. */
	struct hw_messages_stream s;
	struct hw_buf out = {0};
	hw_messages_stream_init(&s, "openai/gpt-4o", NULL);
	feed(&s, &out, CHUNK("{'content':'ok'}"));
	feed(&s, &out, FINISH("stop"));
	feed(&s, &out, "{'choices':[],'usage':{'prompt_tokens':1300,'completion_tokens':3,"
		       "'prompt_tokens_details':{'cached_tokens':1000},'cache_creation_input_tokens':200}}");
	assert_int_equal(hw_messages_stream_finish(&s, 1300, 3, 1000, NULL, &out), 0);
	expect_events(&out, "[" START(0) "," BSTART(0, "{'type':'text','text':''}") ","
			    BDELTA(0, "{'type':'text_delta','text':'ok'}") "," BSTOP(0) ","
			    "{'type':'message_delta','delta':{'stop_reason':'end_turn','stop_sequence':null},"
			    "'usage':{'input_tokens':100,'output_tokens':3,'cache_read_input_tokens':1000,"
			    "'cache_creation_input_tokens':200}}," MSTOP "]");
	hw_messages_stream_free(&s);
	hw_buf_free(&out);
}

static void test_stream_error(void **state)
{
	struct hw_messages_stream s;
	struct hw_buf out = {0};
	hw_messages_stream_init(&s, "openai/gpt-4o", NULL);
	feed(&s, &out, CHUNK("{'content':'partial'}"));
	json_t *err = J("{'type':'upstream_error','code':'stream_interrupted','message':'Upstream stream interrupted.',"
			"'request_id':'req_1','reason':'idle_timeout'}");
	assert_int_equal(hw_messages_stream_error(&s, err, &out), 0);
	/* No message_stop, no second error. */
	assert_int_equal(hw_messages_stream_finish(&s, 1, 1, 0, NULL, &out), -EINVAL);
	assert_int_equal(hw_messages_stream_error(&s, err, &out), -EINVAL);
	json_decref(err);
	expect_events(&out, "[" START(0) "," BSTART(0, "{'type':'text','text':''}") ","
			    BDELTA(0, "{'type':'text_delta','text':'partial'}") ","
			    "{'type':'error','error':{'type':'upstream_error','code':'stream_interrupted',"
			    "'message':'Upstream stream interrupted.','request_id':'req_1','reason':'idle_timeout'}}]");
	assert_non_null(strstr(out.data, "event: error\ndata: {\"type\":\"error\""));
	hw_messages_stream_free(&s);
	hw_buf_free(&out);
}

static void test_stream_tool_out_of_order(void **state)
{
	/* Arguments for a call whose block is closed cannot be placed: the caller reports a
	 * malformed stream. */
	struct hw_messages_stream s;
	struct hw_buf out = {0};
	hw_messages_stream_init(&s, "m", NULL);
	feed(&s, &out, CHUNK("{'tool_calls':[{'index':0,'id':'c0','function':{'name':'a','arguments':'{'}}]}"));
	feed(&s, &out, CHUNK("{'tool_calls':[{'index':1,'id':'c1','function':{'name':'b','arguments':'{}'}}]}"));
	json_t *c = J(CHUNK("{'tool_calls':[{'index':0,'function':{'arguments':'}'}}]}"));
	assert_int_equal(hw_messages_stream_chunk(&s, c, &out), -EPROTO);
	json_decref(c);
	hw_messages_stream_free(&s);
	hw_buf_free(&out);

	/* The same when text closed the call's block. */
	hw_messages_stream_init(&s, "m", NULL);
	feed(&s, &out, CHUNK("{'tool_calls':[{'index':0,'id':'c0','function':{'name':'a','arguments':'{'}}]}"));
	feed(&s, &out, CHUNK("{'content':'text between'}"));
	c = J(CHUNK("{'tool_calls':[{'index':0,'function':{'arguments':'}'}}]}"));
	assert_int_equal(hw_messages_stream_chunk(&s, c, &out), -EPROTO);
	json_decref(c);
	hw_messages_stream_free(&s);
	hw_buf_free(&out);
}

/* Upstream bytes are not trusted: odd shapes give a well-formed answer, never a crash
 * (the sanitizer build runs this too). */
static void test_malformed_upstream(void **state)
{
	static const char *const completions[] = {
		"{}", "[]", "{'choices':5}", "{'choices':[7]}", "{'choices':[{'message':'x','finish_reason':3}]}",
		"{'choices':[{'message':{'content':5,'tool_calls':[1,{'function':null},{'function':{'arguments':7}}]}}],"
		"'usage':{'prompt_tokens':'x','completion_tokens':null,'prompt_tokens_details':[]}}",
		"{'choices':[{'message':{'content':[{'type':'text','text':'a'},{'text':5},'b']}}],'usage':{'prompt_tokens':3,"
		"'prompt_tokens_details':{'cached_tokens':9}}}",
	};
	json_t *stops = J("[1,null,'x']");
	for (size_t i = 0; i < sizeof(completions) / sizeof(completions[0]); i++) {
		json_t *c = J(completions[i]);
		json_t *m = hw_openai_to_message(c, "m", stops);
		assert_non_null(m);
		assert_true(json_is_array(json_object_get(m, "content")));
		assert_true(json_is_string(json_object_get(m, "stop_reason")));
		/* cached above prompt never gives a negative input count */
		assert_true(json_integer_value(json_object_get(json_object_get(m, "usage"), "input_tokens")) >= 0);
		json_decref(m);
		json_decref(c);
	}
	static const char *const chunks[] = {
		"{}", "[]", "{'choices':[{'delta':5}]}", "{'choices':[{'delta':{'content':7,'reasoning_content':[]}}]}",
		"{'choices':[{'delta':{'tool_calls':5}}]}", "{'choices':[{'delta':{'tool_calls':[{'index':'x','function':5}]}}]}",
		"{'choices':[{'delta':{'content':'x'},'finish_reason':7,'stop_reason':9}]}",
		"{'choices':[],'usage':5}",
	};
	struct hw_messages_stream s;
	struct hw_buf out = {0};
	hw_messages_stream_init(&s, NULL, stops);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		feed(&s, &out, chunks[i]);
	assert_int_equal(hw_messages_stream_finish(&s, 1, 1, 5, NULL, &out), 0);
	struct hw_sse_parser p = {0};
	struct events ev = {json_array(), 0};
	assert_int_equal(hw_sse_feed(&p, out.data, out.len, on_event, &ev), 0);
	assert_int_equal(ev.bad_names, 0);
	assert_string_equal(json_string_value(json_object_get(json_array_get(ev.list, json_array_size(ev.list) - 1), "type")),
			    "message_stop");
	hw_sse_free(&p);
	json_decref(ev.list);
	json_decref(stops);
	hw_messages_stream_free(&s);
	hw_buf_free(&out);
}

static void test_error_body(void **state)
{
	json_t *env = J("{'error':{'type':'rate_limit_error','code':'rate_limit_exceeded','message':'m',"
			"'request_id':'req_1','retry_after_seconds':3,'limit':60}}");
	hw_messages_error_body(env);
	char *s = json_dumps(env, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_true(strncmp(s, "{\"type\":\"error\",\"error\":", 24) == 0);
	free(s);
	expect_json(env, "{'type':'error','error':{'type':'rate_limit_error','code':'rate_limit_exceeded',"
			 "'message':'m','request_id':'req_1','retry_after_seconds':3,'limit':60}}");
	json_t *other = J("{'not':'an envelope'}");
	hw_messages_error_body(other);
	expect_json(other, "{'not':'an envelope'}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_minimal),
		cmocka_unit_test(test_request_fields),
		cmocka_unit_test(test_request_system_blocks),
		cmocka_unit_test(test_request_multi_turn_tools),
		cmocka_unit_test(test_request_assistant_shapes),
		cmocka_unit_test(test_request_images_documents),
		cmocka_unit_test(test_request_tools_and_choice),
		cmocka_unit_test(test_request_errors),
		cmocka_unit_test(test_request_internal_form),
		cmocka_unit_test(test_response_text),
		cmocka_unit_test(test_response_tool_calls),
		cmocka_unit_test(test_response_reasoning),
		cmocka_unit_test(test_response_finish_reasons),
		cmocka_unit_test(test_response_usage),
		cmocka_unit_test(test_stream_text),
		cmocka_unit_test(test_stream_text_then_tools),
		cmocka_unit_test(test_stream_tool_without_ids),
		cmocka_unit_test(test_stream_reasoning),
		cmocka_unit_test(test_stream_finish_with_hiway),
		cmocka_unit_test(test_stream_cache_creation),
		cmocka_unit_test(test_stream_error),
		cmocka_unit_test(test_stream_tool_out_of_order),
		cmocka_unit_test(test_malformed_upstream),
		cmocka_unit_test(test_error_body),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
