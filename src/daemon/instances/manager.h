// The instance manager: the one place that applies the lifecycle state machine. It checks each
// transition, drives the backend, commits the new state to the store before answering, publishes
// an event, and reconciles the store with what actually runs when vesseld starts.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>

#include "base/error.h"
#include "base/json.h"
#include "daemon/health/events.h"
#include "daemon/health/monitor.h"
#include "daemon/network/networks.h"
#include "daemon/instances/backend.h"
#include "daemon/instances/pool_hooks.h"
#include "daemon/instances/migrate_request.h"
#include "daemon/instances/health_checker.h"
#include "daemon/instances/incoming_tls_stream.h"
#include "daemon/instances/restart_supervisor.h"
#include "daemon/instances/stamped_mutex.h"
#include "daemon/instances/start_guard.h"
#include "daemon/instances/state.h"
#include "daemon/instances/mount_sources.h"
#include "daemon/instances/volumes.h"
#include "daemon/policy/capacity.h"
#include "daemon/store/store.h"

namespace vessel::daemon {

class ImageStore;

struct ManagerConfig {
  std::string state_dir;          // instances live in <state_dir>/instances/<name>
  std::string cgroup_parent = "vessel";
  Capacity capacity;
  Overcommit overcommit;
  LogLimits log;  // instances' log cap unless their spec has one (vesseld --log-opt)
  std::optional<IdPool> userns_pool;  // --userns=auto ranges (vesseld --userns-pool, /etc/subuid)
};

struct ActOptions {
  bool force = false;
  std::optional<uint32_t> timeout_s;  // stop: graceful period (default: the spec's)
  bool leave_running = false;         // checkpoint: the container goes on running
  std::string export_path;            // checkpoint: also write it to this host file
  std::string import_path;            // restore: from this host file (a stopped or created container)
  bool by_policy = false;             // start/restart: the restart policy's, not the user's (restart.md)
};

// Backups (backup.cc, docs/daemon/backup.md).
// What a plain export of an instance is made of, short of its files' bytes: its state, stored spec,
// image digest, and the stamp of its lock (stamped_mutex.h). Two equal bases of a created or
// stopped instance export the same files (ClusterBackups skips the second, docs/cluster.md#storage).
struct ExportBasis {
  std::string state, spec, image_digest;
  uint64_t stamp = 0;
  bool operator==(const ExportBasis&) const = default;
};
struct BackupExportOptions {
  bool with_state = false;  // a checkpointed container's CRIU images too
  bool zstd = false;        // the archive zstd-compressed
  ExportBasis* basis = nullptr;  // when set: filled with what this export was made of
};
struct BackupImportOptions {
  std::string name;     // the new instance's name; empty: the backup's
  std::string network;  // instead of the backup's network; empty: the backup's
  // Instead of the backup's spec (a clustered copy restored at its new generation,
  // docs/cluster.md#storage); the backup's files are given to the instance it makes.
  std::optional<json::Json> spec;
  bool admin = true;    // only an admin may import a saved state (CRIU restores it as root)
  BackupLimits limits;
};

class Manager {
 public:
  // `networks`: instances' networks (none: every instance gets --network none, as before networks).
  Manager(ManagerConfig config, Store& store, EventBus& events, ImageStore& images, Backend& containers, Backend& vms,
          Networks* networks = nullptr);
  ~Manager();

  // Adopts running guests and marks dead ones stopped; call once before serving.
  void reconcile();

