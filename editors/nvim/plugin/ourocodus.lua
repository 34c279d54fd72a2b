-- plugin/ourocodus.lua: defines the :Ourocodus* commands; everything else loads on first use.
if vim.g.loaded_ourocodus then
  return
end
vim.g.loaded_ourocodus = true

local function ourocodus()
  return require("ourocodus")
end

local function complete_roles(lead)
  return vim.tbl_filter(function(role)
    return role:find(lead, 1, true) == 1
  end, ourocodus().roles())
end

-- `@role` mentions (and `@all`) for the word being typed.
local function complete_mentions(lead)
  if lead:sub(1, 1) ~= "@" then
    return {}
  end
  local mentions = vim.tbl_map(function(role)
    return "@" .. role
  end, vim.list_extend({ "all" }, ourocodus().roles()))
  return vim.tbl_filter(function(mention)
    return mention:find(lead, 1, true) == 1
  end, mentions)
end

vim.api.nvim_create_user_command("Ourocodus", function()
  ourocodus().open()
end, { desc = "Ourocodus: open the team view" })

vim.api.nvim_create_user_command("OurocodusAsk", function(cmd)
  local selection = nil
  if cmd.range > 0 then
    selection = { buf = vim.api.nvim_get_current_buf(), first = cmd.line1, last = cmd.line2 }
  end
  ourocodus().ask(cmd.args, selection)
end, { nargs = "*", range = true, complete = complete_mentions, desc = "Ourocodus: ask the team ([@role] text), with the selected lines" })

vim.api.nvim_create_user_command("OurocodusCancel", function()
  ourocodus().cancel()
end, { desc = "Ourocodus: cancel the running turns" })

vim.api.nvim_create_user_command("OurocodusAgents", function()
  ourocodus().agents()
end, { desc = "Ourocodus: list the team's agents" })

vim.api.nvim_create_user_command("OurocodusTasks", function()
  ourocodus().tasks()
end, { desc = "Ourocodus: show the session's task graph" })

vim.api.nvim_create_user_command("OurocodusUsage", function()
  require("ourocodus").usage()
end, { desc = "Ourocodus: what each role and task used (tokens, cost)" })

vim.api.nvim_create_user_command("OurocodusSessions", function()
  require("ourocodus").sessions()
end, { desc = "Ourocodus: list the saved team sessions of this directory" })

vim.api.nvim_create_user_command("OurocodusLoad", function(cmd)
  require("ourocodus").load(cmd.args)
end, { nargs = 1, desc = "Ourocodus: reopen a saved team session (its id)" })

vim.api.nvim_create_user_command("OurocodusRestart", function(cmd)
  ourocodus().restart(cmd.args)
end, { nargs = 1, complete = complete_roles, desc = "Ourocodus: restart a role's agent" })
