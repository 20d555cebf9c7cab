// The host side of vessel-agent's tree operations (agent/protocol/tree.h, docs/vmm/agent.md#trees):
// what `vessel cp` uses for VMs. Everything from the guest is checked: each entry by the typed
// parser (relative names without "." or ".." components, sizes, types), the entry count and the
// bytes against the caller's limits, a file's bytes against its entry's size, and every wait has a
// deadline.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "agent/client/agent_client.h"
#include "agent/protocol/tree.h"

namespace vessel::agent {

Result<PathInfo> stat_path(const std::string& uds_path, const std::string& guest_path, bool follow,
                           Millis timeout = Millis(5000));
// The same on a connection of the caller's (tests: the agent on a socketpair).
Result<PathInfo> stat_path(AgentConnection& conn, const std::string& guest_path, bool follow,
                           Millis timeout);

struct TreeLimits {
  uint64_t max_entries = 1 << 20;
  uint64_t max_bytes = uint64_t{1} << 30;  // all files together
};

// Streams the tree at `guest_path`: `on_entry` for each entry (the top's path is ""), then, for a
// regular file, `on_data` with its bytes in pieces (exactly its size in total).
Result<void> tree_out(const std::string& uds_path, const std::string& guest_path, bool follow,
                      const TreeLimits& limits,
                      const std::function<Result<void>(const TreeEntry&)>& on_entry,
                      const std::function<Result<void>(std::string_view)>& on_data, Millis timeout);
Result<void> tree_out(AgentConnection& conn, const std::string& guest_path, bool follow,
                      const TreeLimits& limits,
                      const std::function<Result<void>(const TreeEntry&)>& on_entry,
                      const std::function<Result<void>(std::string_view)>& on_data, Millis timeout);

// Sends a tree into the existing guest directory `guest_path`: entry(), then a file's bytes with
// data() (exactly its size), end_file(); finish() waits for the agent's answer.
class TreeUpload {
 public:
  static Result<TreeUpload> open(const std::string& uds_path, const std::string& guest_path,
                                 bool owners, Millis timeout);
  static Result<TreeUpload> start(AgentConnection conn, const std::string& guest_path, bool owners,
                                  Millis timeout);
  Result<void> entry(const TreeEntry& e);
  Result<void> data(std::string_view bytes);
  Result<void> end_file();
  // The agent's count of entries and bytes.
  Result<std::pair<uint64_t, uint64_t>> finish();

 private:
  TreeUpload(AgentConnection conn, Millis timeout) : conn_(std::move(conn)), timeout_(timeout) {}
  // A write failed: the agent may have said why before it closed.
  Error why(Error write_error);
  AgentConnection conn_;
  Millis timeout_;
};

}  // namespace vessel::agent
