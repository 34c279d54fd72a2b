-- lifecycle.lua: a client's way from starting to ready or failed, shared by the ACP and
-- the LSP transports: what waits for the session to open, and how a failure is told.
-- Knows the client's `state`, `error`, `waiters` and `view`; nothing of a protocol.
local render = require("ourocodus.render")

local M = {}

local function release(self, err)
  local waiters = self.waiters
  self.waiters = {}
  for _, waiter in ipairs(waiters) do
    waiter(err)
  end
end

--- The session is open: headers show it, and what waited goes on.
function M.ready(self)
  self.state = "ready"
  self.view.headers_dirty = true
  self.view:schedule_flush()
  release(self, nil)
end

function M.fail(self, message)
  self.state = "failed"
  self.error = message
  render.info(self.view, message)
  vim.notify("ourocodus: " .. message, vim.log.levels.ERROR)
  release(self, message)
end

--- Calls `fn(err)` once the session is open (at once if it is, or if it never will be).
function M.when_ready(self, fn)
  if self.state == "ready" then
    return fn(nil)
  end
  if self.state ~= "starting" then
    return fn(self.error or "ourocodus is not running")
  end
  self.waiters[#self.waiters + 1] = fn
end

--- Gives a client class these methods.
function M.install(class)
  class.ready, class.fail, class.when_ready = M.ready, M.fail, M.when_ready
end

return M
