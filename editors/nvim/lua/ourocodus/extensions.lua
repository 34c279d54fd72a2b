-- extensions.lua: the Ourocodus additions to ACP that this plugin uses, and nothing
-- else. It mirrors docs/protocol-extensions.md (the one list of what Ourocodus adds);
-- tests/run.lua fails when the plugin names a method or field the doc does not list.
local M = {}

-- Requests the plugin sends (editor -> proxy).
M.methods = {
  agents = "_ourocodus/agents",
  tasks = "_ourocodus/tasks",
  restart = "_ourocodus/restart",
  usage = "_ourocodus/usage",
}

-- Notifications the plugin handles (proxy -> editor).
M.notifications = {
  agent_status = "_ourocodus/agent_status",
}

-- Fields of `_meta.ourocodus` the plugin reads or writes.
M.meta_fields = {
  "roles", -- initialize result: the team at start-up
  "route", -- initialize result: where un-mentioned prompts go
  "role", -- every update and relayed request: who it came from
  "notice", -- a text chunk that is a notice (editors without session.notices)
  "tasks", -- the plan update that is the session's task graph
  "task", -- each task-graph plan entry: the task id
  "status", -- each task-graph plan entry: the task's own status
  "from", -- a prompt the proxy, a task or a role started
  "outcome", -- a subagent_update that ends a role's turn: completed, cancelled or failed
  "feedback", -- an approval gate's answer: why it is rejected
}

local known = {}
for _, field in ipairs(M.meta_fields) do
  known[field] = true
end

--- `obj._meta.ourocodus[field]`, or nil. Naming a field not listed above is a bug.
function M.meta(obj, field)
  assert(known[field], "ourocodus: unlisted _meta.ourocodus field " .. tostring(field))
  local meta = type(obj) == "table" and obj._meta
  local ours = type(meta) == "table" and meta.ourocodus
  if type(ours) ~= "table" then
    return nil
  end
  return ours[field]
end

--- A `_meta` table carrying `{ ourocodus = { [field] = value } }`.
function M.meta_with(field, value)
  assert(known[field], "ourocodus: unlisted _meta.ourocodus field " .. tostring(field))
  return { ourocodus = { [field] = value } }
end

return M
