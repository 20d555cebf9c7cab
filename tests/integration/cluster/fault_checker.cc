#include "fault_checker.h"

#include <signal.h>

#include <algorithm>

namespace vessel::test {

using namespace std::chrono_literals;

const char* to_string(FaultKind kind) {
  switch (kind) {
    case FaultKind::KillNode: return "kill-node";
    case FaultKind::KillVesseld: return "kill-vesseld";
    case FaultKind::PauseVesseld: return "pause-vesseld";
    case FaultKind::Partition: return "partition";
    case FaultKind::EtcdMemberRestart: return "etcd-member-restart";
  }
  return "?";
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

std::vector<FaultKind> fault_plan(int runs, std::mt19937_64& rng) {
  const char* only = std::getenv("VESSEL_FAULT_KINDS");  // e.g. "partition,kill-node"
  std::vector<FaultKind> plan;
  while (static_cast<int>(plan.size()) < runs) {
    std::vector<FaultKind> block;
    for (int k = 0; k < kFaultKinds; ++k)
      if (!only || !*only || std::string(",").append(only).append(",").find(
                                 std::string(",") + to_string(static_cast<FaultKind>(k)) + ",") != std::string::npos)
        block.push_back(static_cast<FaultKind>(k));
    if (block.empty()) block.push_back(FaultKind::KillNode);
    std::shuffle(block.begin(), block.end(), rng);
    plan.insert(plan.end(), block.begin(), block.end());
  }
  plan.resize(static_cast<size_t>(runs));
  return plan;
}

void Tally::add(const RunResult& r) {
  ++runs;
  ++by_kind[to_string(r.kind)];
  split_brain += r.split_brain;
  late += r.late;
  lost += r.lost;
  if (r.recovery) recoveries.push_back(*r.recovery);
}

std::string Tally::summary() const {
  std::string kinds;
  for (const auto& [kind, n] : by_kind) kinds += fmt::format(" {}={}", kind, n);
  return fmt::format(
      "fault checker: {} runs (faults:{}); split brain {}, lost {}, late (>10 s after the fault) {}; "
      "recovery (fault start to every instance running, over the {} runs where one stopped) p50 {:.2f} s, p99 {:.2f} s, "
      "max {:.2f} s",
      runs, kinds, split_brain, lost, late, recoveries.size(), percentile(recoveries, 0.5),
      percentile(recoveries, 0.99), recoveries.empty() ? 0.0 : *std::max_element(recoveries.begin(), recoveries.end()));
}

FaultChecker::~FaultChecker() {
  sampler_.reset();
  for (auto& n : nodes_) ::kill(n->daemon->pid(), SIGCONT);  // a failed run may leave one stopped
  for (int n = 1; n <= static_cast<int>(nodes_.size()); ++n) network_.partition(n, false);
  if (!nodes_.empty()) {
    for (const auto& name : names_) nodes_[0]->daemon->vessel({"rm", "--force", name});
    eventually([&] { return std::all_of(tokens_.begin(), tokens_.end(), [](const auto& t) { return copies(t).empty(); }); },
               200);
  }
  nodes_.clear();
}

bool FaultChecker::setup(std::string* error) {
  if (!network_.create(3, 3, error)) return false;
  if (!etcd_.start(3, ClusterNetwork::member_address, error)) return false;
  make_busybox_rootfs(images_.path + "/rootfs");
  nodes_ = make_nodes(3, etcd_.urls(), ttl_, {network_.launcher(1), network_.launcher(2), network_.launcher(3)});
  for (auto& n : nodes_)
    if (!n->daemon->start()) return *error = n->name + " did not start: " + n->daemon->log(), false;
  for (int i = 1; i <= instance_count_; ++i) {
    names_.push_back("web-" + std::to_string(i));
    tokens_.push_back(fmt::format("vessel-fault-{}-{}", ::getpid(), i));
    auto r = run_clustered(*nodes_[0]->daemon, names_.back(), images_.path + "/rootfs", tokens_.back());
    if (r.status != 0) return *error = "run " + names_.back() + ": " + r.err, false;  // acknowledged from here on
  }
  sampler_ = std::make_unique<CopySampler>(tokens_);
  if (!steady(30s)) return *error = "the instances did not all run once within 30 s", false;
  return true;
}

std::string FaultChecker::logs() const {
  std::string out;
  for (const auto& n : nodes_) out += "---- " + n->name + "\n" + n->daemon->log();
  return out;
}

// Every instance has exactly one copy, and kept it for a second.
bool FaultChecker::steady(std::chrono::seconds within) const {
  auto deadline = Clock::now() + within;
  Clock::time_point ones_since{};
  while (Clock::now() < deadline) {
    auto s = sampler_->latest();
    bool ones = !s.counts.empty() && std::all_of(s.counts.begin(), s.counts.end(), [](size_t c) { return c == 1; });
    if (!ones) ones_since = {};
    else if (ones_since == Clock::time_point{}) ones_since = s.at;
    else if (s.at - ones_since >= 1s) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

Node* FaultChecker::holder_of(const std::string& instance, const Node* not_this) const {
  for (const auto& witness : nodes_) {
    if (witness.get() == not_this) continue;
    auto name = placement_of(*witness->daemon, instance).first;
    for (const auto& n : nodes_)
      if (n->name == name) return n.get();
  }
  return nullptr;
}

RunResult FaultChecker::run_once(FaultKind kind, std::mt19937_64& rng) {
  RunResult r;
  r.kind = kind;
  auto begin = Clock::now();
  Fault f = inject(kind, rng, r);
  // Every instance back within 10 s of the fault's end, and none left on a killed node (so that a
  // copy it left running would meet the new one); then the faulted node comes back.
  bool killed = kind == FaultKind::KillNode || kind == FaultKind::KillVesseld;
  auto bound = f.end + 10s;
  while (Clock::now() < bound) {
    auto s = sampler_->latest();
    bool ones = s.at > f.end && std::all_of(s.counts.begin(), s.counts.end(), [](size_t c) { return c == 1; });
    if (ones && (!killed || std::none_of(names_.begin(), names_.end(), [&](const std::string& name) {
                   return holder_of(name, f.node) == f.node;
                 })))
      break;
    std::this_thread::sleep_for(50ms);
  }
  restore(kind, f, r);
  if (!steady(30s)) r.detail += "not every instance ran once again within 30 s; ";
  judge(f, r);
  r.lost = unacknowledged(&r.detail);
  sampler_->forget_before(begin);
  return r;
}


}  // namespace vessel::test
