-- lsp_client.lua: the team over `ourocodus lsp` with Neovim's own LSP client
-- (`setup({ transport = "lsp" })`), for when ACP is not wanted: prompts are
-- `ourocodus.ask`, cancel is `ourocodus.cancel`, each role's updates arrive as
-- `ourocodus/update` and are rendered as over ACP, `$/progress` drives the status
-- badges, permission requests come as `window/showMessageRequest` (vim.ui.select).
-- The same surface as client.lua; what LSP cannot carry (session list and load,
-- the team operations) answers with an error that says so. Knows no buffers.
local lifecycle = require("ourocodus.lifecycle")
local render = require("ourocodus.render")

local M = {}

local Client = {}
Client.__index = Client
lifecycle.install(Client)

M.UNAVAILABLE = "not available over the LSP transport (setup({ transport = \"acp\" }) has it)"

--- A running turn's progress token is `ourocodus/TURN/ROLE`: the prompt's turn and the role.
local function progress_of(token)
  if type(token) ~= "string" then
    return nil
  end
  return token:match("^ourocodus/([^/]+)/(.+)$")
end

--- Starts `ourocodus lsp` (opts.cmd) through vim.lsp. `opts`: cmd, cwd, view.
function M.start(opts)
  local self = setmetatable({
    opts = opts,
    view = opts.view,
    session_id = "lsp",
    known = {}, -- roles seen so far (LSP does not list them up front)
    route = {},
    agents = {},
    waiters = {},
    turns = {}, -- "role:turn" -> true, once announced
    open = {}, -- turn -> { roles = n still working, cancelled = bool }
    prompts_running = 0,
    state = "starting",
    error = nil,
  }, Client)
  self.view.session_id = "lsp"
  local ok, id = pcall(vim.lsp.start, {
    name = "ourocodus",
    cmd = opts.cmd,
    root_dir = opts.cwd,
    handlers = self:handlers(),
    on_init = function()
      self:ready()
    end,
    on_exit = function(code)
      vim.schedule(function()
        self:on_exit(code)
      end)
    end,
  }, { attach = false })
  if not ok or not id then
    self:fail("cannot start " .. table.concat(opts.cmd, " ") .. ": " .. tostring(id))
    return self
  end
  self.id = id
  return self
end

function Client:handlers()
  return {
    ["ourocodus/update"] = function(_, params)
      self:on_update(params or {})
    end,
    ["$/progress"] = function(_, params)
      self:on_progress(params or {})
    end,
    ["window/showMessage"] = function(_, params)
      -- Answers are already in their role's pane as they streamed; what else it says is
      -- shown (warnings and errors, and that a question still open was withdrawn).
      local message = params and type(params.message) == "string" and params.message or nil
      if not message then
        return
      end
      local serious = type(params.type) == "number" and params.type <= vim.lsp.protocol.MessageType.Warning
      if serious or message:find("withdrawn", 1, true) then
        render.info(self.view, message)
      end
      if not serious and message:find("withdrawn", 1, true) then
        vim.notify("ourocodus: " .. message, vim.log.levels.WARN)
      end
    end,
    ["window/logMessage"] = function() end,
    ["window/showMessageRequest"] = function(err, params, ctx, config)
      local answer = vim.lsp.handlers["window/showMessageRequest"](err, params, ctx, config)
      local what = render.one_line(params and params.message or "a request", 100)
      render.info(self.view, what .. " → " .. (type(answer) == "table" and answer.title or "dismissed"))
      return answer
    end,
  }
end

function Client:lsp()
  return self.id and vim.lsp.get_client_by_id(self.id) or nil
end


--- `{ sessionId, role, turn?, update }`: rendered as the same update over ACP would be.
function Client:on_update(params)
  local role, update = params.role, params.update
  if type(role) ~= "string" or type(update) ~= "table" then
    return
  end
  if not self.known[role] then
    self.known[role] = true
    self.view:role(role)
  end
  if params.turn ~= nil and not self.turns[role .. ":" .. tostring(params.turn)] then
    self.turns[role .. ":" .. tostring(params.turn)] = true
    render.turn_started(self.view, role, tostring(params.turn), nil)
  end
  render.update(self.view, role, update)
end

--- `begin` marks the role working, `end` idle (or failed); a turn's last end ends its prompt.
function Client:on_progress(params)
  local turn, role = progress_of(params.token)
  local value = params.value
  if not role or type(value) ~= "table" then
    return
  end
  if value.kind == "begin" then
    local open = self.open[turn] or { roles = 0, cancelled = false }
    if open.roles == 0 then
      self.prompts_running = self.prompts_running + 1
    end
    open.roles = open.roles + 1
    self.open[turn] = open
    self.view:set_status({ role = role, status = "working" })
  elseif value.kind == "end" then
    local how = type(value.message) == "string" and value.message or "done"
    self.view:set_status({ role = role, status = how:match("^failed") and "failed" or "idle", reason = how })
    local open = self.open[turn]
    if not open then
      return
    end
    open.roles = open.roles - 1
    open.cancelled = open.cancelled or how == "cancelled"
    if open.roles <= 0 then
      self.open[turn] = nil
      self.prompts_running = math.max(0, self.prompts_running - 1)
      render.prompt_done(self.view, open.cancelled and "cancelled" or "end_turn", nil)
    end
  end
end

--- Sends the prompt's text (and a selection's file and lines) as `ourocodus.ask`.
function Client:prompt(blocks, done)
  self:when_ready(function(err)
    if err then
      return done and done({ message = err })
    end
    local argument = { text = blocks[1] and blocks[1].text or "" }
    local resource = blocks[2] and blocks[2].resource
    if resource then
      -- LSP's ask carries the selected code in its text and the place as uri + range.
      argument.text = argument.text .. "\n\n" .. (resource.text or "")
      local uri, first, last = (resource.uri or ""):match("^(.-)#L(%d+)%-L(%d+)$")
      if uri then
        argument.uri = uri
        argument.range = {
          start = { line = tonumber(first) - 1, character = 0 },
          ["end"] = { line = tonumber(last), character = 0 },
        }
      end
    end
    self:execute("ourocodus.ask", { argument }, function(cerr)
      if cerr then
        render.prompt_done(self.view, nil, cerr)
      end
      if done then
        done(cerr, nil)
      end
    end)
  end)
end

function Client:execute(command, arguments, done)
  local lsp = self:lsp()
  if not lsp then
    return done({ message = "ourocodus lsp is not running" })
  end
  lsp:request("workspace/executeCommand", { command = command, arguments = arguments }, function(err)
    done(err)
  end)
end

function Client:cancel()
  if self.state == "ready" then
    self:execute("ourocodus.cancel", {}, function() end)
  end
end

function Client:list_sessions(done)
  done({ message = "session list " .. M.UNAVAILABLE })
end

function Client:load_session(_, done)
  done({ message = "session load " .. M.UNAVAILABLE })
end

function Client:team(name, _, done)
  done({ message = tostring(name) .. " " .. M.UNAVAILABLE })
end

function Client:on_exit(code)
  self.state = "exited"
  self.error = "ourocodus lsp exited (" .. tostring(code) .. ")"
  if code ~= 0 and not self.stopped then
    render.info(self.view, self.error)
  end
end

function Client:stop()
  self.stopped = true
  local lsp = self:lsp()
  if lsp then
    lsp:stop(true)
  end
end

return M
