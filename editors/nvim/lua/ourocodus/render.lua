-- render.lua: what each ACP `session/update` looks like in the team view. It decides
-- the words and which panes get them; view.lua and pane.lua own the buffers. Agent
-- text is only ever inserted as text.
local ext = require("ourocodus.extensions")

local M = {}

-- The proxy's own speaker name (task graph, notices about the team).
M.PROXY = "ourocodus"

local function one_line(text, max)
  text = tostring(text or ""):gsub("%s+", " ")
  if max and #text > max then
    text = text:sub(1, max) .. "…"
  end
  return text
end

local function content_text(content)
  if type(content) ~= "table" then
    return ""
  end
  if content.type == "text" then
    return content.text or ""
  end
  if content.type == "resource_link" or content.type == "resource" then
    local uri = content.uri or (content.resource and content.resource.uri) or ""
    return "[" .. content.type .. " " .. uri .. "]"
  end
  return "[" .. tostring(content.type) .. "]"
end

-- A role's own pane, unless the speaker is the proxy itself.
local function role_pane(view, role)
  if role and role ~= M.PROXY then
    return view:role(role)
  end
  return nil
end

local function notice(view, role, severity, title, description)
  local text = "! " .. (severity or "info") .. ": " .. one_line(title)
  if description and description ~= "" then
    text = text .. " — " .. one_line(description)
  end
  view.team:line((role and role ~= M.PROXY and ("[" .. role .. "] ") or "") .. text)
  view.team:break_speaker()
  local own = role_pane(view, role)
  if own then
    own:line(text)
  end
end

-- Per-pane stream kind ("message" or "thought"), so a switch starts a new line.
local function stream(p, kind, text)
  if p.stream_kind ~= kind then
    p.stream_kind = kind
    if kind == "thought" then
      p:line("(thinking)")
    elseif not p.at_line_start then
      p:write("\n")
    end
  end
  p:write(text)
end

local handlers = {}

function handlers.agent_message_chunk(view, role, update)
  local text = content_text(update.content)
  local as_notice = ext.meta(update, "notice")
  if type(as_notice) == "table" then
    return notice(view, role, as_notice.severity, as_notice.title)
  end
  local own = role_pane(view, role)
  if own then
    stream(own, "message", text)
  end
  view.team:say(role or M.PROXY, text)
end

function handlers.agent_thought_chunk(view, role, update)
  local own = role_pane(view, role)
  if own then
    stream(own, "thought", content_text(update.content))
  end
end

function handlers.user_message_chunk(view, _, update)
  local from = ext.meta(update, "from")
  local speaker = "user"
  if type(from) == "table" then
    speaker = from.task and ("task " .. from.task) or from.role and ("from " .. from.role) or M.PROXY
  end
  view.team:say(speaker, content_text(update.content))
end

local function tool_line(update)
  local parts = { "⚙", one_line(update.title or update.toolCallId, 120) }
  local detail = {}
  for _, key in ipairs({ "kind", "status" }) do
    if update[key] then
      detail[#detail + 1] = update[key]
    end
  end
  if #detail > 0 then
    parts[#parts + 1] = "(" .. table.concat(detail, ", ") .. ")"
  end
  return table.concat(parts, " ")
end

-- Lines of a diff shown per tool call: a long one is cut, and says so.
local DIFF_LINES = 40

-- A tool call's diffs as text lines: `diff PATH`, then `- old` and `+ new` lines.
local function diff_lines(content)
  local lines = {}
  for _, item in ipairs(type(content) == "table" and content or {}) do
    if type(item) == "table" and item.type == "diff" then
      lines[#lines + 1] = "  diff " .. one_line(item.path or "?", 200)
      local shown = 0
      local function add(prefix, text)
        for _, line in ipairs(vim.split(type(text) == "string" and text or "", "\n", { plain = true })) do
          shown = shown + 1
          if shown > DIFF_LINES then
            return
          end
          lines[#lines + 1] = "  " .. prefix .. " " .. line
        end
      end
      add("-", item.oldText)
      add("+", item.newText)
      if shown > DIFF_LINES then
        lines[#lines + 1] = "  … (the diff goes on)"
      end
    end
  end
  return lines
end

local function show_diffs(pane, update)
  for _, line in ipairs(diff_lines(update.content)) do
    pane:line(line)
  end
end

function handlers.tool_call(view, role, update)
  local own = role_pane(view, role)
  if own then
    own:line(tool_line(update))
    show_diffs(own, update)
    own.stream_kind = nil
  end
  view.team:line("[" .. (role or M.PROXY) .. "] " .. tool_line(update))
  view.team:break_speaker()
end

function handlers.tool_call_update(view, role, update)
  local own = role_pane(view, role)
  if own and update.status then
    own:line("⚙ " .. one_line(update.toolCallId) .. ": " .. update.status)
    own.stream_kind = nil
  end
  if own then
    show_diffs(own, update)
  end
end

function handlers.plan(view, role, update)
  if ext.meta(update, "tasks") then
    return view:set_task_plan(update.entries or {})
  end
  if role and role ~= M.PROXY then
    view:set_plan(role, update.entries or {})
  end
end

function handlers.notice(view, role, update)
  notice(view, role, update.severity, update.title, update.description)
end

--- Renders one update from `role` (nil when no role said it).
function M.update(view, role, update)
  local handler = handlers[update.sessionUpdate]
  if handler then
    handler(view, role, update)
    view:schedule_flush()
  end
end

--- A role's turn began (a subagent session was announced).
function M.turn_started(view, role, turn, task)
  local own = view:role(role)
  own:line("── turn " .. turn .. ": " .. one_line(task, 100))
  own.stream_kind = nil
  view:schedule_flush()
end

function M.turn_ended(view, role, turn, state)
  local own = view:role(role)
  own:line("── turn " .. turn .. " " .. tostring(state or "ended"))
  own.stream_kind = nil
  view:schedule_flush()
end

--- The user's prompt, as sent.
function M.prompt_sent(view, text)
  view.team:say("you", text .. "\n")
  view.team:break_speaker()
  view:schedule_flush()
end

--- A prompt was answered.
function M.prompt_done(view, stop_reason, err)
  if err then
    view.team:line("[" .. M.PROXY .. "] prompt failed: " .. one_line(err.message or vim.inspect(err)))
  else
    view.team:line("[" .. M.PROXY .. "] turn ended: " .. tostring(stop_reason))
  end
  view.team:break_speaker()
  view:schedule_flush()
end

--- A line from the plugin itself (restart results, connection state).
function M.info(view, text)
  view.team:line("[" .. M.PROXY .. "] " .. text)
  view.team:break_speaker()
  view:schedule_flush()
end

M.one_line = one_line

return M
