#include "cli/client.h"

#include "http/http.h"
#include "cli/remote.h"

namespace vessel::cli {

Error Client::unreachable(const Error& e) const {
  if (!remote_.url.empty()) {
    std::string hint = e.hint().empty() ? "is vesseld listening there (vesseld --listen tcp://ADDR:PORT)?" : e.hint();
    return Error(e.errnum(), fmt::format("cannot reach vesseld at {}: {}", remote_.url, e.message())).with_hint(hint);
  }
  return Error(e.errnum(), fmt::format("cannot reach vesseld at {}: {}", socket_, e.to_string()))
      .with_hint("is vesseld running? start it (systemctl start vesseld) or pass --socket / set VESSEL_SOCKET");
}

Error error_from_response(long status, const std::string& body) {
  auto j = json::parse(body);
  // An empty "error" says nothing: then the status and the body are what there is to print.
  if (j && j->is_object() && j->contains("error") && (*j)["error"].is_string() &&
      !(*j)["error"].get<std::string>().empty()) {
    int errnum = j->contains("errno") && (*j)["errno"].is_number_integer() ? (*j)["errno"].get<int>() : 0;
    Error e(errnum, (*j)["error"].get<std::string>());
    // The daemon's message already carries strerror; keep errno for exit codes only.
    Error plain(0, e.message());
    if (j->contains("hint") && (*j)["hint"].is_string()) return std::move(plain).with_hint((*j)["hint"].get<std::string>());
    return plain;
  }
  return Error(0, fmt::format("vesseld answered HTTP {}: {}", status, body.substr(0, 500)));
}

Result<json::Json> Client::call(const std::string& method, const std::string& path, const json::Json& body) {
  auto [options, base] = TRY(target());
  auto r = http::request(options, method, base + path, body.is_null() ? "" : body.dump());
  if (!r) return Unexpected(unreachable(r.error()));
  if (r->status >= 400) return Unexpected(error_from_response(r->status, r->body));
  if (r->status == 204 || r->body.empty()) return json::Json();
  return TRY_CTX(json::parse(r->body), "vesseld's answer to {} {}", method, path);
}

Result<std::string> Client::call_text(const std::string& method, const std::string& path) {
  auto [options, base] = TRY(target());
  auto r = http::request(options, method, base + path);
  if (!r) return Unexpected(unreachable(r.error()));
  if (r->status >= 400) return Unexpected(error_from_response(r->status, r->body));
  return r->body;
}

Result<void> Client::stream(const std::string& method, const std::string& path, const std::string& body,
                            const std::function<bool(std::string_view)>& on_data) {
  auto [options, base] = TRY(target());
  // An error answer arrives through on_data too (as JSON): callers check the target first.
  std::string head;
  auto r = http::request_stream(options, method, base + path, body, [&](std::string_view data) {
    if (head.size() < 65536) head.append(data.substr(0, 65536 - head.size()));
    return on_data(data);
  });
  if (!r) return Unexpected(unreachable(r.error()));
  if (*r >= 400) return Unexpected(error_from_response(*r, head));
  return {};
}

Result<http::ClientResponse> Client::exchange(const std::string& method, const std::string& path,
                                             const std::string& body, const std::string& content_type,
                                             const std::function<bool(std::string_view)>& on_data,
                                             std::function<void(uint64_t, uint64_t)> upload_progress) {
  auto [options, base] = TRY(target());
  options.upload_progress = std::move(upload_progress);
  auto r = http::request_stream_headers(options, method, base + path, body, content_type, on_data);
  if (!r) return Unexpected(unreachable(r.error()));
  return r;
}

}  // namespace vessel::cli

namespace vessel::cli {

Result<std::pair<http::ClientOptions, std::string>> Client::target() const {
  http::ClientOptions options;
  if (remote_.url.empty()) {
    options.unix_socket = socket_;
    return std::make_pair(options, std::string("http://localhost"));
  }
  TRY(remote_options(remote_, options));
  std::string base = remote_.url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return std::make_pair(options, base);
}

}  // namespace vessel::cli
