-- prompt.lua: turns what the user typed (and a selection, when there is one) into ACP
-- prompt content blocks. Mentions (`@role`) stay in the text: the proxy reads them.
local M = {}

--- `file:///abs/path#L3-L7`: the file and the selected lines (1-based, inclusive).
function M.range_uri(path, first, last)
  local uri = vim.uri_from_fname(vim.fn.fnamemodify(path, ":p"))
  return uri .. "#L" .. first .. "-L" .. last
end

--- The blocks for `text`, with lines first..last of `buf` as an embedded resource.
function M.blocks(text, selection)
  local blocks = {}
  if selection then
    local path = vim.api.nvim_buf_get_name(selection.buf)
    local label = (path ~= "" and vim.fn.fnamemodify(path, ":.") or "[No Name]")
    text = (text ~= "" and (text .. "\n\n") or "")
      .. ("(selection: %s, lines %d-%d)"):format(label, selection.first, selection.last)
  end
  blocks[1] = { type = "text", text = text }
  if selection then
    local lines = vim.api.nvim_buf_get_lines(selection.buf, selection.first - 1, selection.last, false)
    local path = vim.api.nvim_buf_get_name(selection.buf)
    local filetype = vim.bo[selection.buf].filetype
    blocks[2] = {
      type = "resource",
      resource = {
        uri = path ~= "" and M.range_uri(path, selection.first, selection.last) or "untitled:selection",
        mimeType = filetype ~= "" and ("text/x-" .. filetype) or "text/plain",
        text = table.concat(lines, "\n") .. "\n",
      },
    }
  end
  return blocks
end

return M
