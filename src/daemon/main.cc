// vesseld: the vessel daemon. Serves the REST API on a Unix socket, keeps its state in SQLite and
// drives vessel-runtime (containers) and vessel-vmm (VMs). Guests never depend on it staying up:
// stopping or killing vesseld leaves them running, and the next vesseld adopts them.
#include <grp.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <optional>

#include "base/version.h"
#include "base/cli.h"
#include "http/http.h"
#include "base/log.h"
#include "daemon/api/router.h"
#include "daemon/cluster_image_fetch.h"
#include "daemon/cluster_member.h"
#include "daemon/api/tls_listener.h"
#include "daemon/images/image_store.h"
#include "daemon/instances/container_backend.h"
#include "daemon/instances/demand_controller.h"
#include "daemon/instances/manager.h"
#include "daemon/instances/pools.h"
#include "daemon/instances/shortage_relief.h"
#include "daemon/network/networks.h"
#include "daemon/instances/vm_backend.h"
#include "daemon/policy/id_pool.h"
#include "daemon/store/store.h"

namespace fs = std::filesystem;
using namespace vessel;
using namespace vessel::daemon;

namespace {

struct Options {
  std::string socket = "/run/vessel/vessel.sock";
  std::string socket_group = "vessel";
  std::string state_dir = "/var/lib/vessel";
  std::string runtime;
  std::string vmm;
  std::string jailer;
  bool no_jailer = false;
  uint32_t jailer_uid_base = 900000;
  uint32_t jailer_uid_count = 65536;
  std::string cgroup_parent = "vessel";
  std::string openapi;
  double cpu_overcommit = 4.0;
  double memory_overcommit = 1.0;
  double policy_period_s = 1.0;  // the demand controller's period (0: off)
  size_t max_body = 1 << 20;
  size_t max_archive = size_t{1} << 30;  // PUT .../archive (vessel cp into an instance)
  unsigned idle_timeout = 30;
  std::string log_level = "info";
  std::string log_format = "text";
  std::vector<std::string> listen;  // tcp://ADDR:PORT, TLS with client certificates
  std::vector<std::string> allowed_host_paths;  // what non-admin clients may name (host_paths.h)
  std::vector<std::string> log_opts;  // instances' log cap: max-size=..., max-file=...
  std::vector<std::string> insecure_registries;  // spoken to over plain HTTP (docs/daemon/registry.md)
  uint64_t upload_chunk = uint64_t(32) << 20;  // push: larger blobs go in chunks of this size
  std::string userns_pool;  // START:COUNT or none; default: the `vessel` entries of /etc/subuid and /etc/subgid
  NetworkConfig network;     // docs/daemon/networks.md (state_dir filled in at start)
  ClusterOptions cluster;    // docs/cluster.md
};

// Blocks until SIGTERM or SIGINT (blocked in every thread since main's start); the signal.
int wait_for_stop_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

// Names vesseld gives to kernel objects: interfaces at most 15 bytes, nft identifiers plain.
Result<void> check_network_flags(const NetworkConfig& n) {
  auto plain = [](const std::string& s) {
    return !s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == std::string::npos;
  };
  if (!plain(n.default_bridge) || n.default_bridge.size() > 15) return fail(EINVAL, "--default-bridge: 1..15 of [A-Za-z0-9_-]");
  if (!plain(n.bridge_prefix) || n.bridge_prefix.size() > 7) return fail(EINVAL, "--bridge-prefix: 1..7 of [A-Za-z0-9_-]");
  if (!plain(n.veth_prefix) || n.veth_prefix.size() > 7) return fail(EINVAL, "--veth-prefix: 1..7 of [A-Za-z0-9_-]");
  if (!plain(n.nft_table) || n.nft_table.size() > 32) return fail(EINVAL, "--nft-table: 1..32 of [A-Za-z0-9_-]");
  return {};
}

bool executable(const std::string& p) { return ::access(p.c_str(), X_OK) == 0; }

// A helper binary: the flag, else the build tree's or install's sibling, else $PATH.
std::string find_helper(const std::string& flag, const std::string& name, const std::string& build_subdir,
                        const std::string& fallback) {
  if (!flag.empty()) return flag;
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec).parent_path();
  for (const auto& candidate : {self / ".." / build_subdir / name, self / name})
    if (executable(candidate.string())) return fs::weakly_canonical(candidate, ec).string();
  const char* path = ::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  size_t pos = 0;
  while (pos <= dirs.size()) {
    size_t next = dirs.find(':', pos);
    if (next == std::string::npos) next = dirs.size();
    std::string candidate = dirs.substr(pos, next - pos) + "/" + name;
    if (executable(candidate)) return candidate;
    pos = next + 1;
  }
  if (!fallback.empty()) {
    log::warn("{} not found; using {} (pass --runtime to choose)", name, fallback);
    return fallback;
  }
  return name;
}

