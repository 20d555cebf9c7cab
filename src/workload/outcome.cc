#include "workload/outcome.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace vessel::workload {

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

std::string to_json(const Outcome& o) {
  // Names and units are our own constants (letters only): nothing to escape.
  double rate = o.seconds > 0 ? o.work / o.seconds : 0;
  char buf[512];
  std::snprintf(
      buf, sizeof buf,
      "{\"workload\":\"%s\",\"work\":%.17g,\"unit\":\"%s\",\"seconds\":%.9g,\"rate\":%.9g,"
      "\"checksum\":\"%016llx\"}",
      o.workload.c_str(), o.work, o.unit.c_str(), o.seconds, rate,
      static_cast<unsigned long long>(o.checksum));
  return buf;
}

}  // namespace vessel::workload
