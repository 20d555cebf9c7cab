// vessel-agent's control messages (docs/vmm/agent.md): the requests a host sends and the replies
// the agent gives, as JSON objects in control frames. Both directions are parsed into typed
// values with every field checked (types, counts, lengths) before anyone acts on them: on the
// host the replies come from a hostile guest.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

namespace vessel::agent {

using Json = nlohmann::json;
template <typename T>
using Parsed = tl::expected<T, std::string>;

inline constexpr size_t kMaxArgs = 1024;          // argv and env entries each
inline constexpr size_t kMaxArgBytes = 32 * 1024;  // one entry
inline constexpr size_t kMaxPath = 4096;
inline constexpr size_t kMaxFilesystems = 64;
inline constexpr int kMaxDepth = 8;

struct ExecRequest {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "KEY=value"
  std::string cwd = "/";
  bool tty = false;
  uint16_t rows = 24, cols = 80;
};
struct HealthRequest {};
struct StatsRequest {};
struct ShutdownRequest {};
struct CopyInRequest {
  std::string path;  // absolute, in the guest
  uint32_t mode = 0644;
};
struct CopyOutRequest {
  std::string path;
};
// Trees (agent/protocol/tree.h): {"op": "stat"|"tree-out", "path", "follow": bool} and
// {"op": "tree-in", "path": an existing directory, "owners": bool (apply each entry's uid/gid)}.
struct StatRequest {
  std::string path;
  bool follow = false;
};
struct TreeOutRequest {
  std::string path;
  bool follow = false;
};
struct TreeInRequest {
  std::string path;
  bool owners = false;
};
using Request = std::variant<ExecRequest, HealthRequest, StatsRequest, ShutdownRequest, CopyInRequest, CopyOutRequest,
                             StatRequest, TreeOutRequest, TreeInRequest>;

// During exec, from the host: a terminal size change or a signal for the command.
struct ResizeMessage {
  uint16_t rows = 24, cols = 80;
};
struct SignalMessage {
  int signal = 15;
};
using ExecControl = std::variant<ResizeMessage, SignalMessage>;

// A JSON object of at most kMaxDepth levels (a frame bounds its size).
Parsed<Json> parse_object(std::string_view text);

Parsed<Request> parse_request(std::string_view text);
std::string to_json(const Request& request);
Parsed<ExecControl> parse_exec_control(std::string_view text);
std::string to_json(const ExecControl& message);

// Replies: {"ok": true, ...} or {"ok": false, "error": "..."} (error: at most 4 KiB).
struct Reply {
  bool ok = false;
  std::string error;
  Json body;  // the whole object
};
Parsed<Reply> parse_reply(std::string_view text);
std::string ok_reply(Json fields = Json::object());
std::string error_reply(std::string_view message);

struct ExitStatus {
  std::optional<int> code;    // 0..255
  std::optional<int> signal;  // 1..64
};
// {"op": "exit", "exit_code": N} or {"op": "exit", "signal": N}
Parsed<ExitStatus> parse_exit(std::string_view text);
std::string to_json(const ExitStatus& status);

struct Health {
  double uptime_s = 0;
  std::string version;
};
Parsed<Health> parse_health(const Json& body);

struct FsStats {
  std::string path;
  uint64_t total_bytes = 0, free_bytes = 0, avail_bytes = 0;
};
struct Stats {
  uint64_t mem_total_kb = 0, mem_free_kb = 0, mem_available_kb = 0;
  double load[3] = {0, 0, 0};
  std::vector<FsStats> filesystems;
};
Parsed<Stats> parse_stats(const Json& body);
Json to_json(const Stats& stats);

struct FileInfo {
  uint64_t size = 0;
  uint32_t mode = 0;
};
Parsed<FileInfo> parse_file_info(const Json& body);

}  // namespace vessel::agent