// The ids --userns=auto containers get (docs/daemon/userns.md): the flag, else /etc/subuid and
// /etc/subgid's `vessel` entries, else none (--userns=auto is then refused). `none` ignores the
// files: a host that lends ids to another vessel need not lend them to this one.
Result<std::optional<IdPool>> userns_pool(const Options& o) {
  if (o.userns_pool == "none") return std::optional<IdPool>();
  if (!o.userns_pool.empty()) return std::optional<IdPool>(TRY(parse_id_pool(o.userns_pool)));
  auto subuid = read_file("/etc/subuid"), subgid = read_file("/etc/subgid");
  if (!subuid || !subgid) return std::optional<IdPool>();
  auto pool = id_pool_from_subid(*subuid, *subgid, "vessel");
  if (!pool && pool.error().errnum() == ENOENT) return std::optional<IdPool>();
  return std::optional<IdPool>(TRY(std::move(pool)));
}

// With a pool, the remapped roots must reach their root filesystems under <state>/instances (the
// runtime mounts them as that user, as runc does; Docker's userns-remap makes its root 0711 too):
// <state> and <state>/instances become 0711 (traverse, not list), everything else at the top
// loses its group and other bits, so that nothing but the instances' paths opens up.
void open_state_dir_for_userns(const std::string& state_dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(state_dir, ec)) {
    std::string name = entry.path().filename().string();
    struct stat st{};
    if (name == "instances" || name == "runtime" || ::lstat(entry.path().c_str(), &st) < 0) continue;
    if (S_ISLNK(st.st_mode) || S_ISSOCK(st.st_mode)) continue;  // a --socket in here keeps its group
    ::chmod(entry.path().c_str(), st.st_mode & 07700);
  }
  ::chmod((state_dir + "/instances").c_str(), 0711);
  ::chmod(state_dir.c_str(), 0711);
}

// GET /openapi.yaml serves this file: --openapi, else the source tree's, else the installed one.
std::string openapi_path(const Options& o) {
  if (!o.openapi.empty()) return o.openapi;
  std::error_code ec;
  for (const char* c : {VESSEL_SOURCE_DIR "/docs/daemon/api.yaml", "/usr/share/vessel/api.yaml"})
    if (fs::exists(c, ec)) return c;
  return "";
}

JailConfig jail_config(const Options& o) {
  JailConfig jail;
  jail.enabled = !o.no_jailer;
  jail.jailer = o.no_jailer ? "" : find_helper(o.jailer, "vessel-jailer", "jailer", "");
  jail.chroot_base = o.state_dir + "/jail";
  jail.id_base = o.jailer_uid_base;
  jail.id_count = o.jailer_uid_count;
  if (o.no_jailer) log::warn("--no-jailer: VMs run as root in the host's namespaces (seccomp filters only)");
  return jail;
}

// The helper programs beside vesseld (or in $PATH). Without vessel-shim, containers still run;
// only their exit status is unknown.
void find_helpers(ContainerBackend& containers, VmBackend& vms) {
  if (std::string agent_exec = find_helper("", "vessel-agent-exec", "agent", ""); agent_exec != "vessel-agent-exec")
    vms.set_agent_exec(agent_exec);  // `vessel exec` into VMs (through the guest's vessel-agent)
  if (std::string init = find_helper("", "vessel-init", "init", ""); init != "vessel-init")
    containers.set_init(init);  // run --init
  if (std::string shim = find_helper("", "vessel-shim", "daemon", ""); shim != "vessel-shim") {
    containers.set_shim(shim);
    vms.set_log_relay(shim);
  } else {
    log::warn("vessel-shim not found beside vesseld or in $PATH: containers' exit statuses will be unknown, and "
              "instance logs are not capped");
  }
}

