-- wrk script: each request is a complete set of answers with a made-up
-- form token and CSRF pair. Form tokens are signed by the server, so none
-- of these is stored: this measures what refusing forged (and, past the
-- rate limit, flooded) submissions costs. benches/flood.py sends real
-- forms.  usage:
--   wrk -t2 -c16 -d20s -s benches/wrk_post.lua http://127.0.0.1:8080/s/livability
local answers = "district=huancui&sex=female&age_group=30-44&years_resident=5-10&resident_type=local"
local likert = {
  "safety_night", "safety_traffic", "safety_disaster", "safety_food",
  "conv_shops", "conv_medical", "conv_school", "conv_elderly",
  "nature_air", "nature_green", "nature_coast", "nature_noise",
  "culture_heritage", "culture_venues", "culture_community", "culture_inclusion",
  "mob_transit", "mob_walking", "mob_parking", "mob_commute",
  "appearance_skyline", "appearance_streets", "appearance_character", "appearance_night",
  "pride_proud", "pride_belong", "pride_recommend", "pride_future",
}
for i, q in ipairs(likert) do
  answers = answers .. "&" .. q .. "=" .. tostring((i % 5) + 1)
end
answers = answers .. "&overall_rating=8&suggestions=%E6%9B%B4%E5%A4%9A%E5%85%AC%E5%9B%AD"

local counter = 0
local function token()
  counter = counter + 1
  return string.format("%08x%08x%08x%08x", math.random(0, 0x7fffffff), math.random(0, 0x7fffffff), counter, math.random(0, 0x7fffffff))
end

math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))

request = function()
  local csrf = token()
  local body = "_csrf=" .. csrf .. "&_form=" .. token() .. "&_lang=zh&_v=1&" .. answers
  local headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Cookie"] = "cp_csrf=" .. csrf,
  }
  return wrk.format("POST", nil, headers, body)
end

response = function(status)
  if status ~= 403 and status ~= 429 then
    io.stderr:write("unexpected status " .. status .. "\n")
  end
end
