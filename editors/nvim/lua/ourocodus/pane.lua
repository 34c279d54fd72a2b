-- pane.lua: one scratch buffer the plugin writes into: a header it replaces as a whole
-- (status, plan) above a body it only appends to. Appends are collected and written
-- in one edit per flush, so a stream of chunks costs one buffer change per batch.
-- Text is inserted as text: nothing in it is executed or interpreted.
local M = {}

local Pane = {}
Pane.__index = Pane

-- The buffer named exactly `name` (bufnr() would read the name as a pattern).
local function find_buffer(name)
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_get_name(buf) == name then
      return buf
    end
  end
  return nil
end

-- A scratch buffer named `name` (made, or reused and cleared).
local function open_buffer(name, filetype)
  local buf = find_buffer(name) or vim.api.nvim_create_buf(true, true)
  vim.api.nvim_buf_set_name(buf, name)
  local bo = vim.bo[buf]
  bo.buftype = "nofile"
  bo.bufhidden = "hide"
  bo.swapfile = false
  bo.filetype = filetype
  bo.modifiable = true
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, { "" })
  bo.modifiable = false
  return buf
end

--- A pane on a buffer named `name`.
function M.new(name, filetype)
  return setmetatable({
    name = name,
    filetype = filetype or "ourocodus",
    buf = open_buffer(name, filetype or "ourocodus"),
    header_len = 0,
    pending = {}, -- text appended since the last flush
    at_line_start = true, -- whether the body (with pending text) ends with a newline
    speaker = nil, -- who wrote the body's last text (labelled panes only)
  }, Pane)
end

function Pane:valid()
  return vim.api.nvim_buf_is_valid(self.buf) and vim.api.nvim_buf_is_loaded(self.buf)
end

--- Makes the buffer again if it was wiped; true if it did (its header is then empty).
function Pane:revive()
  if self:valid() then
    return false
  end
  self.buf = open_buffer(self.name, self.filetype)
  self.header_len = 0
  return true
end

function Pane:edit(fn)
  if not self:valid() then
    return
  end
  local bo = vim.bo[self.buf]
  bo.modifiable = true
  local ok, err = pcall(fn)
  bo.modifiable = false
  bo.modified = false
  if not ok then
    error(err)
  end
end

--- Queues `text` for the end of the body.
function Pane:write(text)
  if text == nil or text == "" then
    return
  end
  self.pending[#self.pending + 1] = text
  self.at_line_start = text:sub(-1) == "\n"
end

--- Queues `text` as a line of its own.
function Pane:line(text)
  if not self.at_line_start then
    self:write("\n")
  end
  self:write(text .. "\n")
end

--- Queues `text` said by `speaker`, labelled `[speaker]` whenever the speaker changes.
function Pane:say(speaker, text)
  if speaker ~= self.speaker then
    self.speaker = speaker
    if not self.at_line_start then
      self:write("\n")
    end
    self:write("[" .. speaker .. "] ")
  end
  self:write(text)
end

--- Forgets the speaker, so the next `say` is labelled again.
function Pane:break_speaker()
  self.speaker = nil
end

--- Replaces the header with `lines`.
function Pane:set_header(lines)
  self:edit(function()
    vim.api.nvim_buf_set_lines(self.buf, 0, self.header_len, false, lines)
  end)
  self.header_len = #lines
end

-- Windows showing the buffer with the cursor on its last line: they follow the stream.
local function following_windows(buf)
  local windows = {}
  local last = vim.api.nvim_buf_line_count(buf)
  for _, win in ipairs(vim.fn.win_findbuf(buf)) do
    if vim.api.nvim_win_get_cursor(win)[1] >= last then
      windows[#windows + 1] = win
    end
  end
  return windows
end

--- Writes the queued text in one edit.
function Pane:flush()
  if #self.pending == 0 or not self:valid() then
    self.pending = {}
    return
  end
  local text = table.concat(self.pending):gsub("%z", "")
  self.pending = {}
  local buf = self.buf
  local follow = following_windows(buf)
  self:edit(function()
    local last = vim.api.nvim_buf_line_count(buf) - 1
    local tail = vim.api.nvim_buf_get_lines(buf, last, last + 1, false)[1] or ""
    vim.api.nvim_buf_set_text(buf, last, #tail, last, #tail, vim.split(text, "\n", { plain = true }))
  end)
  local last = vim.api.nvim_buf_line_count(buf)
  for _, win in ipairs(follow) do
    pcall(vim.api.nvim_win_set_cursor, win, { last, 0 })
  end
end

--- The buffer's lines (header and body), for tests and status functions.
function Pane:lines()
  if not self:valid() then
    return {}
  end
  return vim.api.nvim_buf_get_lines(self.buf, 0, -1, false)
end

function Pane:text()
  return table.concat(self:lines(), "\n")
end

return M
