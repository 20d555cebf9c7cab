// GET|POST /v1/instances/{name}/wait: answers when the instance has no guest process any more
// (stopped, or created and never started) with how it ended. Streamed so that a long wait
// survives the idle timeout: an empty line every 2 s while waiting, then one JSON line
// {"name","state","exit_code","exit_reason"} (or {"error",...} when the instance is deleted).
// The answer ends the hold of a --rm instance run with hold=1, which then goes (auto_remove.cc).
#include "base/log.h"
#include "daemon/api/router.h"

namespace vessel::daemon {

http::Response Api::wait_stream(const std::string& name) {
  auto first = manager_.get(name);
  if (!first) return error_response(first.error());
  http::Response resp;
  resp.content_type = "application/x-ndjson";
  auto from = std::make_shared<uint64_t>(events_.next_seq());
  auto quiet = std::make_shared<int>(0);
  Manager* manager = &manager_;
  EventBus* events = &events_;
  resp.stream = [name, from, quiet, manager, events](std::string& out) {
    auto now = manager->get(name);
    if (!now) {
      out = json::parse(error_response(now.error()).body).value_or(json::Json::object()).dump() + "\n";
      return false;
    }
    std::string state = now->value("state", "");
    if (state != "running" && state != "paused") {
      json::Json answer = {{"name", name}, {"state", state}, {"exit_code", (*now)["exit_code"]},
                           {"exit_reason", (*now)["exit_reason"]}};
      out = answer.dump() + "\n";
      manager->release_removal(name);
      return false;
    }
    if (events->stopped()) return false;
    (void)events->wait(*from, 500);  // wakes on any state change
    if (++*quiet >= 4) {
      *quiet = 0;
      out = "\n";
    }
    return true;
  };
  return resp;
}

}  // namespace vessel::daemon
