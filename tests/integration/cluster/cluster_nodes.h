// Shared by the cluster's daemon tests (forwarding, placement rules, drain): one real etcd, a
// busybox root filesystem, and N real vesselds (node-1 ..), each its own state directory, socket
// and cgroup parent; and the container copies counted from /proc, not only from the API.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>

#include "base/fd.h"
#include "daemon_fixture.h"
#include "etcd_server.h"

namespace vessel::test::cluster_nodes {

inline pid_t parent_pid(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/stat");  // not a stream: it may exit meanwhile
  if (!text) return 0;
  size_t close = text->rfind(')');
  char state = 0;
  pid_t ppid = 0;
  if (close == std::string::npos || std::sscanf(text->c_str() + close + 1, " %c %d", &state, &ppid) != 2) return 0;
  return ppid;
}

// The running copies of a container started as `/bin/sh -c SCRIPT TOKEN`: its shells, found by
// their command line (a child forked for `sleep` shows the same line until it execs: not counted).
inline std::vector<pid_t> shells_of(const std::string& token) {
  std::vector<pid_t> found;
  std::error_code ec;
  const std::string tail = std::string(1, '\0') + token + '\0';
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    auto cmdline = read_file((entry.path() / "cmdline").string());
    if (cmdline && cmdline->starts_with(std::string("/bin/sh\0-c\0", 11)) && cmdline->ends_with(tail))
      found.push_back(std::stoi(pid));
  }
  std::vector<pid_t> shells;
  for (pid_t p : found)
    if (std::find(found.begin(), found.end(), parent_pid(p)) == found.end()) shells.push_back(p);
  return shells;
}

struct Node {
  std::string name;
  TempDir dir;
  std::string cgroup;
  std::unique_ptr<Daemon> daemon;
  ~Node() {
    daemon.reset();
    remove_cgroup_parent(cgroup);
  }
};

class ClusterNodes : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(etcd_.start(&error)) << error;
    make_busybox_rootfs(images_.path + "/rootfs");
  }
  // node-1 .. node-N; extra[i] are more flags for node i+1 (--labels ...).
  void start_nodes(int count, const std::vector<std::vector<std::string>>& extra = {}) {
    for (int i = 1; i <= count; ++i) {
      auto n = std::make_unique<Node>();
      n->name = "node-" + std::to_string(i);
      n->cgroup = test_cgroup_parent() + "-" + std::to_string(i);
      std::vector<std::string> flags{"--node",      n->name,    "--cluster",       etcd_.url(),
                                     "--lease-ttl", lease_ttl_, "--cgroup-parent", n->cgroup};
      if (static_cast<size_t>(i) <= extra.size()) flags.insert(flags.end(), extra[i - 1].begin(), extra[i - 1].end());
      n->daemon = std::make_unique<Daemon>(n->dir.path, flags);
      ASSERT_TRUE(n->daemon->start()) << n->daemon->log();
      nodes_.push_back(std::move(n));
    }
  }
  Daemon& node(int i) { return *nodes_[static_cast<size_t>(i - 1)]->daemon; }
  std::string lease_ttl_ = "3";  // seconds; longer where etcd answers slowly (a nested KVM host)
  // `vessel run --cluster-wide --name NAME FLAGS... -- /bin/sh -c SCRIPT TOKEN` through `via`; the
  // script answers SIGTERM at once, says "hello TOKEN", then "tick" every second.
  CliResult run_clustered(const Daemon& via, const std::string& name, const std::string& token,
                          const std::vector<std::string>& flags = {}) {
    std::vector<std::string> args{"run", "--cluster-wide", "--name", name, "--rootfs", images_.path + "/rootfs"};
    args.insert(args.end(), flags.begin(), flags.end());
    for (const char* a : {"--", "/bin/sh", "-c", "trap 'exit 0' TERM; echo hello $0; while :; do sleep 1; echo tick; done"}) args.push_back(a);
    args.push_back(token);
    return via.vessel(args);
  }
  // What `via` says about the instance (inspect): {"node", "state"}.
  std::pair<std::string, std::string> where(const Daemon& via, const std::string& name) {
    auto r = via.vessel({"inspect", name});
    auto j = json::parse(r.out);
    if (r.status != 0 || !j || !j->is_object()) return {};
    return {j->value("node", ""), j->value("state", "")};
  }
  // Until `name` runs somewhere (by the API of node 1) with one copy: its node.
  std::string wait_running(const std::string& name, const std::string& token) {
    std::string on;
    bool ok = eventually([&] {
      auto [n, state] = where(node(1), name);
      on = n;
      return state == "running" && shells_of(token).size() == 1;
    }, 400);
    EXPECT_TRUE(ok) << name << " is not running: " << logs();
    return on;
  }
  std::string logs() const {
    std::string out;
    for (const auto& n : nodes_) out += "--- " + n->name + "\n" + n->daemon->log();
    return out;
  }
  std::string token(const std::string& what) const { return "vessel-" + what + "-" + std::to_string(::getpid()); }

  EtcdServer etcd_;
  TempDir images_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

}  // namespace vessel::test::cluster_nodes
