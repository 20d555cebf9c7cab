// Fuzz target: -u/--user and an image's USER against the image's own /etc/passwd and /etc/group
// (container_user.h). The input is "USER\0PASSWD\0GROUP"; missing parts are empty.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "daemon/instances/container_user.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view parts[3];
  for (auto& part : parts) {
    size_t nul = in.find('\0');
    part = in.substr(0, nul);
    in = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
  }
  auto user = vessel::daemon::resolve_user(parts[0], parts[1], parts[2]);
  if (user && user->uid == 0xffffffffu) __builtin_trap();  // (uid_t)-1 must never come out
  return 0;
}
