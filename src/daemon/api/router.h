// The REST API (docs/daemon/api.yaml): routes requests to the instance manager and the image store,
// turns Results into JSON answers with the right status, and records request metrics.
#pragma once

#include <optional>
#include <string>

#include "cluster/membership.h"
#include "http/http.h"
#include "daemon/api/host_paths.h"
#include "daemon/api/metrics.h"
#include "daemon/api/roles.h"
#include "daemon/build/builder.h"
#include "daemon/health/events.h"
#include "daemon/images/image_store.h"
#include "daemon/instances/backup_scheduler.h"
#include "daemon/instances/manager.h"
#include "daemon/instances/pools.h"
#include "daemon/network/networks.h"

namespace vessel::daemon {

// A response body that streams `file` from its start (vessel cp's tars, kept in unlinked files).
Result<std::function<bool(std::string&)>> stream_from_start(Fd file);

class Api {
 public:
  Api(Manager& manager, ImageStore& images, EventBus& events, std::string openapi_path, HostPathPolicy host_paths = {})
      : manager_(manager), images_(images), events_(events), openapi_path_(std::move(openapi_path)),
        host_paths_(std::move(host_paths)) {}

  // The largest tar GET .../archive builds from a VM's files (vesseld --max-archive-bytes).
  void set_max_archive_bytes(uint64_t bytes) { max_archive_bytes_ = bytes; }
  // /v1/networks (api/network_routes.cc); unset: answered 404.
  void set_networks(Networks* networks) { networks_ = networks; }
  // /v1/backups (api/backup_routes.cc); unset: answered 404.
  void set_backups(BackupScheduler* backups) { backups_ = backups; }
  // /v1/pools (api/pool_routes.cc); unset: answered 404.
  void set_pools(Pools* pools) { pools_ = pools; }
  // /v1/volumes (api/volume_routes.cc); unset: answered 404.
  void set_volumes(Volumes* volumes) { volumes_ = volumes; }
  // /v1/cluster (api/cluster_routes.cc, docs/cluster.md); unset: "not in a cluster".
  void set_cluster(const cluster::Membership* cluster) { cluster_ = cluster; }
  // POST /v1/build (api/build_route.cc); unset: answered 501.
  void set_build(build::BuildServices* build) { build_ = build; }

  // `role`: what the client may do (roles.h); the Unix socket's clients are Role::Admin.
  http::Response handle(const http::Request& request, Role role = Role::Admin);

  // {"error": message, "hint": ..., "errno": ...} with the status the error maps to.
  static http::Response error_response(const Error& error, int status = 0);
  // A JSON answer, 200 unless told.
  static http::Response ok(const json::Json& j, int status = 200);
  // ok(*j, status) or error_response(j.error()).
  static http::Response answer(const Result<json::Json>& j, int status = 200);
  static std::string error_text(const Error& error);
  // PUT /v1/instances/NAME/archive: its body is a tar, allowed to be larger (api/archive.cc).
  static bool is_archive_upload(const http::Request& request);
  // POST /v1/instances/import: its body may be a backup, as large as an archive upload.
  static bool is_import_upload(const http::Request& request);
  // POST /v1/build: its body is the build context, as large as an archive upload.
  static bool is_build_upload(const http::Request& request);

