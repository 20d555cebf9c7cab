// Firecracker-compatible control API over HTTP on a Unix socket: configure before boot (PUT
// /boot-source, /machine-config, /drives/{id}, /entropy), start (PUT /actions InstanceStart),
// pause/resume (PATCH /vm), inspect (GET /, /machine-config, /vm/config, /metrics). Errors are
// {"fault_message": ...} with 400 (bad request), 404 (no such resource), 405 (wrong method),
// 409? no: Firecracker answers 400 for operations not allowed in the current state
// (docs/vmm-api.md).
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>

#include "http/http.h"
#include "vmm/api/vm_config.h"
#include "vmm/machine.h"

namespace vessel::vmm {

class ApiController {
 public:
  explicit ApiController(VmConfig initial, MachineOptions options)
      : config_(std::move(initial)), options_(options) {}

  http::Response handle(const http::Request& request);

  // Starts the VM from the current configuration (also used by --config-file).
  Result<void> start_instance();
  // Blocks until the VM has been started (by the API or start_instance); returns it.
  Machine* wait_started();
  Machine* machine();
  // Called when SendCtrlAltDel is requested (set by main: injects the key sequence).
  std::function<Result<void>()> on_ctrl_alt_del;

 private:
  http::Response dispatch(const http::Request& request);
  VmConfig config_;
  MachineOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<Machine> machine_;
};

http::Response fault(int status, const std::string& message);

}  // namespace vessel::vmm
