// Long work answered as it goes (image import, migration): the work runs on a thread of its own
// and the answer is JSON lines, each step it reports, then {"result": ...} or {"error": ...}.
#pragma once

#include <functional>
#include <string>

#include "base/error.h"
#include "base/json.h"
#include "http/http.h"

namespace vessel::daemon {

using PushStep = std::function<void(const json::Json& step)>;
// `work` reports its steps through the PushStep it is given; `what` names it in the log should it
// throw (nothing leaves its thread by exception).
http::Response progress_stream(std::function<Result<json::Json>(const PushStep&)> work, std::string what);

}  // namespace vessel::daemon
