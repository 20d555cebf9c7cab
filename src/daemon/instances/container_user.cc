#include "daemon/instances/container_user.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <optional>

#include "files/confined_root.h"

namespace vessel::daemon {

namespace {

constexpr size_t kMaxDatabaseBytes = 4 << 20;  // /etc/passwd or /etc/group read at most
constexpr uint32_t kMaxId = 0xfffffffe;        // (uid_t)-1 means "no change" to the kernel

std::optional<uint32_t> numeric_id(std::string_view s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v > kMaxId) return std::nullopt;
  return static_cast<uint32_t>(v);
}

// The colon-separated fields of each line of a passwd/group file, until `visit` says stop.
template <typename Visit>
void for_each_entry(std::string_view text, Visit visit) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    std::vector<std::string_view> fields;
    for (size_t start = 0;;) {
      size_t colon = line.find(':', start);
      fields.push_back(line.substr(start, colon == std::string_view::npos ? line.npos : colon - start));
      if (colon == std::string_view::npos) break;
      start = colon + 1;
    }
    if (fields.size() >= 4 && visit(fields)) return;
  }
}

struct PasswdEntry {
  std::string name;
  uint32_t uid = 0, gid = 0;
};

// By name, or by number (a uid matches its entry when there is one).
std::optional<PasswdEntry> find_passwd(std::string_view passwd, std::string_view who) {
  std::optional<PasswdEntry> found;
  auto wanted_uid = numeric_id(who);
  for_each_entry(passwd, [&](const std::vector<std::string_view>& f) {
    auto uid = numeric_id(f[2]);
    auto gid = numeric_id(f[3]);
    if (!uid || !gid || (wanted_uid ? *uid != *wanted_uid : f[0] != who)) return false;
    found = PasswdEntry{std::string(f[0]), *uid, *gid};
    return true;
  });
  return found;
}

std::optional<uint32_t> find_group(std::string_view group, std::string_view name) {
  std::optional<uint32_t> found;
  for_each_entry(group, [&](const std::vector<std::string_view>& f) {
    if (f[0] != name) return false;
    found = numeric_id(f[2]);
    return found.has_value();
  });
  return found;
}

// The groups whose member lists (the 4th field) name `user`.
std::vector<uint32_t> groups_listing(std::string_view group, std::string_view user) {
  std::vector<uint32_t> out;
  for_each_entry(group, [&](const std::vector<std::string_view>& f) {
    std::string_view members = f[3];
    for (size_t start = 0; start <= members.size();) {
      size_t comma = std::min(members.find(',', start), members.size());
      if (members.substr(start, comma - start) == user)
        if (auto gid = numeric_id(f[2])) out.push_back(*gid);
      start = comma + 1;
    }
    return false;
  });
  return out;
}

Result<std::string> read_confined(const std::string& root, const char* rel) {
  auto dir = TRY(files::ConfinedRoot::open(root));
  Fd fd = TRY(dir.open(rel, O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("{}/{}", root, rel);
    if (n == 0) return text;
    if (text.size() + static_cast<size_t>(n) > kMaxDatabaseBytes)
      return fail(EFBIG, "{}/{}: larger than {} bytes", root, rel, kMaxDatabaseBytes);
    text.append(buf, static_cast<size_t>(n));
  }
}

// The file from the topmost root that has it; "" when none has.
std::string read_from_layers(const std::vector<std::string>& roots, const char* rel) {
  for (const auto& root : roots)
    if (auto text = read_confined(root, rel)) return *text;
  return "";
}

}  // namespace

Result<ContainerUser> resolve_user(std::string_view user, std::string_view passwd, std::string_view group) {
  size_t colon = user.find(':');
  std::string_view who = user.substr(0, colon);
  std::optional<std::string_view> group_part;
  if (colon != std::string_view::npos) group_part = user.substr(colon + 1);
  ContainerUser out;
  auto entry = find_passwd(passwd, who);
  if (entry) {
    out.uid = entry->uid;
    out.gid = entry->gid;
  } else if (auto uid = numeric_id(who)) {
    out.uid = *uid;
  } else {
    return fail(ENOENT, "unable to find user {}: no matching entries in passwd file", who);
  }
  if (group_part) {
    auto gid = numeric_id(*group_part);
    if (!gid) gid = find_group(group, *group_part);
    if (!gid) return fail(ENOENT, "unable to find group {}: no matching entries in group file", *group_part);
    out.gid = *gid;
  }
  if (entry)
    for (uint32_t gid : groups_listing(group, entry->name))
      if (gid != out.gid) out.additional_gids.push_back(gid);
  return out;
}

Result<ContainerUser> resolve_container_user(std::string_view user, const std::vector<std::string>& roots) {
  return resolve_user(user, read_from_layers(roots, "etc/passwd"), read_from_layers(roots, "etc/group"));
}

}  // namespace vessel::daemon
