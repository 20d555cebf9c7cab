// Fuzzes the CLI's reading of vesseld's answer to an Upgrade request (attach, exec -it): the
// status line and headers (parse_response_head), then, for an error status, the JSON error body
// (error_from_response). The input's first "\r\n\r\n" splits head and body, as on the wire.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cli/client.h"
#include "cli/upgrade.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t end = in.find("\r\n\r\n");
  std::string_view head = in.substr(0, end);
  auto h = vessel::cli::parse_response_head(head);
  if (!h) return 0;
  if (h->status < 100 || h->status > 599) std::abort();
  if (h->status != 101 && end != std::string_view::npos) {
    auto error = vessel::cli::error_from_response(h->status, std::string(in.substr(end + 4)));
    if (error.message().empty()) std::abort();  // the CLI must always have something to print
  }
  return 0;
}