// Body limits (archives, imports and build contexts may be larger), idle timeout, the 413 answer.
http::ServerOptions server_options_of(const Options& o) {
  http::ServerOptions server_options;
  server_options.max_body_bytes = o.max_body;
  server_options.max_body_for = [&o](const http::Request& r) {
    return Api::is_archive_upload(r) || Api::is_import_upload(r) || Api::is_build_upload(r) ? o.max_archive : o.max_body;
  };
  server_options.idle_timeout = std::chrono::seconds(o.idle_timeout);
  server_options.too_large = [](size_t limit) {
    return Api::error_response(Error(E2BIG, fmt::format("the request body is larger than {} bytes", limit)), 413);
  };
  return server_options;
}

Result<int> serve(const Options& o) {
  std::error_code ec;
  fs::create_directories(o.state_dir, ec);
  if (ec) return fail(ec.value(), "create state directory {}: {}", o.state_dir, ec.message());
  ::chmod(o.state_dir.c_str(), 0700);
  // One vesseld per state directory.
  Fd lock = TRY(Fd::open(o.state_dir + "/vesseld.lock", O_RDWR | O_CREAT, 0600));
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) < 0)
    return Unexpected(Error(EBUSY, fmt::format("another vesseld is using {}", o.state_dir)).with_hint("stop it first, or pass another --state-dir"));

  auto store = TRY_CTX(Store::open(o.state_dir + "/vessel.db"), "open the state database");
  ManagerConfig config;
  config.state_dir = o.state_dir;
  config.cgroup_parent = o.cgroup_parent;
  config.capacity = TRY(discover_capacity());
  config.overcommit = {o.cpu_overcommit, o.memory_overcommit};
  for (const auto& opt : o.log_opts) TRY_CTX(apply_log_opt(opt, config.log), "vesseld");
  config.userns_pool = TRY_CTX(userns_pool(o), "vesseld");
  EventBus events;
  ImageStore images(*store, o.state_dir + "/images");
  remove_stale_fetches(images.dir());  // docs/cluster.md#images: a fetch cut short by a kill
  images.set_registry_options(RegistryOptions{.insecure = o.insecure_registries, .upload_chunk = o.upload_chunk});
  std::string runtime = find_helper(o.runtime, "vessel-runtime", "runtime", "runc");
  std::string vmm = find_helper(o.vmm, "vessel-vmm", "vmm", "");
  ContainerBackend containers(runtime, o.state_dir + "/runtime");
  JailConfig jail = jail_config(o);
  VmBackend vms(vmm, jail);
  find_helpers(containers, vms);
  NetworkConfig network = o.network;
  network.state_dir = o.state_dir;
  if (network.default_network == "none") network.default_network.clear();
  TRY_CTX(check_network_flags(network), "vesseld");
  Networks networks(network, *store);
  networks.init();
  Manager manager(config, *store, events, images, containers, vms, &networks);
  Pools pools(*store, config.cgroup_parent, o.state_dir + "/instances");  // docs/daemon/pools.md
  manager.set_pool_hooks(&pools);
  ShortageRelief shortage_relief(manager, events, pools);  // priority pools' --on-shortage
  Volumes volumes(*store, o.state_dir + "/volumes");  // docs/daemon/volumes.md
  manager.set_volumes(&volumes);
  DemandController demand(pools);  // the `demand` pools' controller
  std::optional<DemandLoop> demand_loop;
  if (o.policy_period_s > 0)
    demand_loop.emplace(demand, std::chrono::milliseconds(static_cast<int64_t>(o.policy_period_s * 1000)));
  // Also without a pool now: containers made with one still start with their ranges.
  if (config.userns_pool || TRY(store->id_range_count()) > 0) open_state_dir_for_userns(o.state_dir);
  manager.reconcile();
  pools.apply_all();  // timeslice pools' turns resume (docs/daemon/pools.md)
  // Scheduled backups (docs/daemon/backup.md#schedules): armed once the instances are known.
  BackupScheduler backups(*store, events, [&manager](const std::string& name, const BackupExportOptions& options, int fd) {
    return manager.export_instance(name, options, fd);
  });
  backups.start();

  auto host_paths = TRY(HostPathPolicy::create(o.allowed_host_paths));
  Api api(manager, images, events, openapi_path(o), host_paths);
  api.set_networks(&networks);
  api.set_pools(&pools);
  api.set_volumes(&volumes);
  build::BuildServices builds{images, containers, config.cgroup_parent};  // docs/daemon/build.md
  build::remove_stale_builds(builds, o.state_dir + "/runtime");
  api.set_backups(&backups), api.set_build(&builds);
  api.set_max_archive_bytes(o.max_archive);
  std::optional<TlsIdentity> identity;
  if (!o.listen.empty()) identity = TRY(ensure_server_identity(o.state_dir + "/tls"));
  ClusterOptions cluster = o.cluster;
  cluster.watchdog = find_helper("", "vessel-watchdog", "daemon", "");  // kills clustered copies if vesseld dies
  if (identity) {  // shown to other nodes' TLS APIs (docs/cluster.md#forwarding)
    cluster.tls_dir = o.state_dir + "/tls";
    cluster.tls_pubkey_sha256 = identity->pubkey_sha256;
    cluster.tls_cert_sha256 = identity->cert_sha256;
  }
  auto node = TRY_CTX(join_cluster(cluster, config.capacity, o.socket, manager, images), "vesseld");  // docs/cluster.md
  api.set_cluster(node ? node->member.get() : nullptr);
  http::ServerOptions server_options = server_options_of(o);
  fs::create_directories(fs::path(o.socket).parent_path(), ec);
  TrustStore trust(o.state_dir + "/tls/trust");
  RoleHandler handler = [&api, &trust](const http::Request& r, Role role) {
    if (auto t = trust_route(r, trust, role)) return std::move(*t);
    return api.handle(r, role);
  };
  PeerLookup peers;
  if (node) peers = [&node](const std::string& cert) { return node->peers->node_of(cert); };
  std::vector<std::unique_ptr<http::Server>> tls_servers;
  for (const auto& l : o.listen) {
    auto address = TRY(parse_listen_address(l));
    tls_servers.push_back(TRY_CTX(listen_tls(address, *identity, trust, handler, server_options, peers), "--listen {}", l));
    log::info("vesseld serving TLS on {} (server public key sha256 {}; trust store {})", l, identity->pubkey_sha256,
              trust.dir());
  }
  // The Unix socket's clients (root, group `vessel`) are admins: they are root-equivalent anyway.
  auto local = [&handler](const http::Request& r) { return handler(r, Role::Admin); };
  auto server = TRY(http::Server::listen_unix(o.socket, 0660, local, server_options));
  if (group* g = ::getgrnam(o.socket_group.c_str())) {
    if (::chown(o.socket.c_str(), 0, g->gr_gid) < 0) log::warn("chown {} to group {}: {}", o.socket, o.socket_group, strerror(errno));
  }
  log::info("vesseld serving on {} (state {}, runtime {}, vmm {}, jailer {}, capacity {} CPUs / {} MiB)", o.socket,
            o.state_dir, runtime, vmm, jail.enabled ? jail.jailer : "off", config.capacity.cpus, config.capacity.memory_mib);
  int sig = wait_for_stop_signal();
  log::info("vesseld: signal {}, shutting down (guests keep running)", sig);
  events.shutdown();
  tls_servers.clear();
  server.reset();
  return 0;
}

}  // namespace

