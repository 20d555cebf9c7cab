#include "daemon/cluster_member.h"

#include <unistd.h>

#include "base/log.h"
#include "base/log_stamp.h"
#include "base/version.h"

namespace vessel::daemon {

void add_cluster_flags(CLI::App& app, ClusterOptions& o) {
  app.add_option("--node", o.node,
                 "this host's name in the cluster (1-63 of a-z, 0-9 and '-'; default: the host name); "
                 "only with --cluster");
  app.add_option("--cluster", o.endpoints,
                 "join the cluster kept in etcd at these client URLs (http://HOST:PORT[,...]): the node "
                 "registers its capacity, labels and readiness under a lease it keeps alive (docs/cluster.md)");
  app.add_option("--advertise", o.advertise,
                 "where other nodes reach this node's API: requests for its clustered instances made on another "
                 "node are forwarded here: unix://SOCKET (the default: nodes of one host) or https://HOST:PORT (another "
                 "host; needs --listen: the nodes trust each other's TLS identity through their records)");
  app.add_option("--labels", o.labels,
                 "the node's labels, KEY=VALUE[,...]: `vessel run --cluster-wide --constraint node.labels.KEY==VALUE` "
                 "places instances by them");
  app.add_option("--lease-ttl", o.lease_ttl,
                 "seconds after which a node that stopped renewing its lease (dead, or cut off from etcd) "
                 "is not ready")
      ->capture_default_str()->check(CLI::Range(2, 3600));
  app.add_option("--placement", o.placement,
                 "how this node places clustered instances while it is the cluster's elected scheduler: spread "
                 "(least loaded node), binpack (most loaded that fits) or proportional (by node CPUs)")
      ->capture_default_str()->check(CLI::IsMember({"spread", "binpack", "proportional"}));
  app.add_option("--cluster-backups", o.backups,
                 "a directory every node shares (a shared filesystem): the node running a clustered instance "
                 "started with `--cluster-storage backup` exports it here every --cluster-backup-every seconds and "
                 "at a clean stop, and a node that takes it over imports the last export before starting it "
                 "(docs/cluster.md#storage)");
  app.add_option("--cluster-backup-every", o.backup_every,
                 "seconds between two backups of each such instance: what a failover loses at most")
      ->capture_default_str()->check(CLI::Range(1, 86400));
}

ClusterNode::~ClusterNode() {
  if (backups) backups->take_all();
  reconciler.reset();
  backups.reset();
  if (fence) fence->fence();
  fence.reset();
  scheduler.reset();
  member.reset();
}

namespace {
std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) < 0) return "";
  std::string name(buf);
  if (auto dot = name.find('.'); dot != std::string::npos) name.resize(dot);
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

// unix://PATH, unix:PATH, /PATH, or https://HOST:PORT with this node serving --listen.
Result<void> check_advertise(const std::string& a, const ClusterOptions& o) {
  if (a.starts_with("https://")) {
    std::string rest = a.substr(8);
    while (!rest.empty() && rest.back() == '/') rest.pop_back();
    auto colon = rest.rfind(':');
    if (rest.empty() || colon == std::string::npos || colon + 1 == rest.size() || rest.find('/') != std::string::npos)
      return Unexpected(Error(EINVAL, fmt::format("--advertise {}: expected https://HOST:PORT", a)));
    if (o.tls_dir.empty())
      return Unexpected(Error(EINVAL, fmt::format("--advertise {}: this node serves no TLS", a))
                            .with_hint("add --listen tcp://ADDR:PORT (the port other nodes reach)"));
    return {};
  }
  if (a.starts_with("unix:") || a.starts_with("/")) return {};
  return Unexpected(Error(EINVAL, fmt::format("--advertise {}: expected unix://SOCKET or https://HOST:PORT", a)));
}

Result<std::unique_ptr<cluster::Membership>> join_membership(const ClusterOptions& o, const Capacity& capacity,
                                                             const std::string& socket) {
  if (o.endpoints.empty()) {
    if (!o.node.empty() || !o.labels.empty() || !o.advertise.empty() || !o.backups.empty())
      return Unexpected(Error(EINVAL, "--node, --advertise, --labels and --cluster-backups need --cluster")
                            .with_hint("add --cluster http://ETCD_HOST:2379"));
    return nullptr;
  }
  auto endpoints = TRY_CTX(cluster::etcd::Client::parse_endpoints(o.endpoints), "--cluster");
  // A renewal that takes longer than a third of the TTL is as good as lost.
  auto timeout = std::chrono::milliseconds(std::min<int64_t>(5000, o.lease_ttl * 1000 / 3));
  auto client = TRY_CTX(cluster::etcd::Client::create({endpoints, timeout}), "--cluster");
  cluster::MembershipConfig config;
  config.ttl_seconds = o.lease_ttl;
  cluster::NodeInfo& node = config.node;
  node.name = o.node.empty() ? host_name() : o.node;
  node.advertise = o.advertise.empty() ? "unix://" + socket : o.advertise;
  TRY(check_advertise(node.advertise, o));
  config.credentials = {o.tls_dir.empty() ? "" : o.tls_dir + "/server.crt", o.tls_dir.empty() ? "" : o.tls_dir + "/server.key"};
  node.tls_pubkey_sha256 = o.tls_pubkey_sha256;
  node.tls_cert_sha256 = o.tls_cert_sha256;
  node.labels = TRY_CTX(cluster::parse_labels(o.labels), "--labels");
  node.cpus = capacity.cpus;
  node.memory_mib = capacity.memory_mib;
  node.version = kVersion;
  std::string stamp = format_log_stamp(unix_now_ns());
  node.joined = stamp.substr(0, stamp.size() - 1);
  auto member = TRY(cluster::Membership::join(std::move(client), std::move(config)));
  log::info("node {} joined the cluster at {} (lease TTL {} s)", member->name(), o.endpoints, o.lease_ttl);
  return member;
}
}  // namespace

Result<std::unique_ptr<ClusterNode>> join_cluster(const ClusterOptions& o, const Capacity& capacity,
                                                  const std::string& socket, Manager& manager,
                                                  ImageStore& images) {
  auto policy = TRY_CTX(cluster::placement::parse_policy(o.placement), "--placement");
  auto member = TRY(join_membership(o, capacity, socket));
  if (!member) return nullptr;
  auto node = std::make_unique<ClusterNode>();
  node->member = std::move(member);
  node->scheduler = std::make_unique<cluster::ClusterScheduler>(*node->member, policy);
  auto watchdog = TRY(ClusterWatchdog::start(o.watchdog, node->member->name()));
  node->fence = std::make_unique<ClusterFence>(manager, *node->member, std::move(watchdog));
  if (!o.backups.empty()) {
    if (o.backups[0] != '/') return Unexpected(Error(EINVAL, "--cluster-backups: an absolute path, not " + o.backups));
    node->backups = std::make_unique<ClusterBackups>(manager, *node->member, *node->fence, o.backups,
                                                     std::chrono::seconds(o.backup_every));
  }
  node->reconciler = std::make_unique<ClusterReconciler>(manager, images, *node->member, *node->fence, node->backups.get());
  node->peers = std::make_unique<ClusterPeers>(*node->member);
  return node;
}

}  // namespace vessel::daemon
