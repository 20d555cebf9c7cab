#include "daemon/instances/exit_status.h"

#include <signal.h>
#include <sys/wait.h>

#include <thread>

#include "base/fd.h"
#include "daemon/instances/backend.h"

namespace vessel::daemon {

json::Json ExitInfo::to_json() const {
  json::Json j = {{"exit_code", code ? json::Json(*code) : json::Json(nullptr)}, {"exit_reason", reason},
                  {"oom_killed", oom_killed}};
  if (!detail.empty()) j["exit_detail"] = detail;
  return j;
}

std::optional<ExitInfo> parse_exit_file(std::string_view text) {
  auto j = json::parse(text);
  if (!j || !j->is_object() || !j->contains("exit") || !(*j)["exit"].is_object()) return std::nullopt;
  const auto& e = (*j)["exit"];
  ExitInfo info;
  auto code = e.find("code");
  if (code != e.end() && code->is_number_integer()) {
    int64_t c = code->get<int64_t>();
    if (c >= 0 && c <= 255) info.code = c;  // a file we did not write: keep only what an exit status can be
  }
  auto text_of = [&](const char* key, size_t max) {
    auto it = e.find(key);
    std::string s = it != e.end() && it->is_string() ? it->get<std::string>() : std::string();
    if (s.size() > max) s.resize(max);
    return s;
  };
  info.reason = text_of("kind", 32);
  if (info.reason.empty()) info.reason = "unknown";
  info.detail = text_of("reason", 512);
  return info;
}

std::optional<ExitInfo> read_exit_file(const std::string& path, std::chrono::milliseconds wait) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    auto text = read_file(path);
    if (text) {
      if (auto info = parse_exit_file(*text)) return info;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

ExitInfo exit_from_wait_status(int status) {
  if (WIFEXITED(status)) return {WEXITSTATUS(status), "exited", {}};
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    return {128 + sig, sig == SIGKILL ? "killed" : "signal", fmt::format("signal {}", sig)};
  }
  return {std::nullopt, "unknown", {}};
}

ExitInfo Backend::exit_info(const InstanceContext& ctx, const GuestProcess* proc, std::chrono::milliseconds wait) {
  if (auto info = read_exit_file(ctx.dir + "/" + kExitFile, wait)) return *info;
  if (proc && proc->wait_status) return exit_from_wait_status(*proc->wait_status);
  return {std::nullopt, "unknown", "the guest's process ended without an exit file"};
}

}  // namespace vessel::daemon
