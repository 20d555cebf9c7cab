#include "daemon/instances/backup_scheduler.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "base/fd.h"
#include "base/log.h"

namespace vessel::daemon {

namespace {

namespace fs = std::filesystem;

int64_t now_s() { return static_cast<int64_t>(::time(nullptr)); }

std::string key_of(const std::string& name) { return "backup/" + name; }

Result<std::optional<std::pair<BackupScheduleRow, BackupScheduleSpec>>> find(Store& store, const std::string& name) {
  for (auto& row : TRY(store.list_backup_schedules()))
    if (row.instance == name) {
      auto spec = TRY_CTX(parse_backup_schedule_text(row.spec), "the stored backup schedule of {}", name);
      return std::optional(std::make_pair(std::move(row), spec));
    }
  return std::optional<std::pair<BackupScheduleRow, BackupScheduleSpec>>();
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path().filename().string());
  return out;
}

}  // namespace

BackupScheduler::BackupScheduler(Store& store, EventBus& events, ExportFn export_fn)
    : store_(store), events_(events), export_(std::move(export_fn)) {}

void BackupScheduler::start() {
  auto rows = store_.list_backup_schedules();
  if (!rows) {
    log::error("backup schedules: {}", rows.error().to_string());
    return;
  }
  for (const auto& row : *rows) {
    auto spec = parse_backup_schedule_text(row.spec);
    if (!spec) {
      log::error("backup schedule of {}: {}", row.instance, spec.error().to_string());
      continue;
    }
    int64_t due = row.last_run == 0 ? 0 : row.last_run + static_cast<int64_t>(spec->every_s) - now_s();
    arm(row.instance, std::chrono::seconds(std::max<int64_t>(due, 0)));
  }
}

Result<json::Json> BackupScheduler::set(const std::string& name, const BackupScheduleSpec& spec) {
  TRY(store_.set_backup_schedule(name, to_json(spec).dump()));
  events_.publish({{"type", "backup-scheduled"}, {"name", name}, {"every_s", spec.every_s}, {"keep", spec.keep}});
  arm(name, std::chrono::milliseconds(0));
  json::Json j = to_json(spec);
  j["instance"] = name;
  return j;
}

Result<void> BackupScheduler::remove(const std::string& name) {
  if (!TRY(store_.delete_backup_schedule(name)))
    return Unexpected(Error(ENOENT, fmt::format("{} has no backup schedule", name)).with_hint("see `vessel backup schedule ls`"));
  timers_.cancel(key_of(name));
  events_.publish({{"type", "backup-unscheduled"}, {"name", name}});
  return {};
}

Result<json::Json> BackupScheduler::list() {
  json::Json out = json::Json::array();
  for (const auto& row : TRY(store_.list_backup_schedules())) {
    json::Json j = json::parse(row.spec).value_or(json::Json::object());
    j["instance"] = row.instance;
    j["last_run"] = row.last_run;
    j["last_file"] = row.last_file;
    j["last_error"] = row.last_error;
    out.push_back(std::move(j));
  }
  return out;
}

Result<json::Json> BackupScheduler::backups(const std::string& name) {
  json::Json out = json::Json::array();
  for (const auto& row : TRY(store_.list_backup_schedules())) {
    if (!name.empty() && row.instance != name) continue;
    auto spec = parse_backup_schedule_text(row.spec);
    if (!spec) continue;
    auto files = names_in(spec->dir);
    std::sort(files.rbegin(), files.rend());
    for (const auto& f : files) {
      if (!is_backup_file_of(f, row.instance)) continue;
      struct stat st;
      std::string path = spec->dir + "/" + f;
      if (::stat(path.c_str(), &st) != 0) continue;
      out.push_back({{"instance", row.instance}, {"file", f}, {"path", path}, {"size", st.st_size},
                     {"time", static_cast<int64_t>(st.st_mtime)}});
    }
  }
  return out;
}

void BackupScheduler::arm(const std::string& name, std::chrono::milliseconds delay) {
  // The timer thread only hands the export to a thread of its own.
  timers_.schedule(key_of(name), delay, [this, name] { timers_.spawn([this, name] { run(name); }); });
}

void BackupScheduler::run(const std::string& name) {
  auto found = find(store_, name);
  if (!found || !*found) return;  // removed meanwhile (or its instance deleted)
  const auto& spec = (*found)->second;
  int64_t started = now_s();
  auto file = take(name, spec);
  if (file) {
    events_.publish({{"type", "backup-done"}, {"name", name}, {"file", *file}});
    log::info("{}: scheduled backup {}", name, *file);
  } else {
    events_.publish({{"type", "backup-failed"}, {"name", name}, {"error", file.error().to_string()}});
    log::warn("{}: scheduled backup failed: {}", name, file.error().to_string());
  }
  if (auto recorded = store_.record_backup_run(name, started, file ? *file : "", file ? "" : file.error().to_string());
      !recorded)
    log::warn("{}: record the backup run: {}", name, recorded.error().to_string());
  if (!timers_.stopping()) arm(name, std::chrono::seconds(spec.every_s));
}

Result<void> write_backup_file(const std::string& dir, const std::string& file,
                               const std::function<Result<json::Json>(int fd)>& export_to) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail(ec.value(), "create {}: {}", dir, ec.message());
  std::string tmp = dir + "/." + file + ".partial";
  auto written = [&]() -> Result<void> {
    Fd out = TRY(Fd::open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    TRY(export_to(out.get()));
    if (::fsync(out.get()) != 0) return fail_errno("fsync {}", tmp);
    if (::rename(tmp.c_str(), (dir + "/" + file).c_str()) != 0) return fail_errno("rename {}", tmp);
    return {};
  }();
  if (!written) ::unlink(tmp.c_str());
  return written;
}

Result<std::string> BackupScheduler::take(const std::string& name, const BackupScheduleSpec& spec) {
  std::string file = backup_file_name(name, ::time(nullptr), spec.zstd);
  TRY(write_backup_file(spec.dir, file, [&](int fd) { return export_(name, BackupExportOptions{spec.with_state, spec.zstd}, fd); }));
  for (const auto& old : backups_beyond(names_in(spec.dir), name, spec.keep))
    if (::unlink((spec.dir + "/" + old).c_str()) != 0) log::warn("{}: remove old backup {}: {}", name, old, std::strerror(errno));
  return file;
}

}  // namespace vessel::daemon
