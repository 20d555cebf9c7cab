#include "daemon/policy/id_pool.h"

#include <charconv>

namespace vessel::daemon {

namespace {

std::optional<uint32_t> number(std::string_view s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty() || v > UINT32_MAX)
    return std::nullopt;
  return static_cast<uint32_t>(v);
}

Result<void> check_run(uint32_t start, uint32_t count, std::string_view what) {
  if (start == 0) return fail(EINVAL, "{}: the pool must not start at 0 (host root)", what);
  if (count == 0) return fail(EINVAL, "{}: the pool is empty", what);
  if (uint64_t{start} + count >= UINT32_MAX)
    return fail(EINVAL, "{}: the pool ends past 4294967294", what);
  return {};
}

// "start:count" of the first line whose name is `user`.
std::optional<std::pair<uint32_t, uint32_t>> find_entry(std::string_view text,
                                                        std::string_view user) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    auto a = line.find(':');
    if (a == std::string_view::npos || line.substr(0, a) != user) continue;
    auto b = line.find(':', a + 1);
    if (b == std::string_view::npos) continue;
    auto start = number(line.substr(a + 1, b - a - 1));
    auto count = number(line.substr(b + 1));
    if (start && count) return std::make_pair(*start, *count);
  }
  return std::nullopt;
}

bool overlaps(uint64_t a, uint64_t a_count, uint64_t b, uint64_t b_count) {
  return a < b + b_count && b < a + a_count;
}

}  // namespace

Result<IdPool> parse_id_pool(std::string_view text) {
  auto colon = text.find(':');
  auto start = number(text.substr(0, colon));
  auto count = colon == std::string_view::npos ? std::nullopt : number(text.substr(colon + 1));
  if (!start || !count)
    return Unexpected(
        Error(EINVAL, fmt::format("--userns-pool: '{}' is not START:COUNT", text.substr(0, 64)))
            .with_hint("e.g. --userns-pool 1000000:6553600 (100 containers)"));
  TRY(check_run(*start, *count, "--userns-pool"));
  return IdPool{*start, *count, *start, *count};
}

Result<IdPool> id_pool_from_subid(std::string_view subuid, std::string_view subgid,
                                  std::string_view user) {
  auto u = find_entry(subuid, user);
  auto g = find_entry(subgid, user);
  if (!u || !g)
    return fail(ENOENT, "no '{}' entry in {}", user,
                !u && !g ? "/etc/subuid nor /etc/subgid"
                : !u     ? "/etc/subuid"
                         : "/etc/subgid");
  TRY(check_run(u->first, u->second, "/etc/subuid"));
  TRY(check_run(g->first, g->second, "/etc/subgid"));
  return IdPool{u->first, u->second, g->first, g->second};
}

std::optional<IdRange> pick_id_range(const IdPool& pool, const std::vector<IdRange>& taken,
                                     uint32_t size) {
  if (size == 0) return std::nullopt;
  for (uint64_t off = 0; off + size <= pool.capacity(); off += size) {
    IdRange r{static_cast<uint32_t>(pool.uid + off), static_cast<uint32_t>(pool.gid + off), size};
    bool free = true;
    for (const auto& t : taken)
      if (overlaps(r.uid, size, t.uid, t.count) || overlaps(r.gid, size, t.gid, t.count))
        free = false;
    if (free) return r;
  }
  return std::nullopt;
}

}  // namespace vessel::daemon
