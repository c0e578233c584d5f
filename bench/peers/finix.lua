-- finix.lua: the bench's nginx + Lua peer. It does what userbridge's Finix
-- dialect does (adapters/finix/rules.yaml, docs/dialects/finix.md), written
-- as a competent OpenResty user would: one module loaded once per worker,
-- cjson for both directions, the upstream call through an internal
-- location (ngx.location.capture) over nginx's keep-alive upstream pool.
-- Every answer is application/hal+json: the location's default_type says so.
--
--   PUT /users/{user_id}  {"enabled": bool, "tags": {string: string}}
--   -> PATCH /users/{user_id}  {"set": {...}, "unset": [...]}
--   <- 200 canonical user  -> 200 application/hal+json Finix user + _links
--
-- Deliberately left out (userbridge does them): duplicate-key detection
-- (cjson keeps the last), telling [] from {} (both are empty tables), retries
-- and the circuit breaker.
local cjson = require "cjson.safe"

local null = cjson.null
local ngx = ngx
local type, pairs, ipairs, next = type, pairs, ipairs, next

local M = {}

-- Configuration: the Finix application id shown in _links.application.
M.application = "APdemo000000000000000000"

-- Fields a client that GETs a user and PUTs it back sends: ignored.
local READ_ONLY = {
    id = true, created_at = true, updated_at = true, created_by = true,
    last_used_date = true, _links = true, password = true, identity = true,
}

-- Finix's four role names: the answer's role is the first of the user's
-- roles named one of them, or no role member.
local FINIX_ROLES = { ROLE_ADMIN = true, ROLE_PLATFORM = true, ROLE_PARTNER = true, ROLE_MERCHANT = true }

local MAX_TAGS, MAX_KEY, MAX_VALUE = 50, 40, 500

-- Finix error codes and statuses by canonical code.
local CODES = {
    invalid_field = "INVALID_FIELD", bad_request = "BAD_REQUEST", unauthorized = "UNKNOWN",
    forbidden = "FORBIDDEN", not_found = "NOT_FOUND", conflict = "CONFLICT",
    payload_too_large = "BAD_REQUEST", unsupported_media_type = "NOT_ACCEPTABLE",
    rate_limited = "TOO_MANY_REQUESTS",
}
local STATUS = {
    invalid_field = 422, bad_request = 400, unauthorized = 401, forbidden = 403,
    not_found = 404, conflict = 409, payload_too_large = 413, unsupported_media_type = 415,
    rate_limited = 429, unavailable = 503, gateway_timeout = 504, bad_gateway = 502,
}
local BY_STATUS = {
    [400] = "invalid_field", [401] = "unauthorized", [403] = "forbidden", [404] = "not_found",
    [409] = "conflict", [422] = "invalid_field", [429] = "rate_limited",
}

local function request_url()
    local uri = ngx.var.request_uri
    local q = uri:find("?", 1, true)
    if q then
        uri = uri:sub(1, q - 1)
    end
    local origin = ngx.var.scheme .. "://" .. (ngx.var.http_host or ngx.var.host)
    return origin, origin .. uri
end

-- fail sends the Finix error envelope and ends the request.
local function fail(rid, code, message, field)
    local _, url = request_url()
    local err = {
        code = CODES[code] or "UNKNOWN", logref = rid, message = message,
        field = field, _links = { self = { href = url } },
    }
    local body = cjson.encode({ total = 1, _embedded = { errors = { err } } })
    ngx.status = STATUS[code] or 502
    ngx.header["Content-Length"] = #body
    ngx.header["X-Request-Id"] = rid
    ngx.print(body)
    return ngx.exit(ngx.status)
end

local function is_object(v)
    return type(v) == "table" and (next(v) == nil or type(next(v)) == "string")
end

