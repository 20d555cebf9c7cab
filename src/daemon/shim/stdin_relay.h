// A container's stdin without a terminal (`vessel run -i`, docs/daemon/run.md "Stdin"), held by
// vessel-shim: the container reads a pipe whose write end only the shim has, so the command sees
// no EOF while nobody is attached. The first client of the serve socket (vesseld's console route,
// `vessel run -i`, `vessel attach`) feeds it; when that client's input ends, the pipe is closed
// and the command sees EOF, once (Docker's StdinOnce). Output goes to the log, as without -i.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "base/error.h"
#include "base/fd.h"

namespace vessel::shim {

class StdinRelay {
 public:
  // Makes the pipe; `container_end()` is what the runtime's create gets as its stdin.
  static Result<std::unique_ptr<StdinRelay>> prepare(const std::string& serve);
  StdinRelay(const StdinRelay&) = delete;
  StdinRelay& operator=(const StdinRelay&) = delete;
  ~StdinRelay();

  int container_end() const { return read_end_.get(); }
  // After a successful create: the shim's copy of the read end goes; clients are served.
  Result<void> start();
  // The container ended: no more clients.
  void finish();

 private:
  StdinRelay(std::string serve, Fd read_end, Fd write_end)
      : serve_(std::move(serve)), read_end_(std::move(read_end)), write_end_(std::move(write_end)) {}
  void serve_first_client();

  std::string serve_;
  Fd read_end_, write_end_, listener_;
  std::optional<std::thread> input_;
};

}  // namespace vessel::shim
