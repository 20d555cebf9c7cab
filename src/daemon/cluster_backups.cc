#include "daemon/cluster_backups.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "base/log.h"
#include "daemon/images/tar_reader.h"
#include "daemon/instances/backup_scheduler.h"
#include "daemon/spec/cluster_copy.h"

namespace vessel::daemon {

namespace fs = std::filesystem;

namespace {
// Which file is at `path`: a regular file's inode, size and modification time ("" for none).
std::string file_identity(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return {};
  return fmt::format("{}:{}:{}:{}.{}", st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}
}  // namespace

ClusterBackups::ClusterBackups(Manager& manager, const cluster::Membership& member, ClusterFence& fence,
                               std::string dir, std::chrono::seconds every)
    : manager_(manager), member_(member), fence_(fence), desired_(member.etcd()), dir_(std::move(dir)), every_(every) {
  runner_ = std::thread([this] { run(); });
}

ClusterBackups::~ClusterBackups() {
  stop_.stop();
  if (runner_.joinable()) runner_.join();
}

void ClusterBackups::run() {
  while (!stop_.wait_for(every_)) take_all();
}

void ClusterBackups::take_all() {
  std::lock_guard lock(taking_);
  if (!fence_.safe()) return;
  auto list = desired_.list();
  if (!list) return log::debug("cluster: backups: {}", list.error().to_string());
  std::set<std::string> here;
  for (const auto& record : list->records) {
    if (record.storage != "backup" || record.node != member_.name() || !record.moving_to.empty()) continue;
    here.insert(record.name);
    if (auto taken = take(record); !taken)
      log::warn("cluster: backup of {} (generation {}) into {}: {}", record.name, record.generation, dir_,
                taken.error().to_string());
  }
  std::erase_if(at_rest_, [&](const auto& kv) { return !here.contains(kv.first); });
}

Result<void> ClusterBackups::take(const cluster::InstanceRecord& record) {
  auto rows = TRY(manager_.rows());
  auto row = std::find_if(rows.begin(), rows.end(), [&](const InstanceRow& r) { return r.name == record.name; });
  if (row == rows.end()) return {};  // not made here yet
  auto spec = json::parse(row->spec);
  if (!spec || cluster_generation(*spec) != record.generation) return {};  // not this generation's copy
  std::string file = fmt::format("{}.g{}.tar", record.name, record.generation);
  if (still_current(record, dir_ + "/" + file)) return {};
  auto started = std::chrono::steady_clock::now();
  ExportBasis basis;
  BackupExportOptions options;
  options.basis = &basis;
  at_rest_.erase(record.name);
  TRY(write_backup_file(dir_, file, [&](int fd) { return manager_.export_instance(record.name, options, fd); }));
  if (basis.state == to_string(State::Stopped) || basis.state == to_string(State::Created))
    at_rest_[record.name] = AtRest{record.generation, std::move(basis), file_identity(dir_ + "/" + file)};
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  log::debug("cluster: backed up {} into {}/{} ({} ms)", record.name, dir_, file, ms);
  std::error_code ec;
  // Older generations' archives are superseded, and what their owners left half-written (a node
  // killed mid-write) will never be finished: they no longer own the instance.
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    std::string name = entry.path().filename().string();
    auto generation = cluster_backup_generation(name, record.name);
    if (!generation) generation = cluster_partial_backup_generation(name, record.name);
    if (generation && *generation < record.generation) fs::remove(entry.path(), ec);
  }
  return {};
}

bool ClusterBackups::still_current(const cluster::InstanceRecord& record, const std::string& path) {
  auto last = at_rest_.find(record.name);
  if (last == at_rest_.end() || last->second.generation != record.generation) return false;
  auto now = manager_.export_basis(record.name);
  if (!now || *now != last->second.basis || file_identity(path) != last->second.file) return false;
  log::debug("cluster: {} is at rest and unchanged since its backup {}: not exported again", record.name, path);
  return true;
}

std::optional<std::string> ClusterBackups::latest(const std::string& name) const {
  std::optional<std::pair<int64_t, std::string>> best;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    std::string file = entry.path().filename().string();
    auto generation = cluster_backup_generation(file, name);
    if (generation && (!best || *generation > best->first)) best = std::pair(*generation, entry.path().string());
  }
  if (!best) return std::nullopt;
  return best->second;
}

Result<void> ClusterBackups::restore(const json::Json& spec, const std::string& path, bool start) {
  BackupImportOptions options;
  options.spec = spec;
  auto in = TRY(open_tar(path));
  auto imported = TRY_CTX(manager_.import_instance(in.get(), options), "restore from {}", path);
  std::string name = imported.value("name", std::string());
  if (start) TRY_CTX(manager_.act(name, Action::Start), "start {} restored from {}", name, path);
  return {};
}

}  // namespace vessel::daemon
