-- init.lua: the plugin's public face: setup(), the operations behind the :Ourocodus*
-- commands, and status(). Owns the one running client (started on first use) and its
-- team view.
local client = require("ourocodus.client")
local lsp_client = require("ourocodus.lsp_client")
local config = require("ourocodus.config")
local prompt = require("ourocodus.prompt")
local render = require("ourocodus.render")
local report = require("ourocodus.report")
local view = require("ourocodus.view")

local M = {}

local current = nil -- { client, view }

function M.setup(opts)
  config.setup(opts)
end

--- The running client, started (with its view) if there is none.
function M.client()
  if current and (current.client.state == "starting" or current.client.state == "ready") then
    return current.client
  end
  local options = config.options
  local team_view = view.new()
  local transport = options.transport == "lsp" and lsp_client or client
  local started = transport.start({
    cmd = options.cmd,
    cwd = options.cwd or vim.fn.getcwd(),
    env = options.env,
    fs = options.fs,
    view = team_view,
  })
  current = { client = started, view = team_view }
  return started
end

--- The current client (running, failed or exited), or nil; never starts one.
function M.current()
  return current and current.client or nil
end

--- The team view of the running client, or nil.
function M.view()
  return current and current.view or nil
end

--- :Ourocodus — opens the team view (starting the team if needed).
function M.open()
  local c = M.client()
  c:when_ready(function()
    c.view:open()
  end)
end

--- :OurocodusAsk [@role] text, with `selection` = { buf, first, last } for a range.
function M.ask(text, selection)
  text = vim.trim(text or "")
  if text == "" and not selection then
    return vim.notify("ourocodus: nothing to ask", vim.log.levels.WARN)
  end
  local c = M.client()
  local blocks = prompt.blocks(text, selection)
  render.prompt_sent(c.view, blocks[1].text)
  c:prompt(blocks)
end

function M.cancel()
  if current then
    current.client:cancel()
  end
end

local function on_answer(what, fn)
  return function(err, result)
    if err then
      return vim.notify("ourocodus: " .. what .. " failed: " .. tostring(err.message), vim.log.levels.ERROR)
    end
    fn(result)
  end
end

--- :OurocodusAgents — the team's agents, from `_ourocodus/agents`.
function M.agents(done)
  M.client():team("agents", nil, on_answer("agents", function(result)
    report.show("ourocodus://agents", report.agents(result.agents))
    if done then
      done(result)
    end
  end))
end

--- Asks the running session's team operation `name` and shows its answer, made
--- lines by `render`, in the buffer `buffer`; then `done(result)`.
local function session_report(name, buffer, render_lines, done)
  local c = M.client()
  c:when_ready(function()
    c:team(name, { sessionId = c.session_id }, on_answer(name, function(result)
      report.show(buffer, render_lines(result))
      if done then
        done(result)
      end
    end))
  end)
end

--- :OurocodusTasks — the session's task graph, from `_ourocodus/tasks`.
function M.tasks(done)
  session_report("tasks", "ourocodus://tasks", report.tasks, done)
end

--- :OurocodusUsage — what each role and task used, from `_ourocodus/usage`.
function M.usage(done)
  session_report("usage", "ourocodus://usage", report.usage, done)
end

--- :OurocodusSessions — the saved team sessions of this directory (`session/list`).
function M.sessions(done)
  M.client():list_sessions(on_answer("session/list", function(result)
    report.show("ourocodus://sessions", report.sessions(result.sessions))
    if done then
      done(result)
    end
  end))
end

--- :OurocodusLoad id — reopens a saved session: its history fills the panes, and
--- the team comes back to work on it.
function M.load(id, done)
  local c = M.client()
  render.info(c.view, "loading session " .. id)
  c:load_session(id, on_answer("session/load", function(result)
    render.info(c.view, "loaded session " .. id)
    if done then
      done(result)
    end
  end))
end

--- :OurocodusRestart role — starts the role's agent afresh (`_ourocodus/restart`).
function M.restart(role, done)
  local c = M.client()
  c:team("restart", { role = role }, on_answer("restart", function(summary)
    render.info(c.view, "restarted " .. tostring(summary.role) .. ": " .. view.describe_status(summary))
    if done then
      done(summary)
    end
  end))
end

--- The team's roles (for completion).
function M.roles()
  return current and current.view.order or {}
end

--- "alpha: idle  beta: working", for a statusline; "" when no team runs.
function M.status()
  return current and current.view:status_line() or ""
end

--- Stops the proxy (and its team).
function M.stop(grace_ms)
  if current then
    current.client:stop(grace_ms)
    current = nil
  end
end

return M
