-- config.lua: the plugin's options, their defaults, and merging the user's setup({...}).
local M = {}

M.defaults = {
  -- The command line of the ACP agent: Ourocodus's editor face.
  cmd = { "ourocodus", "acp" },
  -- Working directory of the session (default: Neovim's cwd when it starts).
  cwd = nil,
  -- Extra environment for the proxy process.
  env = nil,
  -- Serve fs/read_text_file and fs/write_text_file through Neovim buffers and files.
  fs = true,
  -- Ask why when rejecting an approval gate (sent as _meta.ourocodus.feedback).
  ask_feedback = true,
}

M.options = vim.deepcopy(M.defaults)

function M.setup(opts)
  opts = opts or {}
  M.options = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts)
  -- Lists are replaced, not merged index by index.
  M.options.cmd = opts.cmd or vim.deepcopy(M.defaults.cmd)
  if type(M.options.cmd) == "string" then
    M.options.cmd = { M.options.cmd }
  end
  return M.options
end

return M
