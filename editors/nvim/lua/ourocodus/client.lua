-- client.lua: the ACP conversation with `ourocodus acp`: initialize (advertising
-- subagents, notices, form elicitation and fs), one session, prompts, cancel, the team
-- operations, and where each incoming message goes (the view, the permission prompt,
-- the question form, fs). Owns the session's state; the buffers are view.lua's.
local elicit = require("ourocodus.elicit")
local ext = require("ourocodus.extensions")
local fs = require("ourocodus.fs")
local lifecycle = require("ourocodus.lifecycle")
local permission = require("ourocodus.permission")
local render = require("ourocodus.render")
local rpc = require("ourocodus.rpc")

local M = {}

local Client = {}
Client.__index = Client
lifecycle.install(Client)

M.PROTOCOL_VERSION = 1

--- Starts the proxy and opens a session. `opts`: cmd, cwd, env, fs, view.
function M.start(opts)
  local self = setmetatable({
    opts = opts,
    view = opts.view,
    session_id = nil,
    roles = {}, -- from the initialize result
    route = {},
    turns = {}, -- subagent session id -> { role, turn }
    agents = {}, -- role -> AgentSummary, kept current by _ourocodus/agent_status
    waiters = {}, -- functions to call once the session is open
    prompts_running = 0,
    state = "starting", -- starting | ready | failed | exited
    error = nil,
  }, Client)
  local conn, err = rpc.start(opts.cmd, {
    request = function(method, params, reply, id)
      self:on_request(method, params or {}, reply, id)
    end,
    notification = function(method, params)
      self:on_notification(method, params or {})
    end,
    batch_done = function()
      self.view:flush()
    end,
    exit = function(code, stderr_tail)
      self:on_exit(code, stderr_tail)
    end,
  }, { cwd = opts.cwd, env = opts.env })
  if not conn then
    self:fail("cannot start " .. table.concat(opts.cmd, " ") .. ": " .. err)
    return self
  end
  self.rpc = conn
  self:handshake()
  return self
end

function Client:capabilities()
  local caps = {
    subagents = vim.empty_dict(),
    session = { notices = vim.empty_dict() },
    elicitation = { form = vim.empty_dict() },
  }
  if self.opts.fs then
    caps.fs = { readTextFile = true, writeTextFile = true }
  end
  return caps
end

function Client:handshake()
  self.rpc:request("initialize", {
    protocolVersion = M.PROTOCOL_VERSION,
    clientCapabilities = self:capabilities(),
    clientInfo = { name = "ourocodus.nvim", version = tostring(vim.version()) },
  }, function(err, result)
    if err then
      return self:fail("initialize failed: " .. tostring(err.message))
    end
    self.roles = ext.meta(result, "roles") or {}
    self.route = ext.meta(result, "route") or {}
    for _, role in ipairs(self.roles) do
      self.view:role(role)
    end
    self:new_session()
  end)
end

function Client:new_session()
  self.rpc:request("session/new", { cwd = self.opts.cwd, mcpServers = {} }, function(err, result)
    if err then
      return self:fail("session/new failed: " .. tostring(err.message))
    end
    self.session_id = result.sessionId
    self.view.session_id = result.sessionId
    self:ready()
  end)
end

-- The role of an update: the proxy's tag, else the subagent session it came through.
function Client:role_of(params, update)
  local role = ext.meta(update, "role")
  if role then
    return role
  end
  local turn = self.turns[params.sessionId]
  return turn and turn.role or nil
end

function Client:on_subagent(update)
  -- ACP's subagent_update: the child's sessionId, its title and description, and a
  -- state object; how a role's turn ended is in _meta.ourocodus.outcome.
  local id = update.sessionId
  if type(id) ~= "string" then
    return
  end
  local role = ext.meta(update, "role") or update.title
  local turn_number = id:match(":(%d+)$") or "?"
  if not self.turns[id] and role then
    self.turns[id] = { role = role, turn = turn_number }
    render.turn_started(self.view, role, turn_number, update.description)
  end
  local state = type(update.state) == "table" and update.state.state or nil
  if state and state ~= "running" and self.turns[id] then
    local how = ext.meta(update, "outcome") or state
    render.turn_ended(self.view, self.turns[id].role, turn_number, how)
  end
