// The bodies of PUT /migration/send and PUT /migration/receive (docs/vmm/api.md, docs/vmm/
// migration.md): Cloud Hypervisor's field names (destination_url, receiver_url, downtime_ms) on
// Firecracker-style resource paths. Parsed on the API thread into typed actions.
#pragma once

#include "http/http.h"
#include "vmm/api/vmm_action.h"

namespace vessel::vmm {

Result<VmmAction> parse_migration_send_request(const http::Request& r);
Result<VmmAction> parse_migration_receive_request(const http::Request& r);

}  // namespace vessel::vmm
