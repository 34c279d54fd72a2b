-- tests/lsp.lua: the LSP face (`ourocodus lsp`) driven by Neovim's own LSP client
-- (`vim.lsp`), headless: code actions on a selection, `ourocodus.ask` with its
-- progress and answer, and the `ourocodus/update` notifications a plugin can follow.
-- Run: nvim --headless -u NONE -l editors/nvim/tests/lsp.lua
local script_dir = vim.fs.dirname(vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":p"))
package.path = script_dir .. "/?.lua;" .. package.path
local t = require("harness")

local paths = t.paths()
local bin = t.binary(paths.repo)
if vim.fn.executable(bin) ~= 1 then
  t.say("ourocodus binary not found at " .. bin .. " (build it, or set OUROCODUS_BIN)")
  t.say("0 passed, 1 failed")
  os.exit(1)
end

local team = t.team(bin, { "alpha", "beta" })
local file = team.project .. "/main.rs"
vim.fn.writefile({ "fn main() {", "    let x = 1;", "}" }, file)

-- What the server told the editor, by method.
local seen = { messages = {}, progress = {}, updates = {} }

local client_id = vim.lsp.start({
  name = "ourocodus",
  cmd = { bin, "lsp", "--config", team.config, "--no-store" },
  root_dir = team.project,
  handlers = {
    ["window/showMessage"] = function(_, params)
      seen.messages[#seen.messages + 1] = params.message
    end,
    ["$/progress"] = function(_, params)
      seen.progress[#seen.progress + 1] = params.value
    end,
    ["ourocodus/update"] = function(_, params)
      seen.updates[#seen.updates + 1] = params
    end,
  },
}, { attach = false })

local buf = vim.fn.bufadd(file)
vim.fn.bufload(buf)
vim.lsp.buf_attach_client(buf, client_id)
local client = vim.lsp.get_client_by_id(client_id)

-- The tests share one server, in order; it is stopped after the last.
local test = t.test

test("Neovim's LSP client starts ourocodus lsp and it offers the ask commands", function()
  t.wait_for("the server to initialize", function()
    return client and client.initialized
  end)
  local commands = client.server_capabilities.executeCommandProvider.commands
  t.ok(vim.tbl_contains(commands, "ourocodus.ask"), "ourocodus.ask offered")
  t.ok(vim.tbl_contains(commands, "ourocodus.cancel"), "ourocodus.cancel offered")
end)

test("code actions on a selection ask each role, or the team, about it", function()
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(buf) },
    range = { start = { line = 1, character = 4 }, ["end"] = { line = 1, character = 14 } },
    context = { diagnostics = {} },
  }
  local titles = {}
  t.wait_for("code actions naming both roles", function()
    local answers = vim.lsp.buf_request_sync(buf, "textDocument/codeAction", params, 2000) or {}
    titles = {}
    for _, answer in pairs(answers) do
      for _, action in ipairs(answer.result or {}) do
        titles[#titles + 1] = action.title
      end
    end
    local all = table.concat(titles, "\n")
    return all:find("@alpha", 1, true) and all:find("@beta", 1, true)
  end)
  local all = table.concat(titles, "\n")
  t.contains(all, "Ask the team about this", "actions")
  local ask
  for _, answer in pairs(vim.lsp.buf_request_sync(buf, "textDocument/codeAction", params, 2000) or {}) do
    for _, action in ipairs(answer.result or {}) do
      if action.title:find("@beta about", 1, true) then
        ask = action.command
      end
    end
  end
  t.ok(ask, "an action asking beta")
  t.eq("ourocodus.ask", ask.command, "its command")
  t.eq(nil, ask.arguments[1].text, "the place goes with it, not the code (read when it runs)")
  t.eq(1, ask.arguments[1].range.start.line, "the selection's range")
end)

test("ourocodus.ask shows progress, then the answer, and every update as ourocodus/update", function()
  local asked = vim.uv.hrtime()
  local done = false
  client:request("workspace/executeCommand", {
    command = "ourocodus.ask",
    arguments = { { role = "beta", text = "say hello from beta" } },
  }, function()
    done = true
  end, buf)
  t.wait_for("the answer shown", function()
    for _, message in ipairs(seen.messages) do
      if message:find("@beta: hello from beta", 1, true) then
        return true
      end
    end
  end)
  t.figure(("LSP: ourocodus.ask -> answer shown in Neovim: %.1f ms"):format((vim.uv.hrtime() - asked) / 1e6))
  t.ok(done, "the command answered")
  local kinds = {}
  for _, value in ipairs(seen.progress) do
    kinds[#kinds + 1] = value.kind
  end
  t.eq("begin", kinds[1], "progress begins")
  t.eq("end", kinds[#kinds], "progress ends")
  local from_beta = vim.tbl_filter(function(update)
    return update.role == "beta"
  end, seen.updates)
  t.ok(#from_beta > 0, "role-tagged updates arrive as ourocodus/update")
end)

client:stop(true)
t.wait_for("the server to stop", function()
  return client:is_stopped()
end, 5000)

-- The plugin itself with transport = "lsp": the same view, fed by Neovim's LSP client.
vim.opt.runtimepath:prepend(paths.plugin)
vim.cmd.runtime("plugin/ourocodus.lua")
local ourocodus = require("ourocodus")
local real_select, real_notify = vim.ui.select, vim.notify

local pane_text, wait_text = t.pane_text, t.wait_text

test("transport = lsp: :OurocodusAsk streams into the role's pane; progress marks it working, then idle; the turn ends", function()
  ourocodus.setup({ transport = "lsp", cmd = { bin, "lsp", "--config", team.config, "--no-store" }, cwd = team.project })
  local c = ourocodus.client()
  t.wait_for("the LSP client to be ready", function()
    return c.state == "ready"
  end)
  t.ok(c.opts.cmd[2] == "lsp", "it runs ourocodus lsp")
  local asked = vim.uv.hrtime()
  vim.cmd("OurocodusAsk @alpha alpha> stream 20 chunks of 10 bytes; alpha> say all sent")
  wait_text("alpha", "#1 ")
  t.figure(("LSP transport: :OurocodusAsk -> first chunk in alpha's pane: %.1f ms"):format((vim.uv.hrtime() - asked) / 1e6))
  wait_text("alpha", "all sent")
  wait_text(nil, "turn ended: end_turn")
  local numbers = {}
  for n in pane_text("alpha"):gmatch("#(%d+) ") do
    numbers[#numbers + 1] = tonumber(n)
  end
  t.eq(20, #numbers, "every chunk")
  for i, n in ipairs(numbers) do
    t.eq(i, n, "in order")
  end
  t.eq("idle", ourocodus.view().status.alpha.status, "alpha is idle again")
  t.ok(vim.tbl_contains(ourocodus.roles(), "alpha"), "alpha is a known role (for completion)")
end)

test("transport = lsp: a permission request is answered through vim.ui.select", function()
  local offered
  vim.ui.select = function(items, _, on_choice)
    offered = items
    for _, item in ipairs(items) do
      if item.title == "Allow once" then
        return on_choice(item)
      end
    end
    on_choice(nil)
  end
  vim.cmd("OurocodusAsk @beta tool call then ask permission execute as Bash ls")
  wait_text("beta", "permission: allow-once")
  vim.ui.select = real_select
  t.ok(offered and #offered == 4, "the four options offered")
  wait_text(nil, "→ Allow once")
end)

test("transport = lsp: a selection goes with its text, file and lines; cancel ends the turn", function()
  ourocodus.ask("@alpha say looked", { buf = buf, first = 2, last = 2 })
  wait_text("alpha", "looked")
  -- The fake agent says back each line it cannot run: the selection's label and its code.
  wait_text("alpha", "main.rs, lines 2-2)")
  wait_text("alpha", "let x = 1")
  vim.cmd("OurocodusAsk @beta sleep 20s")
  t.wait_for("beta working", function()
    local status = ourocodus.view().status.beta
    return status and status.status == "working"
  end)
  vim.cmd("OurocodusCancel")
  wait_text(nil, "turn ended: cancelled")
end)

test("transport = lsp: a question withdrawn by cancel says so, and a late answer does nothing", function()
  local pending
  vim.ui.select = function(items, _, on_choice)
    pending = { items = items, on_choice = on_choice }
  end
  local said = {}
  vim.notify = function(message)
    said[#said + 1] = message
  end
  vim.cmd("OurocodusAsk @alpha tool call then ask permission execute as Bash ls")
  t.wait_for("the question", function()
    return pending ~= nil
  end)
  vim.cmd("OurocodusCancel")
  wait_text(nil, "was withdrawn")
  vim.notify = real_notify
  t.contains(table.concat(said, "\n"), "answering it does nothing", "told in a notification too")
  pending.on_choice(pending.items[1])
  vim.ui.select = real_select
  wait_text(nil, "turn ended: cancelled")
  t.ok(not pane_text("alpha"):find("permission: allow-once", 1, true), "the late answer reached no one")
end)

test("transport = lsp: what LSP cannot carry says so", function()
  local said = {}
  vim.notify = function(message)
    said[#said + 1] = message
  end
  vim.cmd("OurocodusAgents")
  vim.cmd("OurocodusSessions")
  vim.notify = real_notify
  local all = table.concat(said, "\n")
  t.contains(all, "not available over the LSP transport", "agents and sessions")
  ourocodus.stop()
end)

t.finish()
