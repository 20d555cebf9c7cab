#include "cli/progress_lines.h"

#include <cstdio>

#include "cli/client.h"
#include "cli/format.h"

namespace vessel::cli {

bool ProgressLines::feed(std::string_view data) {
  pending_.append(data);
  size_t nl;
  while ((nl = pending_.find('\n')) != std::string::npos) {
    std::string text = pending_.substr(0, nl);
    auto line = json::parse(text);
    pending_.erase(0, nl + 1);
    if (!line || !line->is_object()) continue;
    if (each_) each_(text, *line);
    if (line->contains("progress") && bar_) {
      std::fprintf(stderr, "\r%s", progress_bar(line->value("done", uint64_t{0}), line->value("total", uint64_t{0}),
                                                line->value("progress", std::string())).c_str());
      drawn_ = true;
    }
    if (line->contains("result")) result_ = (*line)["result"];
    if (line->contains("error")) error_ = error_from_response(400, line->dump());
  }
  return true;
}

Result<json::Json> ProgressLines::finish() {
  if (drawn_) std::fprintf(stderr, "\n");
  if (error_) return Unexpected(*error_);
  if (!result_) return fail(EPROTO, "vesseld's answer ended without a result");
  return *result_;
}

}  // namespace vessel::cli