-- translate builds the canonical update, or returns the error to send.
local function translate(body)
    local doc = body and cjson.decode(body)
    if not is_object(doc) then
        return nil, "bad_request", "the request body must be a JSON object"
    end
    local set, unset, ext = {}, {}, nil
    for k, v in pairs(doc) do
        if k == "enabled" then
            if v == null then
                return nil, "invalid_field", "enabled must not be null", "enabled"
            elseif type(v) ~= "boolean" then
                return nil, "invalid_field", "enabled must be a boolean", "enabled"
            end
            set.active = v
        elseif k == "tags" then
            if v == null then
                unset[#unset + 1] = "attributes"
            elseif not is_object(v) then
                return nil, "invalid_field", "tags must be an object", "tags"
            else
                local n = 0
                for tk, tv in pairs(v) do
                    n = n + 1
                    if #tk > MAX_KEY then
                        return nil, "invalid_field", "tags keys must be at most 40 characters", "tags." .. tk
                    elseif type(tv) ~= "string" then
                        return nil, "invalid_field", "tags values must be strings", "tags." .. tk
                    elseif #tv > MAX_VALUE then
                        return nil, "invalid_field", "tags values must be at most 500 characters", "tags." .. tk
                    end
                end
                if n > MAX_TAGS then
                    return nil, "invalid_field", "tags must have at most 50 pairs", "tags"
                end
                set.attributes = v
            end
        elseif not READ_ONLY[k] then
            if v == null then
                unset[#unset + 1] = "extensions.finix." .. k
            else
                ext = ext or {}
                ext[k] = v
            end
        end
    end
    if ext then
        set.extensions = { finix = ext }
    end
    -- cjson encodes an empty table as {}: build the unset array by hand.
    local u = #unset == 0 and "[]" or cjson.encode(unset)
    return '{"set":' .. cjson.encode(set) .. ',"unset":' .. u .. "}"
end

local function orNull(v)
    if v == nil then
        return null
    end
    return v
end

-- orAbsent leaves out a member Finix types as a string never null.
local function orAbsent(v)
    if v == null then
        return nil
    end
    return v
end

-- render turns the canonical user into the Finix user.
local function render(user)
    local origin, url = request_url()
    local roles, ext = user.roles, user.extensions
    local role
    if type(roles) == "table" then
        for _, r in ipairs(roles) do
            if type(r) == "table" and FINIX_ROLES[r.name] then
                role = r.name
                break
            end
        end
    end
    local identity = type(ext) == "table" and type(ext.finix) == "table" and ext.finix.identity or nil
    local active = user.active
    if active == nil or active == null then
        active = false
    end
    local tags = user.attributes
    if tags == nil or tags == null then
        tags = {}
    end
    return cjson.encode({
        id = orNull(user.id), created_at = orAbsent(user.createdAt), updated_at = orAbsent(user.updatedAt),
        created_by = orAbsent(user.createdBy), email = orAbsent(user.email), enabled = active,
        first_name = orNull(user.givenName), identity = orNull(identity), last_name = orNull(user.familyName),
        last_used_date = orAbsent(user.lastLoginAt), password = null, role = role, tags = tags,
        _links = {
            self = { href = url },
            application = { href = origin .. "/applications/" .. M.application },
            applications = { href = origin .. "/applications" },
        },
    })
end

local function sane_id(v)
    return v and #v <= 128 and not v:find('[%c "\\]')
end

local ACCEPTED = { ["application/json"] = true, ["application/hal+json"] = true }

-- update serves PUT /users/{user_id}; the location captured the id as $1.
function M.update()
    local rid = ngx.var.http_x_request_id
    if not sane_id(rid) then
        rid = ngx.var.request_id
    end
    if ngx.req.get_method() ~= "PUT" then
        ngx.header["Allow"] = "PUT"
        return ngx.exit(405)
    end
    local id = ngx.var.user_id
    if id == "." or id == ".." or id:find("[%c?#\\]") then
        return fail(rid, "invalid_field", "user_id is not a valid path value", "user_id")
    end
    local ct = ngx.var.content_type
    if ct then
        local media = ct:match("^%s*([^;%s]+)")
        if not media or not ACCEPTED[media:lower()] then
            return fail(rid, "unsupported_media_type", "Content-Type must be one of application/json, application/hal+json")
        end
    end

    ngx.req.read_body()
    local update, code, message, field = translate(ngx.req.get_body_data())
    if not update then
        return fail(rid, code, message, field)
    end

    local idem = ngx.var.http_idempotency_key or rid
    local res = ngx.location.capture("/_canonical/users/" .. ngx.escape_uri(id), {
        method = ngx.HTTP_PATCH, body = update, vars = { ub_rid = rid, ub_idem = idem },
    })
    local status = res.status
    if status == 204 then -- applied, no body: fetch the user
        res = ngx.location.capture("/_canonical/users/" .. ngx.escape_uri(id), {
            method = ngx.HTTP_GET, vars = { ub_rid = rid, ub_idem = idem },
        })
        status = res.status
    end
    if status == 200 or status == 201 then
        local user = cjson.decode(res.body)
        if type(user) ~= "table" then
            return fail(rid, "bad_gateway", "upstream reply unreadable")
        end
        local body = render(user)
        ngx.header["Content-Length"] = #body
        ngx.header["X-Request-Id"] = rid
        ngx.print(body)
        return
    end
    -- An upstream error: its envelope's code when it has one, else the status.
    local env = status < 500 and cjson.decode(res.body)
    local e = type(env) == "table" and type(env.error) == "table" and env.error or {}
    if status >= 500 or status < 400 then
        local c = ({ [503] = "unavailable", [504] = "gateway_timeout" })[status] or "bad_gateway"
        return fail(rid, c, "the upstream failed")
    end
    local c = CODES[e.code] and e.code or BY_STATUS[status] or "bad_gateway"
    return fail(rid, c, type(e.message) == "string" and e.message or "the upstream rejected the request",
        type(e.field) == "string" and e.field or nil)
end

return M
