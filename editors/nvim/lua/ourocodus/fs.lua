-- fs.lua: serves the agents' `fs/read_text_file` and `fs/write_text_file` through
-- Neovim: a file loaded in a buffer is read from (and written through) that buffer, so
-- agents see unsaved edits and the user sees their writes; other files go to disk.
-- Which paths a role may touch is the proxy's policy, enforced before a request gets here.
local M = {}

local function loaded_buffer(path)
  local wanted = vim.fs.normalize(path)
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.fs.normalize(vim.api.nvim_buf_get_name(buf)) == wanted then
      return buf
    end
  end
  return nil
end

local function read_all(path)
  local buf = loaded_buffer(path)
  if buf then
    local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
    local text = table.concat(lines, "\n")
    if vim.bo[buf].eol and #lines > 0 then
      text = text .. "\n"
    end
    return text
  end
  local file, err = io.open(path, "rb")
  if not file then
    return nil, err
  end
  local text = file:read("*a")
  file:close()
  return text
end

-- Lines `line` (1-based) .. line+limit-1 of `text`, when asked for.
local function slice(text, line, limit)
  if not line and not limit then
    return text
  end
  local lines = vim.split(text, "\n", { plain = true })
  local first = math.max(line or 1, 1)
  local last = limit and (first + limit - 1) or #lines
  return table.concat(vim.list_slice(lines, first, last), "\n")
end

function M.read(params, reply)
  local text, err = read_all(params.path or "")
  if not text then
    return reply(nil, { code = -32002, message = "cannot read " .. tostring(params.path) .. ": " .. tostring(err) })
  end
  reply({ content = slice(text, params.line, params.limit) })
end

function M.write(params, reply)
  local path, content = params.path or "", params.content or ""
  local lines = vim.split(content, "\n", { plain = true })
  local buf = loaded_buffer(path)
  if buf then
    local ends_with_newline = lines[#lines] == ""
    if ends_with_newline and #lines > 1 then
      table.remove(lines)
    end
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
    vim.bo[buf].eol = ends_with_newline
    local ok, err = pcall(vim.api.nvim_buf_call, buf, function()
      vim.cmd("silent noautocmd write!")
    end)
    if not ok then
      return reply(nil, { code = -32603, message = "cannot write " .. path .. ": " .. tostring(err) })
    end
    return reply(vim.empty_dict())
  end
  -- "b": lines joined by "\n" with none added after the last, so content is exact.
  if vim.fn.writefile(lines, path, "b") ~= 0 then
    return reply(nil, { code = -32603, message = "cannot write " .. path })
  end
  reply(vim.empty_dict())
end

return M
