-- rpc.lua: one child process speaking JSON-RPC 2.0, one message per line, on stdio.
-- Owns the framing (stdout split on newlines, decoded inside vim.schedule), request ids
-- and the table of pending requests. Knows nothing of ACP: incoming requests and
-- notifications go to the handlers it was given.
local M = {}

local Rpc = {}
Rpc.__index = Rpc

local DECODE_OPTS = { luanil = { object = true, array = true } }

--- Starts `cmd`. handlers: request(method, params, reply), notification(method, params),
--- batch_done() after each batch of messages, exit(code, stderr_tail).
--- Returns the connection, or nil and an error message.
function M.start(cmd, handlers, opts)
  opts = opts or {}
  local self = setmetatable({
    handlers = handlers,
    next_id = 0,
    pending = {}, -- id -> callback(err, result)
    partial = {}, -- pieces of a line not yet ended by "\n"
    lines = {}, -- complete lines waiting for the scheduled drain
    drain_scheduled = false,
    stderr_tail = "",
    closed = false,
    observers = {}, -- functions(direction, message), for tests and debugging
  }, Rpc)
  local ok, proc = pcall(vim.system, cmd, {
    stdin = true,
    cwd = opts.cwd,
    env = opts.env,
    stdout = function(_, data)
      self:on_stdout(data)
    end,
    stderr = function(_, data)
      if data then
        -- Keep the end only: enough to say why the process died.
        self.stderr_tail = (self.stderr_tail .. data):sub(-2000)
      end
    end,
  }, function(out)
    vim.schedule(function()
      self:on_exit(out.code)
    end)
  end)
  if not ok then
    return nil, tostring(proc)
  end
  self.proc = proc
  return self
end

-- Runs in luv's callback (a fast context): split only; decoding waits for the main loop.
function Rpc:on_stdout(data)
  if not data then
    return
  end
  local start = 1
  while true do
    local newline = data:find("\n", start, true)
    if not newline then
      break
    end
    self.partial[#self.partial + 1] = data:sub(start, newline - 1)
    self.lines[#self.lines + 1] = table.concat(self.partial)
    self.partial = {}
    start = newline + 1
  end
  if start <= #data then
    self.partial[#self.partial + 1] = data:sub(start)
  end
  if #self.lines > 0 and not self.drain_scheduled then
    self.drain_scheduled = true
    vim.schedule(function()
      self:drain()
    end)
  end
end

--- Decodes and dispatches every line received so far, then tells batch_done.
function Rpc:drain()
  self.drain_scheduled = false
  local lines = self.lines
  self.lines = {}
  for _, line in ipairs(lines) do
    local ok, message = pcall(vim.json.decode, line, DECODE_OPTS)
    if ok and type(message) == "table" then
      self:notify_observers("in", message)
      local handled, err = xpcall(self.dispatch, debug.traceback, self, message)
      if not handled then
        vim.notify("ourocodus: " .. tostring(err), vim.log.levels.ERROR)
      end
    end
  end
  if self.handlers.batch_done then
    self.handlers.batch_done()
  end
end

function Rpc:dispatch(message)
  if message.method and message.id ~= nil then
    local replied = false
    self.handlers.request(message.method, message.params, function(result, err)
      if replied then
        return
      end
      replied = true
      self:send({ jsonrpc = "2.0", id = message.id, result = err == nil and (result or vim.empty_dict()) or nil, error = err })
    end, message.id)
  elseif message.method then
    self.handlers.notification(message.method, message.params)
  elseif message.id ~= nil then
    local callback = self.pending[message.id]
    self.pending[message.id] = nil
    if callback then
      callback(message.error, message.result)
    end
  end
end

function Rpc:notify_observers(direction, message)
  for _, observer in ipairs(self.observers) do
    observer(direction, message)
  end
end

function Rpc:send(message)
  if self.closed then
    return false
  end
  self:notify_observers("out", message)
  self.proc:write(vim.json.encode(message) .. "\n")
  return true
end

--- Sends a request; callback(err, result) runs on the main loop when it is answered
--- (err = { code, message } also when the process ends first).
function Rpc:request(method, params, callback)
  self.next_id = self.next_id + 1
  local id = self.next_id
  self.pending[id] = callback or function() end
  if not self:send({ jsonrpc = "2.0", id = id, method = method, params = params or vim.empty_dict() }) then
    self.pending[id] = nil
    if callback then
      callback({ code = -32603, message = "ourocodus is not running" })
    end
  end
  return id
end

function Rpc:notify(method, params)
  return self:send({ jsonrpc = "2.0", method = method, params = params or vim.empty_dict() })
end

function Rpc:on_exit(code)
  self.closed = true
  local pending = self.pending
  self.pending = {}
  for _, callback in pairs(pending) do
    callback({ code = -32603, message = "ourocodus exited" })
  end
  if self.handlers.exit then
    self.handlers.exit(code, self.stderr_tail)
  end
end

--- Closes the proxy's stdin (it then shuts its team down and exits); kills it if it
--- has not exited within `grace_ms`.
function Rpc:stop(grace_ms)
  if self.closed then
    return
  end
  pcall(self.proc.write, self.proc, nil)
  local proc = self.proc
  vim.defer_fn(function()
    if not self.closed then
      pcall(proc.kill, proc, 15)
    end
  end, grace_ms or 3000)
end

return M
