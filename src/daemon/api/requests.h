// Parsers for the API's request bodies (besides the instance spec): each validates everything
// and rejects unknown fields before the handler acts. Fuzzed by tests/fuzz/daemon_api.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"

namespace vessel::daemon {

struct StopRequest {
  std::optional<uint32_t> timeout_s;
  bool force = false;
};
struct ExecRequest {
  std::vector<std::string> command;
};
struct ImageRequest {
  std::string name;
  std::string type = "container";  // "container": archive; "vm": kernel [+ initramfs]
  std::string archive;             // container: absolute path of the tarball on the host
  std::string kernel, initramfs, cmdline;  // vm
  std::vector<std::pair<std::string, std::string>> disks;  // vm: {path, format ("" = probe)}
};

struct CheckpointRequest {
  bool leave_running = false;
  std::string export_path;  // "export": also write the checkpoint to this host file (a tar)
};
struct RestoreRequest {
  std::string import_path;  // "import": restore from this host file (a checkpoint's export)
};

// An empty body means defaults.
Result<StopRequest> parse_stop_request(std::string_view body);
Result<ExecRequest> parse_exec_request(std::string_view body);
Result<ImageRequest> parse_image_request(std::string_view body);
Result<CheckpointRequest> parse_checkpoint_request(std::string_view body);
Result<RestoreRequest> parse_restore_request(std::string_view body);

}  // namespace vessel::daemon
