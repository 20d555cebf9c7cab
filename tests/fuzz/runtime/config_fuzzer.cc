// libFuzzer target: config.json parsing and validation (and seccomp name checks, and the systemd
// driver's unit properties from linux.resources) must never crash, hang or throw on any input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runtime/cgroups/systemd_properties.h"
#include "runtime/linux/seccomp.h"
#include "runtime/spec/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto spec = vessel::runtime::parse_spec(text);
  if (spec && spec->linux && spec->linux->seccomp) (void)vessel::runtime::check_seccomp(*spec->linux->seccomp);
  if (spec && spec->linux && spec->linux->resources)
    for (bool unified : {true, false}) (void)vessel::runtime::resource_properties(*spec->linux->resources, unified);
  auto doc = vessel::json::parse(text, 1 << 20, 32);
  if (doc && doc->is_object()) (void)vessel::runtime::parse_resources(*doc, "resources");
  return 0;
}