  // Can this host start an instance of this kind at all? (VMs: host check; see Backend::preflight)
  Result<void> preflight(const InstanceSpec& spec) { return backend_for(spec).preflight(); }
  Result<json::Json> create(const InstanceSpec& spec);
  // create, then start with what create resolved (POST /v1/instances?start=1): the spec's image
  // is resolved and its disks prepared once. A --rm instance whose start fails is removed;
  // `hold_removal`: once stopped, it stays until release_removal() (auto_remove.cc).
  Result<json::Json> run(const InstanceSpec& spec, bool hold_removal = false);
  // A wait on `name` answered: the hold run() took ends, and a stopped --rm instance goes.
  void release_removal(const std::string& name);
  Result<json::Json> act(const std::string& name, Action action, const ActOptions& options = {});
  Result<void> remove(const std::string& name, bool force);
  // remove(), then the instance's anonymous volumes (--rm, `rm -v`; anonymous_volumes.cc).
  Result<void> remove_with_volumes(const std::string& name, bool force);
  // `vessel kill -s SIG` (kill.cc): EBUSY unless it runs; a VM takes only KILL.
  Result<json::Json> kill(const std::string& name, int sig);
  Result<json::Json> get(const std::string& name);
  Result<json::Json> list();
  Result<ExecResult> exec(const std::string& name, const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = std::chrono::minutes(10));
  Result<ExecSession> exec_session(const std::string& name, const ExecOptions& options);
  // The VM's console socket (vessel-vmm --console-sock), a container's terminal or stdin socket
  // (vessel-shim's), when it runs.
  Result<std::string> console_socket(const std::string& name);
  // A running container's terminal (-t) gets a new size; its foreground processes get SIGWINCH.
  Result<void> resize_terminal(const std::string& name, uint16_t rows, uint16_t cols);
  Result<json::Json> stats(const std::string& name);
  // vessel cp (docs/daemon/cp.md): runs `fn` with the instance's root directory on the host and
  // its user-namespace range (none: host ids), under the instance's lock. A stopped container's
  // root filesystem is mounted for the call. VMs: ENOTSUP (use the agent, vm_files.h).
  using FilesFn = std::function<Result<void>(const std::string& root, const std::optional<IdRange>& userns)>;
  Result<void> with_files(const std::string& name, const FilesFn& fn);
  // Is `name` a VM (for the archive routes, which reach VMs through their agent)?
  Result<bool> is_vm(const std::string& name);
  // A running VM's vsock socket, where its vessel-agent is reached (docs/vmm/agent.md).
  Result<std::string> agent_socket(const std::string& name);
  Result<std::string> log_path(const std::string& name);
  // Does the instance still have a guest process (for logs --follow)?
  bool active(const std::string& name);
  Result<std::vector<InstanceRow>> rows() { return store_.list_instances(); }
  // Named snapshots of a VM: memory, devices and disks at one instant (snapshots.cc,
  // docs/daemon/snapshots.md). `snap` empty: snapN. `memory` false: the disks only.
  Result<json::Json> snapshot_create(const std::string& name, const std::string& snap, bool memory);
  Result<json::Json> snapshot_list(const std::string& name);
  Result<json::Json> snapshot_restore(const std::string& name, const std::string& snap);
  Result<void> snapshot_remove(const std::string& name, const std::string& snap);
  // Live migration (migrate.cc, docs/daemon/migrate.md). The source: sends the running VM `name`
  // to the destination vesseld and forgets it once it runs there; `progress` hears each step.
  // The destination: receive() makes the incoming instance and its listening vessel-vmm;
  // finish_incoming() marks it running (commit) or removes it (abort).
  using MigrateProgress = std::function<void(const json::Json&)>;
  Result<json::Json> migrate(const std::string& name, const MigrateRequest& request, const MigrateProgress& progress = {});
  // `client_cert_sha256`: the certificate the request came with (TLS), the only one a stream
  // inside TLS (request.tls) takes.
  Result<json::Json> receive(const IncomingRequest& request, const std::string& client_cert_sha256 = {});
  Result<json::Json> finish_incoming(const std::string& name, bool commit);
  // Writes the backup of `name` to `out_fd`: created, stopped and saved instances as they are, a
  // running container frozen while its changes are packed; a running VM is refused (stop it).
  // Answers what was written: {name, type, state, with_state, bytes, files: [{name, size}]}.
  Result<json::Json> export_instance(const std::string& name, const BackupExportOptions& options, int out_fd,
                                     const BackupProgress& progress = {});
  // The basis an export of `name` would have now (its stamp read without taking the lock).
  Result<ExportBasis> export_basis(const std::string& name);
  // Makes an instance from a backup read from `in`, everything verified before it is created;
  // any failure leaves nothing behind. Answers the instance (as GET /v1/instances/NAME).
  Result<json::Json> import_instance(archive* in, const BackupImportOptions& options,
                                     const BackupProgress& progress = {});
  const ManagerConfig& config() const { return config_; }
  std::string cgroup_of(const std::string& name) const;
  // Pools (docs/daemon/pools.md): admission into a member's pool, its cgroup below the pool's,
  // and a re-allocation on each of its state changes. Unset: specs naming a pool are refused.
  void set_pool_hooks(PoolHooks* pools) { pools_ = pools; }
  // Named volumes (docs/daemon/volumes.md); unset: a spec that mounts one is refused.
  void set_volumes(Volumes* volumes) { volumes_ = volumes; }
  // Told around every start (start_guard.h; the cluster's fence); null: none. Waits for the
  // starts under way to end, so that a guard being unset is not called any more once this returns.
  void set_start_guard(StartGuard* guard);

