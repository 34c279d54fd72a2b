-- view.lua: the team view: one pane per role and a team pane where every role's text
-- is interleaved and labelled. Owns which panes exist, their headers (agent status,
-- the task graph, each role's plan) and when queued text is flushed; not what an
-- update means (render.lua) nor the connection (client.lua).
local pane = require("ourocodus.pane")

local M = {}

local View = {}
View.__index = View

local PLAN_MARKS = { pending = "[ ]", in_progress = "[~]", completed = "[x]" }

function M.new()
  local self = setmetatable({
    team = pane.new("ourocodus://team"),
    roles = {}, -- role -> pane
    order = {}, -- roles in the order they appeared
    status = {}, -- role -> AgentSummary (from _ourocodus/agent_status)
    plans = {}, -- role -> plan entries
    task_plan = {}, -- the task graph's plan entries
    session_id = nil,
    flush_scheduled = false,
  }, View)
  self:refresh_headers()
  return self
end

--- The pane of `role`, made on first use.
function View:role(role)
  local existing = self.roles[role]
  if existing then
    return existing
  end
  local made = pane.new("ourocodus://role/" .. role)
  self.roles[role] = made
  self.order[#self.order + 1] = role
  self.headers_dirty = true
  self:schedule_flush()
  return made
end

function View:panes()
  local all = { self.team }
  for _, role in ipairs(self.order) do
    all[#all + 1] = self.roles[role]
  end
  return all
end

--- Flushes on the next turn of the main loop (coalescing everything queued until then).
function View:schedule_flush()
  if self.flush_scheduled then
    return
  end
  self.flush_scheduled = true
  vim.schedule(function()
    self:flush()
  end)
end

function View:flush()
  self.flush_scheduled = false
  for _, p in ipairs(self:panes()) do
    -- A buffer the user wiped comes back (empty but for what is new) with its header.
    if p:revive() then
      self.headers_dirty = true
    end
  end
  if self.headers_dirty then
    self:refresh_headers()
  end
  for _, p in ipairs(self:panes()) do
    p:flush()
  end
end

function View:set_status(summary)
  self.status[summary.role] = summary
  self:role(summary.role)
  self.headers_dirty = true
  self:schedule_flush()
end

function View:set_plan(role, entries)
  self.plans[role] = entries
  self.headers_dirty = true
  self:schedule_flush()
end

function View:set_task_plan(entries)
  self.task_plan = entries
  self.headers_dirty = true
  self:schedule_flush()
end

local function plan_lines(title, entries, fine_status)
  if not entries or #entries == 0 then
    return {}
  end
  local lines = { title }
  for _, entry in ipairs(entries) do
    local line = "  " .. (PLAN_MARKS[entry.status] or "[?]") .. " " .. tostring(entry.content or "")
    local detail = fine_status and fine_status(entry)
    if detail then
      line = line .. "  (" .. detail .. ")"
    end
    lines[#lines + 1] = (line:gsub("\n", " "))
  end
  return lines
end

--- "idle", or "working · pid 42 · restarts 1".
function M.describe_status(summary)
  if not summary then
    return "unknown"
  end
  local parts = { summary.status or "?" }
  if summary.pid then
    parts[#parts + 1] = "pid " .. summary.pid
  end
  if (summary.restarts or 0) > 0 then
    parts[#parts + 1] = "restarts " .. summary.restarts
  end
  return table.concat(parts, " · ")
end

function View:status_line()
  local parts = {}
  for _, role in ipairs(self.order) do
    local summary = self.status[role]
    parts[#parts + 1] = role .. ": " .. (summary and summary.status or "?")
  end
  return table.concat(parts, "  ")
end

function View:refresh_headers()
  self.headers_dirty = false
  local ext = require("ourocodus.extensions")
  local team = { "Ourocodus team" .. (self.session_id and (" — " .. self.session_id) or ""), self:status_line() }
  vim.list_extend(
    team,
    plan_lines("Tasks:", self.task_plan, function(entry)
      local task, status = ext.meta(entry, "task"), ext.meta(entry, "status")
      return task and (task .. " " .. tostring(status or "")) or nil
    end)
  )
  team[#team + 1] = string.rep("─", 40)
  self.team:set_header(team)
  for _, role in ipairs(self.order) do
    local lines = { "[" .. role .. "] " .. M.describe_status(self.status[role]) }
    vim.list_extend(lines, plan_lines("Plan:", self.plans[role]))
    lines[#lines + 1] = string.rep("─", 40)
    self.roles[role]:set_header(lines)
  end
end

--- Shows the team view in a new tab: the team pane on the left, the roles' panes
--- stacked on the right.
function View:open()
  self:flush()
  vim.cmd("tabnew")
  local team_win = vim.api.nvim_get_current_win()
  vim.api.nvim_win_set_buf(team_win, self.team.buf)
  for index, role in ipairs(self.order) do
    if index == 1 then
      vim.cmd("rightbelow vsplit")
    else
      vim.cmd("belowright split")
    end
    vim.api.nvim_win_set_buf(0, self.roles[role].buf)
  end
  vim.api.nvim_set_current_win(team_win)
end

return M
