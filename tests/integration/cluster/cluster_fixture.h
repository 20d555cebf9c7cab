// What the clustered-vesseld tests share (failover_test.cc, watchdog_test.cc, fault_checker_test.cc):
// copies of an instance counted from /proc, nodes (a vesseld with its own state directory, socket
// and cgroup parent, optionally in its own network namespace), and what a node's API says.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "daemon_fixture.h"

namespace vessel::test {

// The running copies of a container started as /bin/sh -c SCRIPT TOKEN, by their shells' PIDs
// (read from /proc: the processes themselves, not any API).
std::vector<pid_t> copies(const std::string& token);
// The same for several tokens in one pass over /proc (the fault checker's sampler).
std::vector<std::vector<pid_t>> copies_of(const std::vector<std::string>& tokens);

struct CgroupParent {
  std::string name;
  ~CgroupParent() { remove_cgroup_parent(name); }
};

struct Node {
  std::string name;
  TempDir dir;
  CgroupParent cgroup;
  std::unique_ptr<Daemon> daemon;
};

// node-1 .. node-COUNT joined at `etcd` (URL[,URL...]) with this lease TTL; `launcher(i)` (may be
// empty) prefixes node i's vesseld command (nsenter into its network namespace).
std::vector<std::unique_ptr<Node>> make_nodes(int count, const std::string& etcd, const std::string& ttl,
                                              const std::vector<std::vector<std::string>>& launchers = {});

// What a node's API says about the instance: its "node" and "state" ({} when it does not answer).
std::pair<std::string, std::string> placement_of(const Daemon& d, const std::string& name);

// The p-th quantile (0..1) of `v`, nearest rank.
double percentile(std::vector<double> v, double p);

// A clustered busybox container through `via`'s API: /bin/sh -c 'while :; do sleep 1; done' TOKEN.
CliResult run_clustered(const Daemon& via, const std::string& name, const std::string& rootfs, const std::string& token);

}  // namespace vessel::test