 private:
  http::Response route(const http::Request& request, Role role, std::string& route_label);
  http::Response instance_route(const http::Request& request, Role role, const std::vector<std::string>& parts,
                                std::string& label);
  http::Response image_route(const http::Request& request, Role role, const std::vector<std::string>& parts,
                             std::string& label);
  // POST /v1/images/{pull,push,save,login,tag} (api/registry_routes.cc, docs/daemon/registry.md)
  http::Response registry_route(const http::Request& request, const std::string& verb, std::string& label);
  http::Response network_route(const http::Request& request, const std::vector<std::string>& parts, std::string& label);
  // /v1/instances/{name}/snapshots[/{snap}[/restore]] (api/snapshot_routes.cc)
  http::Response snapshot_route(const http::Request& request, const std::string& name,
                                const std::vector<std::string>& parts, std::string& label);
  http::Response pool_route(const http::Request& request, const std::vector<std::string>& parts, std::string& label);
  http::Response build_route(const http::Request& request, std::string& label);
  http::Response cluster_route(const http::Request& request, const std::vector<std::string>& parts, std::string& label);
  // Clustered instances (api/cluster_instances.cc): POST /v1/instances?cluster=1 writes etcd; in a
  // cluster, GET shows each instance's "node" and those on other nodes; DELETE of a clustered
  // one removes its record (nullopt: not clustered, remove the local instance).
  http::Response create_clustered(const http::Request& request, Role role);
  // `forwarded`: another node asks (cluster_live_list.h): its own instances only.
  Result<json::Json> list_in_cluster(json::Json local, bool forwarded);
  Result<json::Json> get_in_cluster(const std::string& name, Result<json::Json> local);
  std::optional<http::Response> remove_clustered(const std::string& name);
  // Other requests for a clustered instance (api/cluster_actions.cc): stop/start change its desired
  // state, migrate {"node"} moves it, the rest go to the node running it (nullopt: answer here).
  std::optional<http::Response> clustered_instance(const http::Request& request, const std::vector<std::string>& parts,
                                                   std::string& label);
  http::Response set_desired_stopped(const http::Request& request, const std::string& name, bool stopped);
  http::Response move_clustered(const http::Request& request, const std::string& name);
  // POST /v1/cluster/nodes/{name}/drain: cordon, then move each of its instances (cluster_mover.h).
  http::Response drain_node(const http::Request& request, const std::string& node);
  http::Response volume_route(const http::Request& request, const std::vector<std::string>& parts, std::string& label);
  // POST /v1/policy/simulate (api/policy_routes.cc)
  http::Response policy_route(const http::Request& request, const std::vector<std::string>& parts, std::string& label);
  // GET .../logs: ?follow, ?timestamps, ?since, ?until, ?tail (api/log_view.h)
  http::Response logs(const http::Request& request, const std::string& name);
  http::Response events_stream(const http::Request& request);
  // api/wait.cc and api/attach.cc (docs/daemon/console.md)
  http::Response wait_stream(const std::string& name);
  http::Response console(const http::Request& request, const std::string& name);
  // POST /v1/instances/{name}/resize?h=ROWS&w=COLS (Docker's): a container's terminal (attach.cc).
  http::Response resize(const http::Request& request, const std::string& name);
  http::Response exec_stream(const http::Request& request, const std::string& name);
  static bool is_upgrade(const http::Request& request);
  // Live migration (api/migrate_routes.cc, docs/daemon/migrate.md)
  http::Response migrate(const http::Request& request, Role role, const std::string& name);
  http::Response migration_route(const http::Request& request, Role role, const std::vector<std::string>& parts,
                                 std::string& label);
  // GET /v1/instances/NAME/export, POST /v1/instances/import (api/backup_routes.cc,
  // docs/daemon/backup.md)
  http::Response export_instance(const http::Request& request, const std::string& name);
  http::Response import_instance(const http::Request& request, Role role);
  // /v1/backups[/schedules[/{name}]]: scheduled backups and their archives
  http::Response backup_route(const http::Request& request, Role role, const std::vector<std::string>& parts,
                              std::string& label);
  // GET/HEAD/PUT /v1/instances/NAME/archive (api/archive.cc, docs/daemon/cp.md)
  http::Response archive(const http::Request& request, const std::string& name);
  // The same for a VM, through its vessel-agent (api/archive_vm.cc).
  http::Response archive_vm(const http::Request& request, const std::string& name, const std::string& rel);

  Manager& manager_;
  ImageStore& images_;
  EventBus& events_;
  RequestMetrics metrics_;
  std::string openapi_path_;
  HostPathPolicy host_paths_;
  Networks* networks_ = nullptr;
  Pools* pools_ = nullptr;
  Volumes* volumes_ = nullptr;
  build::BuildServices* build_ = nullptr;
  BackupScheduler* backups_ = nullptr;
  const cluster::Membership* cluster_ = nullptr;
  uint64_t max_archive_bytes_ = uint64_t{1} << 30;
};

// HTTP status for an error (EINVAL 400, ENOENT 404, EBUSY/EEXIST/EAGAIN 409, ENODEV 409: this
// host cannot run that kind of instance, ...).
int http_status_for(const Error& error);

}  // namespace vessel::daemon