end

function Client:on_notification(method, params)
  if method == "session/update" then
    local update = params.update or {}
    if update.sessionUpdate == "subagent_update" then
      return self:on_subagent(update)
    end
    return render.update(self.view, self:role_of(params, update), update)
  end
  if method == ext.notifications.agent_status then
    self.agents[params.role] = params
    return self.view:set_status(params)
  end
  if method == "$/cancel_request" then
    return permission.withdraw(params.requestId)
  end
end

function Client:on_request(method, params, reply, id)
  if method == "session/request_permission" then
    local role = ext.meta(params, "role") or (params.toolCall and ext.meta(params.toolCall, "role"))
    return permission.ask(id, params, reply, function(answer)
      local what = render.one_line(params.toolCall and params.toolCall.title or "a tool call", 80)
      if role and what:sub(1, #role + 1) ~= role .. ":" then
        what = role .. ": " .. what
      end
      render.info(self.view, "permission " .. what .. " → " .. tostring(answer))
    end)
  end
  if method == "elicitation/create" then
    return elicit.create(params, reply)
  end
  if method == "fs/read_text_file" and self.opts.fs then
    return fs.read(params, reply)
  end
  if method == "fs/write_text_file" and self.opts.fs then
    return fs.write(params, reply)
  end
  reply(nil, { code = -32601, message = "method not found: " .. tostring(method) })
end

function Client:on_exit(code, stderr_tail)
  self.state = "exited"
  self.error = "ourocodus exited (" .. tostring(code) .. ")"
  permission.cancel_all()
  if code ~= 0 and not self.stopped then
    local why = vim.trim(stderr_tail or ""):match("[^\n]*$") or ""
    render.info(self.view, self.error .. (why ~= "" and (": " .. why) or ""))
  end
end

--- Sends a prompt (a list of ACP content blocks); `done(err, result)` when answered.
function Client:prompt(blocks, done)
  self:when_ready(function(err)
    if err then
      return done and done({ message = err })
    end
    self.prompts_running = self.prompts_running + 1
    self.rpc:request("session/prompt", { sessionId = self.session_id, prompt = blocks }, function(perr, result)
      self.prompts_running = self.prompts_running - 1
      render.prompt_done(self.view, result and result.stopReason, perr)
      if done then
        done(perr, result)
      end
    end)
  end)
end

--- Cancels every running turn of the session; waiting permission requests are
--- answered `cancelled` first.
function Client:cancel()
  permission.cancel_all()
  if self.session_id and self.rpc then
    self.rpc:notify("session/cancel", { sessionId = self.session_id })
  end
end

--- The store's sessions of this directory, most recent first (`session/list`).
function Client:list_sessions(done)
  self:when_ready(function(err)
    if err then
      return done({ message = err })
    end
    self.rpc:request("session/list", { cwd = self.opts.cwd }, done)
  end)
end

--- Loads an earlier session: its history replays into the view (each role's turns
--- into its pane), then prompts go to it. On failure the session stays as it was.
function Client:load_session(id, done)
  self:when_ready(function(err)
    if err then
      return done({ message = err })
    end
    local previous = self.session_id
    self.session_id = id
    self.view.session_id = id
    local params = { sessionId = id, cwd = self.opts.cwd, mcpServers = {} }
    self.rpc:request("session/load", params, function(lerr, result)
      if lerr then
        self.session_id = previous
        self.view.session_id = previous
      end
      self.view.headers_dirty = true
      self.view:schedule_flush()
      done(lerr, result)
    end)
  end)
end

--- Calls one of the team operations (`name` is a key of extensions.methods).
function Client:team(name, params, done)
  local method = assert(ext.methods[name], "unknown team operation " .. tostring(name))
  self:when_ready(function(err)
    if err then
      return done({ message = err })
    end
    self.rpc:request(method, params or vim.empty_dict(), done)
  end)
end

function Client:stop(grace_ms)
  self.stopped = true
  permission.cancel_all()
  if self.rpc then
    self.rpc:stop(grace_ms)
  end
end

return M
