-- report.lua: the answers of `_ourocodus/agents`, `_ourocodus/tasks` and `session/list`
-- as readable lines (the :OurocodusAgents, :OurocodusTasks and :OurocodusSessions
-- buffers). Pure: data in, lines out.
local M = {}

local function pad(text, width)
  text = tostring(text == nil and "" or text)
  return text .. string.rep(" ", math.max(width - vim.fn.strdisplaywidth(text), 1))
end

local function one_line(text)
  return (tostring(text or ""):gsub("%s+", " "))
end

local function tokens_text(tokens)
  tokens = type(tokens) == "table" and tokens or {}
  return ("%s tokens (in %s, out %s)"):format(tokens.totalTokens or 0, tokens.inputTokens or 0, tokens.outputTokens or 0)
end

local function cost_text(costs)
  local parts = {}
  for _, cost in ipairs(type(costs) == "table" and costs or {}) do
    parts[#parts + 1] = ("%s %s"):format(tostring(cost.amount), tostring(cost.currency))
  end
  return #parts > 0 and table.concat(parts, " + ") or "no cost reported"
end

--- What each role and each task used (`_ourocodus/usage`): tokens, the last context
--- window, the cost in each currency.
function M.usage(result)
  result = type(result) == "table" and result or {}
  local lines = { "Per role:" }
  for _, role in ipairs(result.roles or {}) do
    local line = "  " .. pad(role.role, 14) .. tokens_text(role.tokens) .. ", " .. cost_text(role.cost)
    if type(role.context) == "table" then
      line = line .. (", context %s/%s"):format(tostring(role.context.used), tostring(role.context.size))
    end
    lines[#lines + 1] = line
  end
  lines[#lines + 1] = "Per task:"
  for _, task in ipairs(result.tasks or {}) do
    lines[#lines + 1] = "  " .. pad(task.task, 6) .. pad(task.role, 14) .. tokens_text(task.tokens) .. ", " .. cost_text(task.cost)
  end
  if type(result.total) == "table" then
    lines[#lines + 1] = "Total: " .. tokens_text(result.total.tokens) .. ", " .. cost_text(result.total.cost)
  end
  return lines
end

--- One line per saved session: its id, when it last changed, its title.
function M.sessions(sessions)
  local lines = { pad("session", 40) .. pad("updated", 26) .. "title" }
  for _, session in ipairs(sessions or {}) do
    lines[#lines + 1] = pad(session.sessionId, 40) .. pad(session.updatedAt or "-", 26) .. one_line(session.title)
  end
  if #lines == 1 then
    lines[#lines + 1] = "(no saved sessions in this directory)"
  end
  return lines
end

--- One line per agent (AgentSummary), then its prompt or failure reason under it.
function M.agents(agents)
  local lines = { pad("role", 14) .. pad("status", 16) .. pad("pid", 9) .. pad("up", 8) .. pad("restarts", 10) .. "sandbox" }
  for _, agent in ipairs(agents or {}) do
    local up = agent.uptimeSecs and (agent.uptimeSecs .. "s") or "-"
    lines[#lines + 1] = pad(agent.role, 14) .. pad(agent.status, 16) .. pad(agent.pid or "-", 9) .. pad(up, 8)
      .. pad(agent.restarts or 0, 10) .. tostring(agent.sandbox or "")
    if agent.prompt then
      lines[#lines + 1] = "    prompt: " .. one_line(agent.prompt)
    end
    if agent.reason then
      lines[#lines + 1] = "    reason: " .. one_line(agent.reason)
    end
  end
  return lines
end

--- The task graph: each task with its status, role, title, priority and the tasks it
--- waits on; then the plan the editor is shown.
function M.tasks(result)
  local tasks = result and result.tasks or {}
  local lines = { ("Tasks (%d)"):format(#tasks) }
  for _, task in ipairs(tasks) do
    lines[#lines + 1] = ("%s  [%s]  %s: %s  (priority %s, by %s)"):format(
      task.id, task.status, task.role, one_line(task.title), tostring(task.priority), tostring(task.created_by))
    if task.depends_on and #task.depends_on > 0 then
      lines[#lines + 1] = "    depends on: " .. table.concat(task.depends_on, ", ")
    end
    if task.requires_approval then
      lines[#lines + 1] = "    requires approval"
    end
    if task.summary then
      lines[#lines + 1] = "    summary: " .. one_line(task.summary)
    end
    for _, note in ipairs(task.notes or {}) do
      lines[#lines + 1] = "    note: " .. one_line(note)
    end
  end
  local marks = { pending = "[ ]", in_progress = "[~]", completed = "[x]" }
  if result and result.plan and #result.plan > 0 then
    lines[#lines + 1] = ""
    lines[#lines + 1] = "Plan:"
    for _, entry in ipairs(result.plan) do
      lines[#lines + 1] = "  " .. (marks[entry.status] or "[?]") .. " " .. one_line(entry.content)
    end
  end
  return lines
end

--- Shows `lines` in the scratch buffer `name`, in a split (reused if already shown).
function M.show(name, lines)
  local buf
  for _, candidate in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_get_name(candidate) == name then
      buf = candidate
    end
  end
  if not buf then
    buf = vim.api.nvim_create_buf(true, true)
    vim.api.nvim_buf_set_name(buf, name)
    vim.bo[buf].bufhidden = "hide"
    vim.bo[buf].filetype = "ourocodus"
  end
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].modified = false
  if #vim.fn.win_findbuf(buf) == 0 then
    vim.cmd("botright split")
    vim.api.nvim_win_set_buf(0, buf)
  end
  return buf
end

return M
