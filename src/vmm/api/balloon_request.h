// The balloon's requests (docs/vmm/balloon.md): PUT, PATCH and GET /balloon, PATCH and GET
// /balloon/statistics, in Firecracker's shapes. Parsed on the API thread into typed actions.
#pragma once

#include "http/http.h"
#include "vmm/api/vmm_action.h"

namespace vessel::vmm {

Result<VmmAction> parse_balloon_request(const http::Request& r);
Result<VmmAction> parse_balloon_statistics_request(const http::Request& r);

}  // namespace vessel::vmm
