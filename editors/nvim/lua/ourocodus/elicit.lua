-- elicit.lua: answers `elicitation/create` forms (a role's question, or the proxy's
-- `ask_user`) with vim.ui.input / vim.ui.select, one field after another. Form mode
-- only: the plugin advertises `elicitation.form` and nothing else.
local M = {}

local function field_prompt(message, name, schema)
  local title = schema.title or name
  return (message and message ~= "" and (message .. " — ") or "") .. title .. ": "
end

-- Asks for one field; `done(value)` with nil when the user gave up.
local function ask_field(message, name, schema, done)
  local prompt = field_prompt(message, name, schema)
  if type(schema.enum) == "table" then
    return vim.ui.select(schema.enum, { prompt = prompt, kind = "ourocodus.elicitation" }, done)
  end
  if schema.type == "boolean" then
    return vim.ui.select({ "yes", "no" }, { prompt = prompt, kind = "ourocodus.elicitation" }, function(choice)
      done(choice and choice == "yes" or nil)
    end)
  end
  vim.ui.input({ prompt = prompt, default = schema.default and tostring(schema.default) or nil }, function(text)
    if text == nil then
      return done(nil)
    end
    if schema.type == "number" or schema.type == "integer" then
      return done(tonumber(text))
    end
    done(text)
  end)
end

--- Fills in `params.requestedSchema` field by field; replies `accept` with the
--- content, or `cancel` as soon as the user dismisses a field.
function M.create(params, reply)
  if params.mode ~= nil and params.mode ~= "form" then
    return reply(nil, { code = -32602, message = "only form elicitations are supported" })
  end
  local schema = params.requestedSchema or {}
  local names = vim.tbl_keys(schema.properties or {})
  table.sort(names)
  local content = {}
  local function next_field(index)
    local name = names[index]
    if not name then
      return reply({ action = "accept", content = next(content) and content or vim.empty_dict() })
    end
    ask_field(params.message, name, schema.properties[name], function(value)
      if value == nil then
        return reply({ action = "cancel" })
      end
      content[name] = value
      next_field(index + 1)
    end)
  end
  next_field(1)
end

return M
