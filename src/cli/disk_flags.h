// `--disk` values: "PATH", "PATH:ro" (as before), or comma-separated keys like
// "path=/x.qcow2,format=qcow2,ro" and "size=1G" (an empty qcow2 private to the instance).
#pragma once

#include <string>

#include "base/error.h"
#include "base/json.h"

namespace vessel::cli {

// An instance's disk as the daemon's spec wants it ({"path","format","read_only"} or
// {"size_mib"}). Relative paths are made absolute.
Result<json::Json> parse_instance_disk(const std::string& text);

// An image's disk for `image import --vm`: "PATH" or "path=PATH,format=raw|qcow2" ->
// {"path"[, "format"]}.
Result<json::Json> parse_image_disk(const std::string& text);

}  // namespace vessel::cli
