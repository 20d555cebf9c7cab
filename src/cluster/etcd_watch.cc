// Client::watch: /v3/watch answers with one JSON message per line for as long as the request
// stays open.
#include "base/base64.h"
#include "cluster/etcd_client.h"
#include "http/http.h"

namespace vessel::cluster::etcd {

Result<void> Client::watch(const WatchRequest& request,
                           const std::function<bool(const WatchMessage&)>& on_message) const {
  json::Json create = {{"key", base64_encode(request.key)}};
  if (!request.range_end.empty()) create["range_end"] = base64_encode(request.range_end);
  if (request.start_revision > 0) create["start_revision"] = std::to_string(request.start_revision);
  std::string body = json::dump(json::Json{{"create_request", create}});
  const std::string& url = config_.endpoints[preferred_.load() % config_.endpoints.size()];

  http::ClientOptions o;
  o.cancelled = request.cancelled;
  LineSplitter lines;
  std::optional<Error> broken;  // a bad message, or a watch etcd cancelled
  bool stopped = false;         // on_message said enough
  auto on_data = [&](std::string_view bytes) {
    if (auto r = lines.append(bytes); !r) return broken = r.error(), false;
    while (auto line = lines.next()) {
      auto parsed = json::parse(*line);
      if (!parsed) return broken = parsed.error().add_context("etcd watch"), false;
      auto message = parse_watch(*parsed);
      if (!message) return broken = std::move(message).error().add_context("etcd watch"), false;
      if (message->canceled)
        return broken = Error(message->compact_revision > 0 ? ERANGE : ECANCELED,
                              fmt::format("etcd cancelled the watch: {} (compacted at revision {})",
                                          message->cancel_reason, message->compact_revision)),
               false;
      if (!on_message(*message)) return stopped = true, false;
    }
    return true;
  };
  auto answer = http::request_stream_headers(o, "POST", url + "/v3/watch", body, "application/json", on_data);
  if (broken) return Unexpected(std::move(*broken));
  if (stopped) return {};
  if (!answer) {
    if (answer.error().errnum() == ECANCELED) return Unexpected(std::move(answer).error());
    preferred_.store((preferred_.load() + 1) % config_.endpoints.size());  // the next watch tries another
    return Unexpected(Error(EHOSTUNREACH, fmt::format("etcd watch: {}", answer.error().message())));
  }
  if (answer->status != 200) return Unexpected(error_of(answer->status, answer->body).add_context("etcd watch"));
  return fail(EPIPE, "etcd at {} ended the watch", url);
}

}  // namespace vessel::cluster::etcd