// docs/daemon/networks.md
void add_network_flags(CLI::App& app, NetworkConfig& n) {
  app.add_option("--default-network", n.default_network,
                 "the network of instances run without --network ('none': loopback only)")->capture_default_str();
  app.add_option("--default-subnet", n.default_subnet, "the default network's subnet when vesseld makes it")
      ->capture_default_str();
  app.add_option("--default-bridge", n.default_bridge, "the default network's Linux bridge")->capture_default_str();
  app.add_option("--bridge-prefix", n.bridge_prefix, "other networks' bridges: PREFIX + a hash of the name")
      ->capture_default_str();
  app.add_option("--veth-prefix", n.veth_prefix, "host ends of instances' veths: PREFIX + a hash")->capture_default_str();
  app.add_option("--dns-port", n.dns_port,
                 "port of the DNS server on each network's gateway (instances' names; 0: none)")->capture_default_str();
  app.add_option("--nft-table", n.nft_table, "vessel's nftables table (table ip NAME), rebuilt by vesseld")
      ->capture_default_str();
}

int main(int argc, char** argv) {
  // Signals are taken by sigwait() in main; every thread inherits the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  Options o;
  CLI::App app{"vesseld - the vessel daemon: VMs and containers on one host, over a REST API", "vesseld"};
  app.set_version_flag("--version", std::string("vesseld version ") + vessel::kVersion);
  app.footer(
      "vesseld runs in the foreground (systemd: packaging/systemd/vesseld.service). It listens on a Unix\n"
      "socket (mode 0660, group 'vessel' when that group exists), keeps its state in STATE_DIR/vessel.db\n"
      "(SQLite, WAL, synchronous=FULL) and never stops a guest when it exits: VMs (vessel-vmm) and\n"
      "containers (vessel-runtime) keep running and are adopted by the next vesseld.\n"
      "Every VM's vessel-vmm is started through vessel-jailer unless --no-jailer: unprivileged (uid\n"
      "JAILER_UID_BASE + n, one per running VM), chrooted in STATE_DIR/jail/vessel-vmm/NAME/root with\n"
      "its kernel, initramfs and disks bind-mounted (read-only where they are), seccomp-filtered.\n"
      "The API is described in docs/daemon/api.yaml, also served at GET /openapi.yaml.\n\n"
      "Exit status: 0 after SIGTERM/SIGINT, 1 when it cannot start (corrupt or future-versioned\n"
      "database, socket in use, state directory locked by another vesseld).");
  app.add_option("--socket", o.socket, "Unix socket to serve the API on")->capture_default_str();
  app.add_option("--socket-group", o.socket_group, "group owning the socket")->capture_default_str();
  app.add_option("--state-dir", o.state_dir, "database, instances, images and runtime state")->capture_default_str();
  app.add_option("--insecure-registry", o.insecure_registries,
                 "a registry (HOST[:PORT]) that may be spoken to over plain HTTP when TLS fails, as Docker's "
                 "flag of that name (repeatable); loopback registries always may. Only for networks you trust");
  app.add_option("--registry-upload-chunk", o.upload_chunk,
                 "vessel image push: blobs up to this many bytes go in one PUT, larger ones in PATCH chunks of it")
      ->capture_default_str()->check(CLI::Range(uint64_t(4096), uint64_t(1) << 32));
  app.add_option("--runtime", o.runtime, "OCI runtime binary with runc's CLI (default: vessel-runtime beside vesseld, then $PATH, then runc)");
  app.add_option("--vmm", o.vmm, "VMM binary (default: vessel-vmm beside vesseld, then $PATH)");
  app.add_option("--jailer", o.jailer, "vessel-jailer binary (default: beside vesseld, then $PATH)");
  app.add_flag("--no-jailer", o.no_jailer,
               "start vessel-vmm directly, as root in the host's namespaces (seccomp filters only), instead of "
               "through vessel-jailer; for debugging. Default: every VM through the jailer: an unprivileged "
               "uid/gid of its own, a chroot in STATE_DIR/jail holding only its files, its own mount and PID "
               "namespaces, its cgroup (docs/vmm/sandbox.md)");
  app.add_option("--jailer-uid-base", o.jailer_uid_base,
                 "first uid (and gid) of the range given to jailed VMs, one per running VM")
      ->capture_default_str()->check(CLI::Range(1u, 4000000000u));
  app.add_option("--jailer-uid-count", o.jailer_uid_count, "size of that range: at most this many VMs run at once")
      ->capture_default_str()->check(CLI::Range(1u, 1000000u));
  app.add_option("--cgroup-parent", o.cgroup_parent, "cgroup under which each guest gets its own")->capture_default_str();
  app.add_option("--cpu-overcommit", o.cpu_overcommit, "admit CPU reservations up to host CPUs x this")->capture_default_str()->check(CLI::Range(0.1, 100.0));
  app.add_option("--memory-overcommit", o.memory_overcommit, "admit memory reservations up to host memory x this")->capture_default_str()->check(CLI::Range(0.1, 100.0));
  app.add_option("--policy-period", o.policy_period_s,
                 "seconds between two steps of the demand controller, which measures the members of every "
                 "'demand' pool (CPU, memory, pressure, VMs' balloon statistics) and moves their allocations "
                 "toward their demand (docs/daemon/pools.md); 0: no controller (demand pools keep what they had)")
      ->capture_default_str()->check(CLI::Range(0.0, 3600.0));
  app.add_option("--max-body-bytes", o.max_body, "larger request bodies are refused with 413")->capture_default_str();
  app.add_option("--max-archive-bytes", o.max_archive, "larger tar bodies of PUT /v1/instances/NAME/archive (vessel cp) and POST /v1/instances/import (a backup sent by a remote client) are refused with 413")->capture_default_str();
  app.add_option("--idle-timeout", o.idle_timeout, "seconds before an idle client connection is closed")->capture_default_str();
  app.add_option("--openapi", o.openapi, "path of api.yaml to serve at /openapi.yaml");
  app.add_option("--listen", o.listen,
                 "also serve the API over TLS on tcp://ADDR:PORT (repeatable). Clients must present a certificate "
                 "in the trust store (vessel trust add --role read-only|operator|admin); the server's key and "
                 "self-signed certificate are made in STATE_DIR/tls on first use, and clients pin "
                 "STATE_DIR/tls/server.fingerprint")
      ->allow_extra_args(false);
  app.add_option("--allowed-host-path", o.allowed_host_paths,
                 "a host directory (repeatable) under which TLS clients without the admin role may name rootfs "
                 "directories, VM kernels, initramfs and disks, and image archives; paths are resolved (symlinks, "
                 "..) before the check. Default: none. The Unix socket and admin certificates may name any path")
      ->allow_extra_args(false);
  app.add_option("--log-opt", o.log_opts,
                 "default cap of every instance's console/output log, as Docker's json-file: max-size=SIZE (bytes "
                 "per file, default 10m), max-file=N (files kept, default 3); repeatable. An instance's own "
                 "(vessel run --log-opt) wins")
      ->allow_extra_args(false);
  app.add_option("--userns-pool", o.userns_pool,
                 "START:COUNT: the host uids and gids (the same numbers) from which each --userns=auto container "
                 "gets a private range of 65536, or 'none' (--userns=auto is refused). Default: the 'vessel' entries of "
                 "/etc/subuid and /etc/subgid; without either, --userns=auto is refused. With a pool, STATE_DIR and STATE_DIR/instances are "
                 "made 0711 so that the remapped roots can reach their root filesystems");
  add_network_flags(app, o.network);
  add_cluster_flags(app, o.cluster);
  app.add_option("--log-level", o.log_level, "debug, info, warn, error")->capture_default_str();
  app.add_option("--log-format", o.log_format, "text or json")->capture_default_str()->check(CLI::IsMember({"text", "json"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  log::set_program("vesseld");
  log::Level level;
  if (!log::parse_level(o.log_level, &level)) {
    cli::print_error("vesseld", Error(EINVAL, "--log-level: expected debug, info, warn or error"));
    return cli::kExitUsage;
  }
  log::set_level(level);
  if (o.log_format == "json") log::set_format(log::Format::Json);
  auto r = serve(o);
  if (!r) {
    cli::print_error("vesseld", r.error());
    return cli::kExitFailure;
  }
  return *r;
}
