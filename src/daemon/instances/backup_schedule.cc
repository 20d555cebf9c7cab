#include "daemon/instances/backup_schedule.h"

#include <algorithm>

namespace vessel::daemon {

namespace {

constexpr uint64_t kMaxEvery = 366ull * 24 * 3600;
constexpr uint32_t kMaxKeep = 10000;
constexpr size_t kStampSize = 16;  // YYYYMMDDTHHMMSSZ

bool is_stamp(std::string_view s) {
  if (s.size() != kStampSize || s[8] != 'T' || s[15] != 'Z') return false;
  for (size_t i = 0; i < kStampSize; ++i)
    if (i != 8 && i != 15 && (s[i] < '0' || s[i] > '9')) return false;
  return true;
}

}  // namespace

Result<BackupScheduleSpec> parse_backup_schedule(const json::Json& j) {
  if (!j.is_object()) return fail(EINVAL, "backup schedule: expected an object");
  TRY(json::reject_unknown(j, "schedule", {"every_s", "keep", "dir", "with_state", "compress"}));
  BackupScheduleSpec s;
  s.every_s = TRY(json::get_uint(j, "schedule", "every_s"));
  if (s.every_s < 1 || s.every_s > kMaxEvery) return fail(EINVAL, "schedule.every_s: {} is not in 1..{} (366 days)", s.every_s, kMaxEvery);
  uint64_t keep = TRY(json::get_uint(j, "schedule", "keep"));
  if (keep < 1 || keep > kMaxKeep) return fail(EINVAL, "schedule.keep: {} is not in 1..{}", keep, kMaxKeep);
  s.keep = static_cast<uint32_t>(keep);
  s.dir = TRY(json::get_string(j, "schedule", "dir"));
  if (s.dir.empty() || s.dir[0] != '/' || s.dir.size() > 4096 || s.dir.find('\0') != std::string::npos)
    return fail(EINVAL, "schedule.dir: '{}' is not an absolute path", s.dir.substr(0, 200));
  s.with_state = TRY(json::opt_bool(j, "schedule", "with_state")).value_or(false);
  auto compress = TRY(json::opt_string(j, "schedule", "compress")).value_or("none");
  if (compress != "none" && compress != "zstd") return fail(EINVAL, "schedule.compress: expected zstd or none");
  s.zstd = compress == "zstd";
  return s;
}

Result<BackupScheduleSpec> parse_backup_schedule_text(std::string_view text) {
  return parse_backup_schedule(TRY_CTX(json::parse(text, 1 << 16), "backup schedule"));
}

json::Json to_json(const BackupScheduleSpec& s) {
  return {{"every_s", s.every_s}, {"keep", s.keep}, {"dir", s.dir}, {"with_state", s.with_state},
          {"compress", s.zstd ? "zstd" : "none"}};
}

std::string backup_file_name(const std::string& instance, std::time_t when, bool zstd) {
  std::tm tm{};
  ::gmtime_r(&when, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  return instance + "-" + stamp + (zstd ? ".tar.zst" : ".tar");
}

bool is_backup_file_of(std::string_view file, std::string_view instance) {
  if (file.size() <= instance.size() + 1 || file.substr(0, instance.size()) != instance || file[instance.size()] != '-')
    return false;
  std::string_view rest = file.substr(instance.size() + 1);
  if (rest.size() < kStampSize || !is_stamp(rest.substr(0, kStampSize))) return false;
  std::string_view ext = rest.substr(kStampSize);
  return ext == ".tar" || ext == ".tar.zst";
}

std::vector<std::string> backups_beyond(const std::vector<std::string>& files, const std::string& instance,
                                        uint32_t keep) {
  std::vector<std::string> mine;
  for (const auto& f : files)
    if (is_backup_file_of(f, instance)) mine.push_back(f);
  // The stamp right after "NAME-" orders them; the extension does not matter.
  std::sort(mine.begin(), mine.end());
  if (mine.size() <= keep) return {};
  mine.resize(mine.size() - keep);
  return mine;
}

}  // namespace vessel::daemon
