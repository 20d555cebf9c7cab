// vesseld's answers that report as they go (POST /v1/images?progress=1, POST
// /v1/instances/import?progress=1): JSON lines {"progress": STEP, "done", "total"}, then
// {"result": ...} or {"error": ...}. Shown as a bar on a terminal.
#pragma once

#include <functional>

#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"
#include "base/json.h"

namespace vessel::cli {

class ProgressLines {
 public:
  // `each`: called with every JSON object line (its text too) as it arrives (vessel build shows
  // its steps and RUN's output so).
  using EachLine = std::function<void(const std::string& text, const json::Json& line)>;
  explicit ProgressLines(bool bar, EachLine each = {}) : bar_(bar), each_(std::move(each)) {}
  // Takes the next bytes of the answer (always true: read on).
  bool feed(std::string_view data);
  // After the answer ended: the result, or the error it reported.
  Result<json::Json> finish();

 private:
  bool bar_;
  EachLine each_;
  bool drawn_ = false;
  std::string pending_;
  std::optional<json::Json> result_;
  std::optional<Error> error_;
};

}  // namespace vessel::cli
