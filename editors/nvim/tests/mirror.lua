-- tests/mirror.lua: the plugin mirrors docs/protocol-extensions.md. Every `_ourocodus/*`
-- method and notification and every `_meta.ourocodus` field the plugin names must be
-- listed there, and the plugin names them only through lua/ourocodus/extensions.lua.
-- `problems` is pure (texts in, complaints out) so the suite can also check that it
-- complains about a plugin that strays.
local M = {}

function M.read(path)
  local file = assert(io.open(path, "rb"), "cannot read " .. path)
  local text = file:read("*a")
  file:close()
  return text
end

--- { [file name] = source text } of the plugin's Lua files.
function M.plugin_sources(plugin_dir)
  local files = vim.fn.globpath(plugin_dir, "lua/ourocodus/*.lua", false, true)
  vim.list_extend(files, vim.fn.globpath(plugin_dir, "plugin/*.lua", false, true))
  local sources = {}
  for _, file in ipairs(files) do
    sources[file] = M.read(file)
  end
  return sources
end

-- The doc's `_meta.ourocodus` section: from its heading to the next one.
local function meta_section(doc)
  local start = doc:find("## `_meta.ourocodus`", 1, true)
  if not start then
    return nil
  end
  local stop = doc:find("\n## ", start + 1, true) or #doc
  return doc:sub(start, stop)
end

local function documents_field(doc, section, field)
  return doc:find("_meta.ourocodus." .. field, 1, true) ~= nil
    or section:find("`" .. field .. "[`:]") ~= nil
end

--- What the plugin (`ext`, its extensions table, and `sources`) names that `doc`
--- does not list, or names outside extensions.lua. Empty when they agree.
function M.problems(doc, ext, sources)
  local problems = {}
  local function complain(text)
    problems[#problems + 1] = text
  end
  local section = meta_section(doc)
  if not section then
    return { "the doc has no `_meta.ourocodus` section" }
  end
  local listed, known_fields = {}, {}
  for _, method in pairs(vim.tbl_extend("error", {}, ext.methods, ext.notifications)) do
    listed[method] = true
    if not doc:find("`" .. method .. "`", 1, true) then
      complain("extensions.lua lists " .. method .. ", which the doc does not")
    end
  end
  for _, field in ipairs(ext.meta_fields) do
    known_fields[field] = true
    if not documents_field(doc, section, field) then
      complain("extensions.lua lists _meta.ourocodus." .. field .. ", which the doc does not")
    end
  end
  for file, source in pairs(sources) do
    local code = source:gsub("%-%-[^\n]*", "") -- comments may mention anything
    local is_list = file:match("extensions%.lua$") ~= nil
    for method in code:gmatch("_ourocodus/[%w_]+") do
      if not (is_list and listed[method]) then
        complain(file .. " names " .. method .. " outside extensions.lua's list")
      end
    end
    for field in code:gmatch("meta%(%s*[^,()]+,%s*\"([%w_]+)\"") do
      if not known_fields[field] then
        complain(file .. " reads _meta.ourocodus." .. field .. ", not in extensions.lua")
      end
    end
    for field in code:gmatch("meta_with%(%s*\"([%w_]+)\"") do
      if not known_fields[field] then
        complain(file .. " writes _meta.ourocodus." .. field .. ", not in extensions.lua")
      end
    end
    if not is_list and code:find("[%.%[]%s*[\"']?ourocodus[\"']?%s*[%]%.]") then
      complain(file .. " reaches into _meta.ourocodus directly")
    end
  end
  table.sort(problems)
  return problems
end

return M
