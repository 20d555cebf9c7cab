// Fuzz target: what a registry sends vessel before any digest can vouch for it: a manifest or
// index (with the Content-Type it came with) and a 401's WWW-Authenticate header, plus image
// references as clients give them. The first byte picks the parser; the rest is its input.
// Errors are fine; crashes, sanitizer reports and uncaught exceptions are not.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "daemon/images/image_reference.h"
#include "daemon/images/registry_manifest.h"
#include "daemon/images/www_authenticate.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vessel::daemon;
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: (void)parse_registry_manifest(input, ""); break;
    case 1: {
      // "content-type\n" then the body.
      auto nl = input.find('\n');
      if (nl == std::string_view::npos) return 0;
      (void)parse_registry_manifest(input.substr(nl + 1), input.substr(0, nl));
      break;
    }
    case 2: (void)parse_www_authenticate(input); break;
    case 3:
      if (auto r = parse_image_reference(input)) (void)r->to_string(), (void)is_loopback_registry(r->domain);
      break;
  }
  return 0;
}
