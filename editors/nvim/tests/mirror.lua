-- tests/mirror.lua: the plugin mirrors docs/protocol-extensions.md. Every `_ourocodus/*`
-- method and notification and every `_meta.ourocodus` field the plugin names must be
-- listed there, and the plugin names them only through lua/ourocodus/extensions.lua.
local M = {}

local function read(path)
  local file = assert(io.open(path, "rb"), "cannot read " .. path)
  local text = file:read("*a")
  file:close()
  return text
end

local function plugin_sources(plugin_dir)
  local files = vim.fn.globpath(plugin_dir, "lua/ourocodus/*.lua", false, true)
  vim.list_extend(files, vim.fn.globpath(plugin_dir, "plugin/*.lua", false, true))
  return files
end

-- The doc's `_meta.ourocodus` section: from its heading to the next one.
local function meta_section(doc)
  local start = doc:find("## `_meta.ourocodus`", 1, true)
  assert(start, "the doc has no `_meta.ourocodus` section")
  local stop = doc:find("\n## ", start + 1, true) or #doc
  return doc:sub(start, stop)
end

local function documents_field(doc, section, field)
  return doc:find("_meta.ourocodus." .. field, 1, true) ~= nil
    or section:find("`" .. field .. "[`:]") ~= nil
    or section:find(", `" .. field .. "`", 1, true) ~= nil
end

function M.check(paths, t)
  local doc = read(paths.repo .. "/docs/protocol-extensions.md")
  local section = meta_section(doc)
  local ext = require("ourocodus.extensions")
  local listed = {}
  for _, method in pairs(vim.tbl_extend("error", {}, ext.methods, ext.notifications)) do
    listed[method] = true
    t.contains(doc, "`" .. method .. "`", "docs/protocol-extensions.md")
  end
  for _, field in ipairs(ext.meta_fields) do
    t.ok(documents_field(doc, section, field), "docs/protocol-extensions.md documents _meta.ourocodus." .. field)
  end
  local known_fields = {}
  for _, field in ipairs(ext.meta_fields) do
    known_fields[field] = true
  end
  for _, file in ipairs(plugin_sources(paths.plugin)) do
    local code = read(file):gsub("%-%-[^\n]*", "") -- comments may mention anything
    for method in code:gmatch("_ourocodus/[%w_]+") do
      t.ok(listed[method] and file:match("extensions%.lua$"), file .. " names " .. method .. " outside extensions.lua's list")
    end
    for field in code:gmatch("meta%(%s*[^,]+,%s*\"([%w_]+)\"") do
      t.ok(known_fields[field], file .. " reads _meta.ourocodus." .. field .. ", not in extensions.lua")
    end
    for field in code:gmatch("meta_with%(%s*\"([%w_]+)\"") do
      t.ok(known_fields[field], file .. " writes _meta.ourocodus." .. field .. ", not in extensions.lua")
    end
    if not file:match("extensions%.lua$") then
      t.ok(not code:find("[%.%[]%s*[\"']?ourocodus[\"']?%s*[%]%.]"), file .. " reaches into _meta.ourocodus directly")
    end
  end
end

return M
