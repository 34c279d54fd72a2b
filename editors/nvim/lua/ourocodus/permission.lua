-- permission.lua: answers `session/request_permission` through vim.ui.select — a role's
-- tool call, or one of the proxy's approval gates (toolCallId `ourocodus-gate-tN`, where
-- a rejection may say why). Owns the requests still waiting for the user, so a cancel
-- answers them `cancelled` as ACP requires.
local ext = require("ourocodus.extensions")
local config = require("ourocodus.config")

local M = {}

local waiting = {} -- request id -> { finish = function(outcome, meta) }

local function cancelled()
  return { outcome = { outcome = "cancelled" } }
end

--- The task id of an approval gate, or nil for a role's own request.
function M.gate_task(params)
  local id = params and params.toolCall and params.toolCall.toolCallId
  return type(id) == "string" and id:match("^ourocodus%-gate%-(t%d+)$") or nil
end

local function prompt_title(params)
  local task = M.gate_task(params)
  local title = params.toolCall and params.toolCall.title or "a tool call"
  if task then
    return "Approve task " .. task .. "? " .. title
  end
  return "Allow " .. title .. "?"
end

--- Asks the user; `reply(result)` answers the request exactly once. `on_answer(text)`
--- tells the view what was chosen.
function M.ask(request_id, params, reply, on_answer)
  local done = false
  local function finish(result, said)
    if done then
      return
    end
    done = true
    waiting[request_id] = nil
    reply(result)
    on_answer(said)
  end
  waiting[request_id] = { finish = finish }
  local task = M.gate_task(params)
  local options = params.options or {}
  vim.ui.select(options, {
    prompt = prompt_title(params),
    kind = "ourocodus.permission",
    format_item = function(option)
      return tostring(option.name) .. " (" .. tostring(option.kind) .. ")"
    end,
  }, function(choice)
    if done then
      return
    end
    if not choice then
      return finish(cancelled(), "cancelled")
    end
    local result = { outcome = { outcome = "selected", optionId = choice.optionId } }
    if not (task and choice.kind == "reject_once" and config.options.ask_feedback) then
      return finish(result, choice.optionId)
    end
    vim.ui.input({ prompt = "Why reject " .. task .. "? " }, function(feedback)
      if feedback and feedback ~= "" then
        result._meta = ext.meta_with("feedback", feedback)
      end
      finish(result, choice.optionId)
    end)
  end)
end

--- The proxy withdrew a request (another client answered it): it still gets one answer.
function M.withdraw(request_id)
  local entry = waiting[request_id]
  if entry then
    entry.finish(cancelled(), "withdrawn")
  end
end

--- Answers every waiting request `cancelled` (the user cancelled the turn).
function M.cancel_all()
  local entries = vim.tbl_values(waiting) -- finish() edits `waiting`
  for _, entry in ipairs(entries) do
    entry.finish(cancelled(), "cancelled")
  end
end

function M.waiting_count()
  return vim.tbl_count(waiting)
end

return M
