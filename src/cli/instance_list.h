// `vessel ls` as Docker's `ps`: statuses ("Up 3 minutes (healthy)", "Exited (0) 5 seconds ago"),
// ages, published ports, and the filters of -a and --filter KEY=VALUE.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "base/json.h"

namespace vessel::cli {

// Docker's rounding of an age: "Less than a second", "5 seconds", "About a minute", "3 hours", ...
std::string human_duration(int64_t seconds);
// The STATUS column for one instance (GET /v1/instances), `now` in unix seconds.
std::string instance_status(const json::Json& instance, int64_t now);
// "0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp" from the spec's "ports".
std::string ports_text(const json::Json& ports);
// The table `vessel ls` prints: NAME TYPE IMAGE CREATED STATUS PORTS.
std::string instances_table(const json::Json& list, int64_t now);

// --filter name=, status=, label=KEY[=VALUE], type=vm|container (Docker's rules: values of one
// key are alternatives, except labels, which must all match; different keys must all match).
struct InstanceFilter {
  std::map<std::string, std::vector<std::string>> values;  // key -> the values given
  bool all = false;                                         // -a: stopped ones too
};
// Adds one --filter KEY=VALUE; EINVAL for an unknown key or a status no instance can have.
Result<void> add_filter(InstanceFilter& filter, const std::string& text);
bool matches(const InstanceFilter& filter, const json::Json& instance);
// The instances of `list` that `filter` keeps, in order. Without -a and without a status
// filter only running and paused ones (as `docker ps`).
json::Json filter_instances(const json::Json& list, const InstanceFilter& filter);

}  // namespace vessel::cli
