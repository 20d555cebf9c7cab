// A container's terminal, held by vessel-shim (docs/daemon/run.md "Terminals"): the runtime hands
// the pty master over a console socket during `create`; the shim then copies everything the
// container writes into its log and to the one client attached to the shim's console socket
// (vesseld's console route, `vessel run -t` and `vessel console`), and the client's keys into the
// terminal, where the container's line discipline turns Ctrl-C into SIGINT. The shim outlives
// vesseld, so the terminal does too. What the container prints before the first client attaches
// (up to 64 KiB) is kept for that client: `run -t` attaches only after the start.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/error.h"
#include "base/fd.h"
#include "base/rotating_log.h"

namespace vessel::shim {

class TtyRelay {
 public:
  // Listens on `handoff` (the runtime's --console-socket) before the runtime runs.
  static Result<std::unique_ptr<TtyRelay>> prepare(const std::string& handoff, const std::string& serve);
  TtyRelay(const TtyRelay&) = delete;
  TtyRelay& operator=(const TtyRelay&) = delete;
  ~TtyRelay();

  // After a successful create: takes the master (waiting at most 10 s for it), then starts
  // relaying into `log` and serving clients on the serve socket.
  Result<void> start(RotatingLog* log);
  // The container ended: the rest of its output reaches the log (at most 2 s), clients are hung up.
  void finish();

 private:
  TtyRelay(std::string handoff, std::string serve, Fd listener)
      : handoff_(std::move(handoff)), serve_(std::move(serve)), handoff_listener_(std::move(listener)) {}
  void copy_output(RotatingLog* log);
  void serve_clients();

  std::string handoff_, serve_;
  Fd handoff_listener_, master_, serve_listener_;
  std::mutex client_mutex_;  // client_ and pending_ change together
  std::atomic<int> client_{-1};
  std::string pending_;        // output before the first client, for it
  bool first_attached_ = false;
  std::atomic<bool> output_done_{false};
  std::optional<std::thread> output_, input_;
};

}  // namespace vessel::shim
