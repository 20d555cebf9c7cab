// Scheduled backups (docs/daemon/backup.md#schedules): what `vessel backup schedule` asks for,
// the archive names the schedule writes, and which of them its retention removes. Pure.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/json.h"

namespace vessel::daemon {

struct BackupScheduleSpec {
  uint64_t every_s = 0;     // 1 s .. 366 days
  uint32_t keep = 0;        // 1 .. 10000 archives kept; older ones are removed
  std::string dir;          // absolute: where the archives go (made if missing)
  bool with_state = false;  // as `vessel export --with-state`
  bool zstd = false;
};

Result<BackupScheduleSpec> parse_backup_schedule(const json::Json& body);
Result<BackupScheduleSpec> parse_backup_schedule_text(std::string_view text);
json::Json to_json(const BackupScheduleSpec& spec);

// NAME-YYYYMMDDTHHMMSSZ.tar (or .tar.zst), the time in UTC: names sort in time order.
std::string backup_file_name(const std::string& instance, std::time_t when, bool zstd);
// Is `file` one of `instance`'s scheduled archives (exactly that pattern; "web-2-..." is not web's)?
bool is_backup_file_of(std::string_view file, std::string_view instance);
// Of `files` (names in the schedule's directory), `instance`'s archives beyond the newest `keep`,
// oldest first.
std::vector<std::string> backups_beyond(const std::vector<std::string>& files, const std::string& instance,
                                        uint32_t keep);

}  // namespace vessel::daemon
