// The daemon's durable state: one SQLite database (WAL, synchronous=FULL) with a versioned schema.
//
// Every mutation is committed before the daemon answers the client, so an acknowledged operation
// survives a crash of vesseld. A database that is corrupt or was written by a newer vesseld is
// refused, never recreated: the operator decides what to do with it.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "daemon/spec/id_range.h"
#include "daemon/spec/restart_spec.h"

namespace vessel::daemon {

// The schema version this build writes; older databases are migrated forward on open.
inline constexpr int kSchemaVersion = 10;

struct InstanceRow {
  std::string name;
  std::string type;   // "vm" | "container"
  std::string spec;   // the instance's spec as JSON (spec/spec.h)
  std::string state;  // instances/state.h
  int64_t pid = 0;        // the guest's process (vessel-vmm or the container's init); 0 when none
  int64_t pid_start = 0;  // its start time in clock ticks since boot (guards against PID reuse)
  int64_t created_at = 0; // unix seconds
  int64_t updated_at = 0;
  // How the guest last ended (docs/daemon/console.md): the exit status of the VM (vessel-vmm's) or of
  // the container's process; none while it runs, or when nobody could learn it.
  std::optional<int64_t> exit_code;
  std::string exit_reason;  // poweroff, reboot, panic, error, debug-exit, exited, signal, killed, ...
  int64_t started_at = 0;   // unix seconds: when the last run began; 0: never started
  int64_t finished_at = 0;  // when it last ended; 0: never
  bool oom_killed = false;  // the kernel's OOM killer struck in its cgroup during the last run
};

struct ImageRow {
  std::string name;
  std::string type;    // "vm" | "container"
  std::string digest;  // sha256:... of the manifest (containers) or of the kernel (VMs)
  std::string info;    // JSON: layers, config, files
  int64_t created_at = 0;
};

// A network (daemon/network/network_spec.h keeps its spec as JSON).
struct NetworkRow {
  std::string name;
  std::string spec;
  int64_t created_at = 0;
};

// A named object kept as JSON: a pool (daemon/policy/pool_spec.h; docs/daemon/pools.md; its
// members are the instances whose spec names it) or a volume (docs/daemon/volumes.md; its labels).
struct SpecRow {
  std::string name;
  std::string spec;
  int64_t created_at = 0;
};
using PoolRow = SpecRow;
using VolumeRow = SpecRow;

// The address an instance holds on a network, from its create until its delete.
struct AddressRow {
  std::string instance;
  std::string network;
  std::string address;
};

// A scheduled backup of an instance (docs/daemon/backup.md#schedules); its spec as JSON
// (instances/backup_schedule.h), and how its last run went.
struct BackupScheduleRow {
  std::string instance;
  std::string spec;
  int64_t last_run = 0;  // unix seconds; 0: never ran
  std::string last_file;
  std::string last_error;
  int64_t created_at = 0;
};

class Store {
 public:
  // Opens (creating if absent) the database at `path`. Refuses a corrupt database and one whose
  // schema version is newer than kSchemaVersion.
  static Result<std::unique_ptr<Store>> open(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  int schema_version();

  // EEXIST when the name is taken (exactly one of two concurrent creates wins).
  Result<void> insert_instance(const InstanceRow& row);
  Result<std::optional<InstanceRow>> get_instance(const std::string& name);
  Result<std::vector<InstanceRow>> list_instances();
  Result<void> update_instance_state(const std::string& name, const std::string& state, int64_t pid,
                                     int64_t pid_start);
  Result<void> delete_instance(const std::string& name);
  // Records how and when the guest ended (code none = unknown).
  Result<void> set_instance_exit(const std::string& name, std::optional<int64_t> code, const std::string& reason,
                                 bool oom_killed = false);
  // A new run begins: forgets how the last one ended and records when this one started.
  Result<void> clear_instance_exit(const std::string& name);

  // The user-namespace range `name` holds (none: it runs with the host's ids). Deleting the
  // instance frees it.
  Result<std::optional<IdRange>> id_range(const std::string& name);
  // Gives `name` the range `pick` chooses, shown every range that instances hold, as one step:
  // two creates never get overlapping ranges, and a restarted vesseld sees what live ones hold.
  // ENOSPC when `pick` finds none.
  // How many ranges instances hold (vesseld opens its state dir to them even without a pool).
  Result<size_t> id_range_count();
  using IdPicker = std::function<std::optional<IdRange>(const std::vector<IdRange>& taken)>;
  Result<IdRange> allocate_id_range(const std::string& name, const IdPicker& pick);

  // Networks (docs/daemon/networks.md). EEXIST when the name is taken; delete_network is EBUSY
  // (naming them) while instances hold addresses on it.
  Result<void> insert_network(const NetworkRow& row);
  Result<std::optional<NetworkRow>> get_network(const std::string& name);
  Result<std::vector<NetworkRow>> list_networks();
  Result<void> delete_network(const std::string& name);
  // Gives instance `name` on `network` the address `pick` chooses from those taken there, as one
  // step (two creates never get one address). ENOSPC when `pick` finds none.
  using AddressPicker = std::function<std::optional<std::string>(const std::vector<std::string>& taken)>;
  Result<std::string> allocate_address(const std::string& name, const std::string& network, const AddressPicker& pick);
  Result<std::optional<AddressRow>> address_of(const std::string& name);
  // Every allocation (empty network: of all networks).
  Result<std::vector<AddressRow>> list_addresses(const std::string& network = "");

  // Pools (docs/daemon/pools.md). EEXIST when the name is taken, ENOENT when there is none.
  Result<void> insert_pool(const PoolRow& row);
  Result<std::optional<PoolRow>> get_pool(const std::string& name);
  Result<std::vector<PoolRow>> list_pools();
  Result<void> update_pool(const std::string& name, const std::string& spec);
  Result<void> delete_pool(const std::string& name);
  // Volumes (docs/daemon/volumes.md): EEXIST when the name is taken, ENOENT when there is none.
  // Which instances use one is in their specs.
  Result<void> insert_volume(const VolumeRow& row);
  Result<std::optional<VolumeRow>> get_volume(const std::string& name);
  Result<std::vector<VolumeRow>> list_volumes();
  Result<void> delete_volume(const std::string& name);
  // What the restart policy remembers of `name` (docs/daemon/restart.md); the defaults when
  // nothing was recorded. Deleting the instance forgets it.
  Result<RestartState> restart_state(const std::string& name);
  Result<void> set_restart_state(const std::string& name, const RestartState& state);

  // Scheduled backups, one per instance (replaced by a new one); deleting the instance forgets
  // it. ENOENT when there is no such instance; delete answers whether there was a schedule.
  Result<void> set_backup_schedule(const std::string& name, const std::string& spec);
  Result<std::vector<BackupScheduleRow>> list_backup_schedules();
  Result<void> record_backup_run(const std::string& name, int64_t when, const std::string& file,
                                 const std::string& error);
  Result<bool> delete_backup_schedule(const std::string& name);

  Result<void> insert_image(const ImageRow& row);
  Result<std::optional<ImageRow>> get_image(const std::string& name);
  Result<std::vector<ImageRow>> list_images();
  Result<void> delete_image(const std::string& name);

 private:
  explicit Store(sqlite3* db) : db_(db) {}
  Result<void> exec(const std::string& sql);
  Result<void> migrate();
  // The pools' and volumes' tables: (name, spec, created_at). `table` is one of ours, never input;
  // `what` names the kind in errors ("pool").
  Result<void> insert_spec_row(const char* table, const char* what, const SpecRow& row);
  Result<std::optional<SpecRow>> get_spec_row(const char* table, const char* what, const std::string& name);
  Result<std::vector<SpecRow>> list_spec_rows(const char* table, const char* what);
  Result<void> delete_spec_row(const char* table, const char* what, const std::string& name);

  std::mutex mutex_;  // one connection, serialized: SQLite's own locking stays simple
  sqlite3* db_;
};

// Maps an SQLite result code to an Error with a matching errno (ENOSPC for a full disk, ...).
Error sqlite_error(sqlite3* db, int rc, const std::string& what);

}  // namespace vessel::daemon
