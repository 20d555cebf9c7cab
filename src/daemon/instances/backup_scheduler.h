// Runs scheduled backups (docs/daemon/backup.md#schedules): each schedule's export on its
// timer thread (health/timer_thread.h; the export itself on a spawned thread, so that one slow
// export never delays another schedule), into DIR/NAME-STAMP.tar through a temporary name, then
// the retention: the schedule's archives beyond the newest `keep` are removed. Schedules live in
// the store, so they survive vesseld's restarts; deleting the instance forgets its schedule.
#pragma once

#include <functional>
#include <string>

#include "base/json.h"
#include "daemon/health/events.h"
#include "daemon/health/timer_thread.h"
#include "daemon/instances/backup_schedule.h"
#include "daemon/instances/manager.h"
#include "daemon/store/store.h"

namespace vessel::daemon {

// Writes a backup into DIR/FILE through DIR/.FILE.partial, synced, then renamed: a reader (an
// import, another node) sees a whole archive or none. DIR is made if missing.
Result<void> write_backup_file(const std::string& dir, const std::string& file,
                               const std::function<Result<json::Json>(int fd)>& export_to);

class BackupScheduler {
 public:
  // Writes the backup of `name` to the fd (Manager::export_instance).
  using ExportFn = std::function<Result<json::Json>(const std::string& name, const BackupExportOptions&, int fd)>;
  BackupScheduler(Store& store, EventBus& events, ExportFn export_fn);

  // Arms every stored schedule: due ones (or never run) at once, the others when they are due.
  void start();
  // Sets (or replaces) `name`'s schedule; its first backup is taken at once.
  Result<json::Json> set(const std::string& name, const BackupScheduleSpec& spec);
  // ENOENT when `name` has none.
  Result<void> remove(const std::string& name);
  // [{instance, every_s, keep, dir, with_state, compress, last_run, last_file, last_error}]
  Result<json::Json> list();
  // The archives in each schedule's directory (of `name` only, when given), newest first:
  // [{instance, file, path, size, time}].
  Result<json::Json> backups(const std::string& name);

 private:
  void arm(const std::string& name, std::chrono::milliseconds delay);
  void run(const std::string& name);
  // One backup of `name` into spec.dir; the file's name.
  Result<std::string> take(const std::string& name, const BackupScheduleSpec& spec);

  Store& store_;
  EventBus& events_;
  ExportFn export_;
  TimerThread timers_;  // last: joined first, while the rest still exists
};

}  // namespace vessel::daemon
