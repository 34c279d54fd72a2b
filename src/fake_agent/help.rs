//! The user guide to the fake agent and its script language, shown by
//! `ourocodus fake-agent --help`. Text only.

pub const SCRIPT_HELP: &str = r#"A scriptable ACP agent on stdio: no model, no credentials. It speaks ACP v1
(JSON-RPC 2.0, one message per line) like any coding agent and reads each prompt
as a small script; a prompt with no step in it is echoed back word by word, so
you can also just chat with it. Diagnostics go to stderr. When stdin ends, the
agent lets running prompts finish (calls to the client fail), then exits.

SCRIPT LANGUAGE
  A prompt (its text blocks joined by newlines) is a list of steps separated by
  newlines or `;`. Keywords are case-insensitive. In text, `\n` is a newline, `\t`
  a tab, `\;` a semicolon and `\\` a backslash. Counts accept 1_000, 64k (64 000)
  and 2m (2 000 000); durations are like 500ms, 1.5s or 1m. A prompt in which no
  step is recognised is echoed; within a script, unrecognised steps are said back
  as `unknown step: ...` and malformed ones as `bad step: ...`. A step written
  `NAME> step` runs only on the agent started with `--name NAME`, so one prompt
  sent to a team can script each member (`backend> say hi; test> sleep 1s`).

  Talking
    say TEXT                  one agent_message_chunk
    echo TEXT                 TEXT streamed word by word, one chunk per word
    think TEXT                one agent_thought_chunk
    plan A | B | C            a plan update; entries pending, medium priority
    stream N chunks [of B bytes]
                              N agent_message_chunk lines, each about B bytes long
                              (default 250), texts numbered `#1 `, `#2 `, ... so that
                              order and loss can be checked; written in big batches
    big N                     one chunk holding N bytes of text

  Tools and the client
    tool call [KIND] [as TOOL] [TITLE...]
                              tool_call (pending) then tool_call_update (completed),
                              ids call_1, call_2, ...; KIND is an ACP tool kind
                              (read, edit, delete, move, search, execute, think,
                              fetch, switch_mode, other); TOOL goes in
                              _meta.claudeCode.toolName and, without KIND, picks the
                              kind the Claude adapter would (Bash -> execute, ...)
    ask permission [KIND] [as TOOL] [TITLE...]
    tool call then ask permission [KIND] [as TOOL] [TITLE...]
                              announce the tool call, send session/request_permission
                              (allow-once, allow-always, reject-once, reject-always),
                              wait, say `permission: <optionId>` or
                              `permission: cancelled`, finish the call completed
                              (allowed) or failed
    write file PATH [CONTENT...]
                              fs/write_text_file (PATH relative to the session cwd);
                              says `wrote <path>` or `write failed: <message>`
    read file PATH            fs/read_text_file; says the content or
                              `read failed: <message>`
    disk write PATH [CONTENT...]
                              write the file ourselves, past the protocol (PATH
                              relative to the session cwd); says `disk wrote <path>`
                              or `disk write failed: <error>`
    mcp [xN] TOOL [JSON]      call TOOL of the session's first MCP server (the proxy's
                              tools) with JSON arguments; says `mcp TOOL: <result>`
                              or `mcp TOOL error: <why>`; with xN, N calls on one
                              connection and their median round trip
    shell COMMAND...          `sh -c COMMAND` in the session cwd (`\;` for `;`); says
                              `shell exit <code>: <output>`
    terminal CMD [ARGS...]    terminal/create, wait_for_exit, output, release, shown
                              as an execute tool call; says the output
    elicit MESSAGE            elicitation/create with a one-field form; says
                              `elicitation: <action> [content]`
    (File, terminal and elicitation steps are only sent to a client that
    advertised the capability; otherwise they say why they failed.)

  Session
    whoami                    name, session, cwd, system prompt (_meta.systemPrompt),
                              preamble, mcp servers, mode, model and client
                              capabilities, one `key: value` per line
    (A text block starting with `[ourocodus]` is a proxy's context for the model,
    such as a role's persona: it is kept as the preamble, not run as steps.)
    commands                  available_commands_update
    mode NAME                 current_mode_update (and the session's mode becomes NAME)

  Ending the turn (steps after these do not run)
    stop REASON               answer with stopReason REASON (default: end_turn)
    usage JSON                the answer (a stop, or the script's end) carries
                              `usage`: JSON exactly as given, e.g.
                              {"totalTokens":30,"inputTokens":20,"outputTokens":10};
                              the last usage step counts, wherever it stands
    error CODE MESSAGE        answer with that JSON-RPC error
    hang                      never answer this prompt, not even on cancel
    crash                     exit with code 3 at once, no answer
    exit [CODE]               exit with CODE (default 0), no answer

  Misbehaving
    sleep DURATION            wait (a cancel ends it at once)
    garbage on stdout         non-JSON lines, invalid UTF-8, JSON that is not
                              JSON-RPC and a response to id 987654321, then go on
    stderr flood [N]          N lines on stderr (default 10000)
    update JSON               a session/update with this `update` object verbatim
                              (sessionId filled in): unknown variants, _meta, ...
    raw JSON                  this exact line on stdout (JSON may contain `;`)
    spawn grandchild          start `sleep 1000` as our own child; says its pid

  session/cancel stops the running script at once, even mid-stream, mid-sleep or
  while waiting for an answer, and the prompt answers stopReason `cancelled`.

EXAMPLES
  say Hello from the fake agent
  think Looking around...; tool call read as Read src/main.rs; say Done.
  ask permission execute as Bash cargo test
  write file notes.txt first line\nsecond line; read file notes.txt
  stream 100000 chunks of 250 bytes
  plan Read the code | Write the tests | Ship it; sleep 2s; stop max_tokens
  update {"sessionUpdate":"future_variant","_meta":{"x":1}}

  Try it by hand:
    printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":1}}' \
      '{"jsonrpc":"2.0","id":2,"method":"session/new","params":{"cwd":"/tmp","mcpServers":[]}}' \
      '{"jsonrpc":"2.0","id":3,"method":"session/prompt","params":{"sessionId":"fake-1","prompt":[{"type":"text","text":"say hi; whoami"}]}}' \
      | ourocodus fake-agent
"#;