 private:
  struct Entry {
    StampedMutex mutex;  // serializes operations on one instance; each one takes a new stamp
    std::optional<GuestProcess> process;
    // Held while an export has the container frozen, and by an exec until its process started (a
    // plain exec: until it ended): the runtime refuses to exec in a paused container.
    std::mutex export_freeze;
    std::unique_ptr<IncomingTlsStream> incoming_stream;  // an incoming migration's stream inside TLS
  };
  std::shared_ptr<Entry> entry(const std::string& name);
  // The digest of the image `spec` names, as the store finds it ("" for none): part of ExportBasis.
  Result<std::string> image_digest_of(const InstanceSpec& spec);
  Backend& backend_for(const InstanceSpec& spec) { return spec.type == InstanceType::Vm ? vms_ : containers_; }
  std::string dir_of(const std::string& name) const { return config_.state_dir + "/instances/" + name; }
  Result<std::pair<InstanceRow, InstanceSpec>> load(const std::string& name);
  // What `spec` boots from: its image resolved and, for a VM, its disks prepared in `dir`.
  Result<BootSource> boot_source(const InstanceSpec& spec, const std::string& dir);
  // create() without the answer: what the new instance boots from.
  Result<BootSource> create_instance(const InstanceSpec& spec);
  // --userns=auto: a range of the pool for the new instance `name` (freed when it is deleted).
  Result<void> allocate_userns(const InstanceSpec& spec);
  // The range a --userns=auto instance holds; none for the host's ids.
  Result<std::optional<IdRange>> userns_of(const InstanceSpec& spec);
  Result<json::Json> act(const std::string& name, Action action, const ActOptions& options, const BootSource* resolved);
  // `resolved`: what create_instance() found (a run); null resolves the spec now.
  // `restoring`: from what Backend::save() left (resume/restore), not a fresh boot.
  Result<void> start_locked(Entry& e, const InstanceRow& row, const InstanceSpec& spec, const BootSource* resolved,
                            bool restoring = false);
  // A start the guard was told of (start_guard.cc): keeps set_start_guard waiting while it lasts,
  // and tells the guard when it ends.
  struct ToldStart {
    std::shared_lock<std::shared_mutex> lock;
    StartGuard* guard = nullptr;
    std::string name;
    ~ToldStart() {
      if (guard) guard->started(name);
    }
  };
  Result<std::unique_ptr<ToldStart>> tell_start(const std::string& name, const InstanceSpec& spec, const std::string& cgroup);
  // Suspend and checkpoint (suspend.cc, docs/daemon/suspend.md).
  Result<void> save_locked(Entry& e, const InstanceRow& row, const InstanceSpec& spec, Action action,
                           const ActOptions& options);
  Result<void> restore_locked(Entry& e, const InstanceRow& row, const InstanceSpec& spec);
  Result<void> discard_saved_locked(const InstanceRow& row, const InstanceSpec& spec);
  // restore --import: the file becomes the instance's checkpoint; `row.state` is then checkpointed.
  Result<void> import_locked(InstanceRow& row, const InstanceSpec& spec, const std::string& path);
  // checkpoint --export: what the backend saved, as a tar in `path` (none: nothing to do).
  Result<void> export_to(const InstanceSpec& spec, const InstanceContext& ctx, const std::string& path);
  // Admission (admission.cc): the CPU and memory reserved by every instance but `except` that
  // holds resources (running, paused, or being started); created, stopped and saved ones hold none.
  Result<std::vector<Reservation>> reservations(const std::string& except);
  // A start is admitted beside the holders; until end_start() the instance counts as starting.
  // Returns the CPU weight it starts with (a pool member's from its pool's plan).
  // --rm (auto_remove.cc).
  Result<json::Json> run_instance(const InstanceSpec& spec);
  void remove_if_auto(const std::string& name);
  void forget_removal_holds(const std::string& name);
  void remove_stopped_auto_removed();  // at reconcile: those that stopped while vesseld was down
  Result<uint32_t> admit_start(const std::string& name, const InstanceSpec& spec, bool restoring);
  void end_start(const std::string& name);
  // The member's pool exists and has room for it (none named: nothing to check); the CPU weight
  // it starts with.
  Result<uint32_t> admit_to_pool(const InstanceSpec& spec);
  // Backups (backup.cc): may `row` be exported now (with its saved state)?
  Result<void> exportable(const InstanceRow& row, const InstanceSpec& spec, bool with_state);
  // The spec a backup's instance gets here: renamed, on another network, its image checked.
  Result<InstanceSpec> spec_for_import(const BackupManifest& manifest, const BackupImportOptions& options);
  // The verified files in `staging` into the instance just created from `spec`.
  Result<void> restore_backup(const InstanceSpec& spec, const BootSource& boot, const std::string& staging,
                              const BackupManifest& manifest);
  // The container's image saved into `dir` for the backup (none for VMs, or when it cannot be
  // saved); on import, the carried image made into the store when it lacks spec.image (true).
  Result<std::optional<BackupPart>> image_part(const InstanceSpec& spec, const std::string& dir);
  Result<bool> import_carried_image(const InstanceSpec& spec, const std::string& staging, const BackupManifest& manifest);
  // Staging directories of imports a crash interrupted are removed at start.
  void remove_stale_imports();
  // An incoming instance found at start-up: adopted if its vessel-vmm runs the VM, else removed.
  void reconcile_incoming(const InstanceRow& row, const InstanceSpec& spec);
  // The incoming instance goes: its vessel-vmm killed, its record and directory removed.
  void drop_incoming(Entry& e, const InstanceSpec& spec, const char* why);
  // The migrated instance is gone from here: its record and directory, after its VMM ended.
  void forget_migrated(Entry& e, const InstanceSpec& spec, const std::string& destination);
  Result<void> stop_locked(Entry& e, const InstanceRow& row, const InstanceSpec& spec, std::chrono::seconds timeout);
  Result<void> set_state(const std::string& name, State state, const GuestProcess* proc, const char* why,
                         const json::Json& extra = nullptr);
  // Records how the guest ended, then the stopped state (event carries exit_code, exit_reason).
  Result<void> record_stopped(const std::string& name, const ExitInfo& exit, const char* why);
  bool on_exit(const std::string& name);
  // The spec as it will be stored: its network resolved (docs/daemon/networks.md).
  Result<InstanceSpec> resolve_network(const InstanceSpec& spec);
  // The spec as create stores it: its network resolved, the image's VOLUMEs added, its anonymous
  // volumes named (anonymous_volumes.cc).
  Result<InstanceSpec> spec_to_create(const InstanceSpec& requested);
  // The guest is gone: its backend's leftovers, then its network plumbing.
  void release(const InstanceContext& ctx);
  // The attachment's /etc files in the instance's directory, for the container to mount.
  Result<void> write_etc_files(InstanceContext& ctx, const Attachment& attached);
  json::Json describe(const InstanceRow& row);
  // Health checks (health_checker.h): the spec's check, else its image's (`boot`: what the start
  // resolved; null: resolve it), none with --no-healthcheck; probe_health runs one check.
  std::optional<HealthcheckSpec> healthcheck_of(const InstanceSpec& spec, const BootSource* boot);
  Result<ExecResult> probe_health(const std::string& name, const std::vector<std::string>& argv,
                                  std::chrono::milliseconds timeout);

  ManagerConfig config_;
  Store& store_;
  EventBus& events_;
  ImageStore& images_;
  Backend& containers_;
  Backend& vms_;
  Networks* networks_;
  std::mutex entries_mutex_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;
  std::mutex create_mutex_;  // admission control sees every create and start in order
  std::set<std::string> starting_;  // admitted starts not yet running (under create_mutex_)
  std::mutex holds_mutex_;
  std::map<std::string, int> removal_holds_;  // --rm instances kept until their waiter has answered
  std::unique_ptr<ExitMonitor> monitor_;
  PoolHooks* pools_ = nullptr;
  Volumes* volumes_ = nullptr;
  std::shared_mutex guard_mutex_;  // shared by each start, whole for set_start_guard
  StartGuard* guard_ = nullptr;
  std::unique_ptr<RestartSupervisor> restarts_;  // docs/daemon/restart.md
  std::unique_ptr<HealthChecker> health_;        // docs/daemon/health.md
};

}  // namespace vessel::daemon
