// Placement (docs/cluster.md#placement): which node a new instance goes to. Filters first (the
// node is ready, not cordoned, has the CPUs and memory free, carries the requested labels, runs
// the groups the instance wants beside it and none it must avoid), then a score by policy:
//   spread        the node least loaded after the placement (its fuller resource counts)
//   binpack       the node most loaded after the placement: fewest nodes in use
//   proportional  the node furthest below its share A_i = P_i / sum(P) x V of the V instances,
//                 P_i its weight (default: its CPUs), as the pools' proportional policy
// Pure: no I/O, no clock, deterministic (ties go to the lower node index). The simulator
// (simulator.h, vessel cluster simulate) runs this same code.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/error.h"

namespace vessel::cluster::placement {

enum class Policy { Spread, Binpack, Proportional };
Result<Policy> parse_policy(std::string_view text);
std::string_view to_string(Policy policy);

struct Node {
  std::string name;
  double cpus = 0;
  uint64_t memory_mib = 0;
  std::map<std::string, std::string> labels;
  bool ready = true;
  bool cordoned = false;
  double weight = 0;  // proportional's P_i; 0: its CPUs
};

struct Request {
  std::string name;
  double cpus = 0;
  uint64_t memory_mib = 0;
  std::string group;                               // what affinity rules of others name
  std::vector<std::string> more_groups;            // further groups it belongs to (a clustered instance's labels)
  std::map<std::string, std::string> selector;     // labels the node must carry
  std::map<std::string, std::string> excluded;     // labels the node must not carry (k!=v)
  std::vector<std::string> affinity;               // groups that must already run on the node
  std::vector<std::string> anti_affinity;          // groups that must not run on the node
};

struct Load {
  double cpus = 0;
  uint64_t memory_mib = 0;
  uint32_t instances = 0;
};

class Scheduler {
 public:
  explicit Scheduler(Policy policy) : policy_(policy) {}

  size_t add_node(const Node& node);  // its index
  void set_ready(size_t node, bool ready);
  void set_cordoned(size_t node, bool cordoned);

  // The best node for `request`, or ENOSPC naming how many nodes each filter turned away.
  Result<size_t> choose(const Request& request);
  // Counts the request on the node (its resources, its group).
  void commit(size_t node, const Request& request);
  void release(size_t node, const Request& request);
  // choose, then commit.
  Result<size_t> place(const Request& request);

  size_t size() const { return nodes_.size(); }
  const Node& node(size_t i) const { return nodes_[i].spec; }
  const Load& load(size_t i) const { return nodes_[i].load; }
  Policy policy() const { return policy_; }

  // The scheduler's view of a node and of a request: names turned into small numbers, so that
  // filters compare integers (placement/filters.cc, placement/scores.cc).
  struct NodeState {
    Node spec;
    Load load;
    double weight = 0;
    std::vector<uint32_t> labels;                    // interned "key=value", sorted
    std::vector<std::pair<uint32_t, uint32_t>> groups;  // interned group -> instances of it here
    uint32_t group_count(uint32_t group) const;
  };
  struct Compiled {
    double cpus = 0;
    uint64_t memory_mib = 0;
    std::vector<uint32_t> groups;  // empty: none
    std::vector<uint32_t> selector, excluded, affinity, anti_affinity;
    bool affinity_waived = false;  // the first of a group that wants itself: nowhere runs it yet
  };

 private:
  uint32_t intern(const std::string& text);
  Compiled compile(const Request& request);
  void count_groups(NodeState& node, const Request& request, int delta);
  bool schedulable(const NodeState& n) const { return n.spec.ready && !n.spec.cordoned; }
  void set_flags(size_t node, bool ready, bool cordoned);
  Unexpected no_node(const Request& request, const Compiled& c) const;

  Policy policy_;
  std::vector<NodeState> nodes_;
  std::unordered_map<std::string, uint32_t> names_;  // interned strings, from 1
  std::unordered_map<uint32_t, uint32_t> group_totals_;  // instances per group, every node
  double total_weight_ = 0;  // of schedulable nodes
  uint64_t placed_ = 0;      // instances counted on schedulable nodes
};

}  // namespace vessel::cluster::placement
