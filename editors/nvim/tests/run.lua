-- tests/run.lua: the plugin's headless suite. Drives the plugin against the real
-- `ourocodus acp` binary ($OUROCODUS_BIN, default target/release/ourocodus) with a team
-- of fake agents and asserts buffer contents. Run:
--   nvim --headless -u NONE -l editors/nvim/tests/run.lua
local script_dir = vim.fs.dirname(vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":p"))
package.path = script_dir .. "/?.lua;" .. package.path
local t = require("harness")

local paths = t.paths()
vim.opt.runtimepath:prepend(paths.plugin)
vim.cmd.runtime("plugin/ourocodus.lua")

local bin = t.binary(paths.repo)
if vim.fn.executable(bin) ~= 1 then
  t.say("ourocodus binary not found at " .. bin .. " (build it, or set OUROCODUS_BIN)")
  t.say("0 passed, 1 failed")
  os.exit(1)
end

local ourocodus = require("ourocodus")
local team = t.team(bin, { "alpha", "beta", "architect" })

-- Every message on the wire, both directions, of the running client.
local wire = {}
local real_select, real_input = vim.ui.select, vim.ui.input

local function start()
  ourocodus.setup({ cmd = { bin, "acp", "--config", team.config, "--no-store" }, cwd = team.project })
  local client = ourocodus.client()
  wire = {}
  table.insert(client.rpc.observers, function(direction, message)
    wire[#wire + 1] = { direction = direction, message = message }
  end)
  t.wait_for("the session to open", function()
    return client.state == "ready"
  end)
  return client
end

local function stop()
  local client = ourocodus.current()
  ourocodus.stop(2000)
  if client and client.rpc then
    t.wait_for("the proxy to exit", function()
      return client.rpc.closed
    end, 5000)
  end
  vim.ui.select, vim.ui.input = real_select, real_input
end

local pane_text, wait_text = t.pane_text, t.wait_text

local function turn_ended(count)
  t.wait_for(count .. " answered prompt(s)", function()
    local n = 0
    for _, entry in ipairs(wire) do
      if entry.direction == "in" and entry.message.result and entry.message.result.stopReason then
        n = n + 1
      end
    end
    return n >= count
  end)
end

local function sent(method)
  local found = {}
  for _, entry in ipairs(wire) do
    if entry.direction == "out" and entry.message.method == method then
      found[#found + 1] = entry.message
    end
  end
  return found
end

local function buffer_text(name)
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_get_name(buf) == name then
      return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n")
    end
  end
  return ""
end

local function test(name, fn)
  t.test(name, fn, nil, stop)
end

test("two roles stream into their own panes and into the labelled team pane", function()
  ourocodus.setup({ cmd = { bin, "acp", "--config", team.config, "--no-store" }, cwd = team.project })
  local asked = vim.uv.hrtime()
  vim.cmd("OurocodusAsk @alpha @beta alpha> stream 5 chunks of 30 bytes; alpha> plan read the code | write it; beta> say hello from beta")
  wire = {}
  table.insert(ourocodus.client().rpc.observers, function(direction, message)
    wire[#wire + 1] = { direction = direction, message = message }
  end)
  wait_text("alpha", "#1 ")
  t.figure(("cold :OurocodusAsk -> first chunk rendered (proxy and agents starting): %.1f ms"):format((vim.uv.hrtime() - asked) / 1e6))
  turn_ended(1)
  local alpha, beta, team_pane = pane_text("alpha"), pane_text("beta"), pane_text()
  for i = 1, 5 do
    t.contains(alpha, "#" .. i .. " ", "alpha pane")
  end
  t.ok(alpha:find("#1 ", 1, true) < alpha:find("#5 ", 1, true), "chunks in order")
  t.contains(beta, "hello from beta", "beta pane")
  t.lacks(alpha, "\nhello from beta", "alpha pane")
  t.lacks(beta, "#1 ", "beta pane")
  t.contains(team_pane, "[beta] hello from beta", "team pane")
  t.contains(team_pane, "[alpha] #1 ", "team pane")
  t.contains(team_pane, "[you] @alpha @beta alpha> stream 5 chunks", "team pane")
  t.contains(team_pane, "turn ended: end_turn", "team pane")
  t.contains(alpha, "── turn 1: alpha> stream 5 chunks", "alpha pane turn marker")
  t.contains(alpha, "Plan:\n  [ ] read the code\n  [ ] write it\n───", "alpha's plan, a checklist in its header")
  t.lacks(beta, "Plan:", "beta pane")

  -- A warm ask: the team is up.
  local warm = vim.uv.hrtime()
  vim.cmd("OurocodusAsk @alpha say warm hello")
  wait_text("alpha", "warm hello")
  t.figure(("warm :OurocodusAsk -> first chunk rendered: %.1f ms"):format((vim.uv.hrtime() - warm) / 1e6))
end)

test("a long stream is rendered in batches, every chunk in order", function()
  start()
  local buf = ourocodus.view():role("alpha").buf
  local before = vim.api.nvim_buf_get_changedtick(buf)
  -- A timer ticking every 2 ms: the longest gap between ticks is the longest time the
  -- editor's loop was busy (reading, decoding, rendering) during the stream.
  local timer, last_tick, longest_gap = vim.uv.new_timer(), vim.uv.hrtime(), 0
  timer:start(2, 2, function()
    local now = vim.uv.hrtime()
    longest_gap = math.max(longest_gap, now - last_tick)
    last_tick = now
  end)
  vim.cmd("OurocodusAsk @alpha stream 2000 chunks of 40 bytes")
  turn_ended(1)
  timer:stop()
  timer:close()
  t.figure(("longest editor stall while 2000 chunks streamed: %.1f ms"):format(longest_gap / 1e6))
  local text = pane_text("alpha")
  local last = 0
  for i = 1, 2000 do
    local at = text:find("#" .. i .. " ", 1, true)
    t.ok(at and at > last, "chunk #" .. i .. " present and in order")
    last = at
  end
  local edits = vim.api.nvim_buf_get_changedtick(buf) - before
  t.figure(("2000 chunks rendered with %d buffer changes"):format(edits))
  t.ok(edits < 2000, "chunks are batched into fewer buffer changes")
end)

test("a role's buffer wiped by the user comes back with what follows", function()
  start()
  local before = ourocodus.view():role("alpha").buf
  vim.api.nvim_buf_delete(before, { force = true })
  vim.cmd("OurocodusAsk @alpha say after the wipe")
  wait_text("alpha", "after the wipe")
  t.ok(ourocodus.view():role("alpha").buf ~= before, "a new buffer")
  t.contains(pane_text("alpha"), "[alpha] ", "header back")
end)

test("agent text is inserted as text, never run", function()
  start()
  vim.g.ourocodus_test_ran = nil
  vim.cmd([[OurocodusAsk @alpha say :let g:ourocodus_test_ran = 1\n%s/x/y/g <Esc>:qa!]])
  turn_ended(1)
  local alpha = pane_text("alpha")
  t.contains(alpha, ":let g:ourocodus_test_ran = 1\n%s/x/y/g <Esc>:qa!", "alpha pane")
  t.eq(nil, vim.g.ourocodus_test_ran, "nothing executed")
end)

test("a permission request round-trips through vim.ui.select", function()
  start()
  local asked = {}
  vim.ui.select = function(items, opts, on_choice)
    asked[#asked + 1] = { items = items, prompt = opts.prompt }
    local want = #asked == 1 and "allow_once" or "reject_once"
    for _, item in ipairs(items) do
      if item.kind == want then
        return on_choice(item)
      end
    end
  end
  vim.cmd("OurocodusAsk @alpha ask permission execute as Bash ls -la")
  wait_text("alpha", "permission: allow-once")
  t.eq(4, #asked[1].items, "options offered")
  t.contains(asked[1].prompt, "ls -la", "select prompt")
  vim.cmd("OurocodusAsk @alpha ask permission execute as Bash rm -rf build")
  wait_text("alpha", "permission: reject-once")
  t.contains(pane_text(), "permission alpha: rm -rf build → reject-once", "team pane")
end)

test("an approval gate is a permission request; a rejection says why", function()
  start()
  local gates = {}
  vim.ui.select = function(items, opts, on_choice)
    gates[#gates + 1] = opts.prompt
    for _, item in ipairs(items) do
      if item.kind == "reject_once" then
        return on_choice(item)
      end
    end
  end
  vim.ui.input = function(_, on_confirm)
    on_confirm("needs tests")
  end
  local description = [[mcp complete_task {\"id\": \"t1\", \"summary\": \"ok\"}]]
  vim.cmd(([[OurocodusAsk @architect mcp delegate {"role": "beta", "title": "gated", "requires_approval": true, "description": "%s"}]]):format(description))
  t.wait_for("the gate's answer", function()
    for _, entry in ipairs(wire) do
      local result = entry.direction == "out" and entry.message.result
      if result and result._meta then
        return true
      end
    end
  end)
  t.contains(gates[1], "Approve task t1?", "gate prompt")
  local answer
  for _, entry in ipairs(wire) do
    if entry.direction == "out" and entry.message.result and entry.message.result._meta then
      answer = entry.message.result
    end
  end
  t.eq("reject", answer.outcome.optionId, "option")
  t.eq("needs tests", answer._meta.ourocodus.feedback, "feedback")
end)

test("a role's question (elicitation) and ask_user are answered with vim.ui.input", function()
  start()
  local asked = {}
  vim.ui.input = function(opts, on_confirm)
    asked[#asked + 1] = opts.prompt
    on_confirm(#asked == 1 and "postgres" or nil)
  end
  vim.cmd("OurocodusAsk @alpha elicit Which database?")
  wait_text("alpha", [[elicitation: accept {"answer":"postgres"}]])
  t.contains(asked[1], "Which database?", "input prompt")
  vim.cmd("OurocodusAsk @alpha elicit Again?")
  wait_text("alpha", "elicitation: cancel")
  vim.ui.input = function(_, on_confirm)
    on_confirm("in the morning")
  end
  vim.cmd([[OurocodusAsk @architect mcp ask_user {"question": "when do we ship?"}]])
  wait_text("architect", "in the morning")
end)

test(":OurocodusAgents lists the team from _ourocodus/agents", function()
  local client = start()
  t.wait_for("every agent idle", function()
    return vim.tbl_count(client.agents) == 3
      and vim.iter(vim.tbl_values(client.agents)):all(function(a)
        return a.status == "idle"
      end)
  end)
  local result
  ourocodus.agents(function(r)
    result = r
  end)
  t.wait_for("the agents", function()
    return result ~= nil
  end)
  local text = buffer_text("ourocodus://agents")
  for _, role in ipairs({ "alpha", "beta", "architect" }) do
    t.contains(text, role, "agents buffer")
  end
  t.contains(text, "idle", "agents buffer")
  t.eq(1, #sent("_ourocodus/agents"), "requests sent")
  -- The command itself, too.
  vim.cmd("OurocodusAgents")
  t.wait_for("a second answer", function()
    return #sent("_ourocodus/agents") == 2
  end)
end)

test(":OurocodusTasks shows the graph after the architect delegates", function()
  start()
  vim.cmd([[OurocodusAsk @architect mcp delegate {"role": "beta", "title": "write the docs"}]])
  wait_text(nil, "beta: write the docs")
  local team_pane = pane_text()
  t.contains(team_pane, "Tasks:", "team header")
  t.contains(team_pane, "! info: Task t1 (beta): new, ready", "notice in the team pane")
  wait_text("architect", [[mcp delegate: {"id":"t1"]])
  vim.cmd("OurocodusTasks")
  t.wait_for("the tasks buffer", function()
    return buffer_text("ourocodus://tasks"):find("t1", 1, true) ~= nil
  end)
  local tasks = buffer_text("ourocodus://tasks")
  t.contains(tasks, "beta: write the docs", "tasks buffer")
  t.contains(tasks, "by architect", "tasks buffer")
  t.contains(tasks, "Plan:", "tasks buffer")
  t.eq(ourocodus.client().session_id, sent("_ourocodus/tasks")[1].params.sessionId, "session")
end)

test(":OurocodusCancel cancels the turn and answers a waiting permission cancelled", function()
  start()
  vim.ui.select = function() end -- the user never answers
  vim.cmd("OurocodusAsk @alpha @beta alpha> ask permission execute as Bash make; beta> sleep 30s")
  t.wait_for("the permission request", function()
    return require("ourocodus.permission").waiting_count() == 1
  end)
  vim.cmd("OurocodusCancel")
  wait_text(nil, "turn ended: cancelled")
  t.eq(1, #sent("session/cancel"), "session/cancel sent")
  local answered
  for _, entry in ipairs(wire) do
    local result = entry.direction == "out" and entry.message.result
    if result and result.outcome then
      answered = result.outcome.outcome
    end
  end
  t.eq("cancelled", answered, "permission answer")
end)

test(":OurocodusRestart restarts a role's agent", function()
  local client = start()
  vim.cmd("OurocodusRestart beta")
  wait_text(nil, "restarted beta")
  t.wait_for("beta idle after one restart", function()
    local beta = client.agents.beta
    return beta and beta.restarts == 1 and beta.status == "idle"
  end)
  wait_text("beta", "[beta] idle · pid ")
  t.contains(pane_text("beta"), "restarts 1", "beta header")
  t.contains(ourocodus.status(), "beta: idle", "status()")
  t.eq({ "beta" }, vim.fn.getcompletion("OurocodusRestart b", "cmdline"), "role completion")
  t.eq({ "@all", "@alpha", "@architect" }, vim.fn.getcompletion("OurocodusAsk fix @a", "cmdline"), "mention completion")
end)

test("a crashing agent: the notice, the failed turn, the restart in the header", function()
  start()
  vim.cmd("OurocodusAsk @alpha crash")
  wait_text(nil, "prompt failed: every routed role failed")
  t.contains(pane_text(), "[alpha] ! error: alpha could not answer — alpha stopped: exit code 3", "team pane")
  t.contains(pane_text("alpha"), "── turn 1 failed", "alpha pane")
  wait_text("alpha", "restarts 1")
end)

test("fs requests are served through buffers and files", function()
  start()
  local path = team.project .. "/notes.txt"
  vim.fn.writefile({ "on disk" }, path)
  vim.cmd("edit " .. vim.fn.fnameescape(path))
  vim.api.nvim_buf_set_lines(0, 0, -1, false, { "unsaved in the buffer" })
  vim.cmd("OurocodusAsk @alpha read file notes.txt; write file out.txt written by alpha")
  wait_text("alpha", "wrote ")
  t.contains(pane_text("alpha"), "unsaved in the buffer", "read through the buffer")
  t.eq({ "written by alpha" }, vim.fn.readfile(team.project .. "/out.txt"), "written file")
  vim.cmd("bwipeout!")
end)

test(":'<,'>OurocodusAsk sends the selection with its file and line range", function()
  start()
  local path = team.project .. "/code.lua"
  vim.fn.writefile({ "local a = 1", "local b = 2", "local c = 3", "return a" }, path)
  vim.cmd("edit " .. vim.fn.fnameescape(path))
  vim.cmd("2,3OurocodusAsk @alpha say seen")
  wait_text("alpha", "seen")
  local prompt = sent("session/prompt")[1].params.prompt
  t.eq("text", prompt[1].type, "first block")
  t.contains(prompt[1].text, "@alpha say seen", "text block")
  t.contains(prompt[1].text, "code.lua, lines 2-3", "text block")
  t.eq("resource", prompt[2].type, "second block")
  t.eq(vim.uri_from_fname(path) .. "#L2-L3", prompt[2].resource.uri, "resource uri")
  t.eq("local b = 2\nlocal c = 3\n", prompt[2].resource.text, "resource text")
  vim.cmd("bwipeout!")
end)

test(":Ourocodus opens the team view: the team pane and one pane per role", function()
  start()
  local tabs = #vim.api.nvim_list_tabpages()
  vim.cmd("Ourocodus")
  t.wait_for("a new tab", function()
    return #vim.api.nvim_list_tabpages() == tabs + 1
  end)
  local shown = {}
  for _, win in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    shown[#shown + 1] = vim.api.nvim_buf_get_name(vim.api.nvim_win_get_buf(win))
  end
  table.sort(shown)
  t.eq({ "ourocodus://role/alpha", "ourocodus://role/architect", "ourocodus://role/beta", "ourocodus://team" }, shown, "windows")
  t.eq("ourocodus://team", vim.api.nvim_buf_get_name(0), "current buffer")
  t.eq(false, vim.bo.modifiable, "the team buffer is read-only")
  vim.cmd("tabclose")
end)

test("a tool call's diff shows in its role's pane, and :OurocodusUsage says what each role used", function()
  start()
  local diff = [[update {"sessionUpdate": "tool_call", "toolCallId": "c1", "title": "Edit a.rs", "kind": "edit", ]]
    .. [["status": "completed", "content": [{"type": "diff", "path": "/p/a.rs", "oldText": "let x = 1;", "newText": "let x = 2;\nlet y = 3;"}]}]]
  vim.cmd("OurocodusAsk @alpha " .. diff .. [[; usage {"totalTokens": 30, "inputTokens": 20, "outputTokens": 10}]])
  wait_text("alpha", "+ let y = 3;")
  local alpha = pane_text("alpha")
  t.contains(alpha, "diff /p/a.rs\n  - let x = 1;\n  + let x = 2;\n  + let y = 3;", "alpha pane")
  t.wait_for("the answer", function()
    return ourocodus.client().prompts_running == 0
  end)
  local result
  ourocodus.usage(function(r)
    result = r
  end)
  t.wait_for("the usage", function()
    return result ~= nil
  end)
  local text = buffer_text("ourocodus://usage")
  t.contains(text, "alpha", "usage buffer")
  t.contains(text, "30 tokens (in 20, out 10)", "usage buffer")
end)

test(":OurocodusSessions lists saved sessions and :OurocodusLoad replays one into the panes", function()
  local store = vim.fn.tempname() .. "-store.db"
  local with_store = { bin, "acp", "--config", team.config, "--store", store }
  ourocodus.setup({ cmd = with_store, cwd = team.project })
  vim.cmd("OurocodusAsk @alpha say remembered from the first run")
  wait_text("alpha", "remembered from the first run")
  -- Answered only once its events are in the store.
  t.wait_for("the answer", function()
    return ourocodus.client().prompts_running == 0
  end)
  local first = ourocodus.client().session_id
  stop()

  ourocodus.setup({ cmd = with_store, cwd = team.project })
  local listed
  ourocodus.sessions(function(result)
    listed = result
  end)
  t.wait_for("the session list", function()
    return listed ~= nil
  end)
  t.eq(first, listed.sessions[1].sessionId, "the first run's session, listed")
  t.contains(buffer_text("ourocodus://sessions"), first, "sessions buffer")
  t.lacks(pane_text("alpha"), "remembered", "a fresh session starts empty")
  vim.cmd("OurocodusLoad " .. first)
  wait_text("alpha", "remembered from the first run")
  t.eq(first, ourocodus.client().session_id, "prompts go to the loaded session")
  vim.cmd("OurocodusAsk @alpha say after the load")
  wait_text("alpha", "after the load")
  vim.fn.delete(store)
end)

test("a proxy that cannot start is reported, and commands fail softly", function()
  ourocodus.setup({ cmd = { team.dir .. "/no-such-ourocodus", "acp" }, cwd = team.project })
  local notified = {}
  local real_notify = vim.notify
  vim.notify = function(message)
    notified[#notified + 1] = message
  end
  local ok, err = pcall(function()
    vim.cmd("OurocodusAsk hello")
    local agents_err
    ourocodus.client():team("agents", nil, function(e)
      agents_err = e
    end)
    t.ok(agents_err and agents_err.message:find("cannot start", 1, true), "the team operation fails with the reason")
    t.contains(pane_text(), "cannot start " .. team.dir .. "/no-such-ourocodus", "team pane")
    t.contains(table.concat(notified, "\n"), "cannot start", "vim.notify")
  end)
  vim.notify = real_notify
  assert(ok, err)
end)

test("notices rendered as text for a plain editor are shown as notices", function()
  local render = require("ourocodus.render")
  local view = require("ourocodus.view").new()
  render.update(view, "beta", {
    sessionUpdate = "agent_message_chunk",
    content = { type = "text", text = "> ⚠ **beta crashed**\n\n" },
    _meta = { ourocodus = { role = "beta", notice = { severity = "warning", title = "beta crashed" } } },
  })
  render.update(view, "ourocodus", { sessionUpdate = "notice", severity = "error", title = "store unusable", description = "a newer version" })
  view:flush()
  t.contains(view.team:text(), "[beta] ! warning: beta crashed", "team pane")
  t.contains(view:role("beta"):text(), "! warning: beta crashed", "beta pane")
  t.contains(view.team:text(), "! error: store unusable — a newer version", "team pane")
  t.lacks(view.team:text(), "**beta crashed**", "team pane")
end)

test("the plugin uses only what docs/protocol-extensions.md lists", function()
  local mirror = require("mirror")
  local doc = mirror.read(paths.repo .. "/docs/protocol-extensions.md")
  local ext = require("ourocodus.extensions")
  t.eq({}, mirror.problems(doc, ext, mirror.plugin_sources(paths.plugin)), "problems")
  -- ...and the check does complain about a plugin that strays from the doc.
  local stray = {
    ["lua/ourocodus/x.lua"] = [[
      rpc:request("_ourocodus/frobnicate", {})
      local who = ext.meta(update, "whoever")
      local raw = update._meta.ourocodus.role
    ]],
  }
  local problems = mirror.problems(doc, ext, stray)
  t.eq(3, #problems, "complaints about the stray plugin: " .. vim.inspect(problems))
  t.contains(problems[1] .. problems[2] .. problems[3], "_ourocodus/frobnicate", "complaints")
  local unlisted = vim.deepcopy(ext)
  unlisted.methods.frobnicate = "_ourocodus/frobnicate"
  t.eq(1, #mirror.problems(doc, unlisted, {}), "a listed method the doc lacks")
end)

test(":checkhealth ourocodus finds the binary and its version", function()
  ourocodus.setup({ cmd = { bin, "acp" } })
  vim.cmd("silent checkhealth ourocodus")
  local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
  t.contains(text, "Neovim 0.", "health")
  t.contains(text, "binary: " .. bin, "health")
  t.contains(text, "version: ourocodus ", "health")
  vim.cmd("bwipeout!")
end)

t.finish()
