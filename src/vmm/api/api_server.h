// Firecracker-compatible control API over HTTP on a Unix socket: configure before boot (PUT
// /boot-source, /machine-config, /drives/{id}, /entropy), start (PUT /actions InstanceStart),
// pause/resume (PATCH /vm), inspect (GET /, /machine-config, /vm/config, /metrics). Errors are
// {"fault_message": ...} with 400 (bad request), 404 (no such resource), 405 (wrong method);
// like Firecracker, 400 also for operations not allowed in the current state (docs/vmm/api.md).
//
// This runs on the API server's threads and owns no VM state: it parses each request into a
// VmmAction (api/vmm_action.h) and sends it to the VMM thread, whose reply becomes the response.
#pragma once

#include <functional>

#include "http/http.h"
#include "vmm/api/vmm_action.h"

namespace vessel::vmm {

class ApiController {
 public:
  // Delivers an action to the VM's owner and returns its reply (vessel-vmm: through the VMM
  // thread's mailbox; the fuzz target: a direct call).
  using Send = std::function<VmmReply(VmmAction)>;
  explicit ApiController(Send send) : send_(std::move(send)) {}

  http::Response handle(const http::Request& request) const;

 private:
  http::Response dispatch(const http::Request& request) const;
  Send send_;
};

http::Response fault(int status, const std::string& message);

}  // namespace vessel::vmm
