// A fault checker in the spirit of Jepsen (docs/cluster.md#fault-checker): three vesselds, each in
// its own network namespace, over a 3-member etcd cluster, run a few clustered busybox containers
// (--restart always); each run injects one fault chosen at random, while a sampler counts every
// instance's copies from /proc every 50 ms. A run is judged on:
// - split brain: a sample with two copies of an instance;
// - late: an instance without a copy more than 10 s after the fault ended;
// - lost: an acknowledged instance without one running copy on a node whose API says it runs it,
//   for 10 s on end once the cluster settled.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cluster_fixture.h"
#include "cluster_network.h"
#include "copy_sampler.h"
#include "etcd_cluster.h"

namespace vessel::test {

enum class FaultKind {
  KillNode,           // kill -9 of a node's vesseld and its instances' processes
  KillVesseld,        // kill -9 of vesseld alone (its watchdog must kill the copies)
  PauseVesseld,       // SIGSTOP of vesseld for the lease TTL plus 1.5 s, then SIGCONT
  Partition,          // nftables drops everything between a node and etcd for the TTL plus 2 s
  EtcdMemberRestart,  // kill -9 of one etcd member, started again on its data
};
inline constexpr int kFaultKinds = 5;
const char* to_string(FaultKind kind);

struct RunResult {
  FaultKind kind{};
  std::string target;                // the node or member
  bool split_brain = false;
  bool late = false;
  int lost = 0;
  std::optional<double> recovery;    // s from the fault's start until every instance ran again (when one stopped)
  std::string detail;                // what went wrong, for the failure message
};

struct Tally {
  int runs = 0, split_brain = 0, late = 0, lost = 0;
  std::map<std::string, int> by_kind;
  std::vector<double> recoveries;
  void add(const RunResult& r);
  std::string summary() const;
};

class FaultChecker {
 public:
  FaultChecker(int instances, std::string ttl) : instance_count_(instances), ttl_(std::move(ttl)) {}
  ~FaultChecker();
  // The network, etcd, the nodes and the instances; false with `error` set.
  bool setup(std::string* error);
  RunResult run_once(FaultKind kind, std::mt19937_64& rng);
  std::string logs() const;

 private:
  struct Fault {
    Node* node = nullptr;  // the faulted node (none for an etcd member)
    Clock::time_point start, end;
  };
  Fault inject(FaultKind kind, std::mt19937_64& rng, RunResult& r);
  // Brings the faulted node back (a killed vesseld starts again).
  void restore(FaultKind kind, const Fault& f, RunResult& r);
  void judge(const Fault& f, RunResult& r);
  // The instances without a running copy on a node that says it runs it (`detail` says what was seen).
  int unacknowledged(std::string* detail) const;
  Node* holder_of(const std::string& instance, const Node* not_this = nullptr) const;
  bool steady(std::chrono::seconds within) const;
  std::chrono::milliseconds ttl() const { return std::chrono::milliseconds(std::stoi(ttl_) * 1000); }

  int instance_count_;
  std::string ttl_;
  ClusterNetwork network_;  // first in, last out: the namespaces go after the vesselds
  EtcdCluster etcd_;
  TempDir images_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::string> names_, tokens_;
  std::unique_ptr<CopySampler> sampler_;
};

// VESSEL_FAULT_RUNS (default `runs`), VESSEL_FAULT_SEED (default: the clock), VESSEL_FAULT_TTL.
int env_int(const char* name, int fallback);
// Each block of kFaultKinds runs holds every kind once, in a random order; VESSEL_FAULT_KINDS
// (kinds by name, comma-separated) keeps only those.
std::vector<FaultKind> fault_plan(int runs, std::mt19937_64& rng);

}  // namespace vessel::test
