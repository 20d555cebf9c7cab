// POST /v1/images/{pull,push,save,login,tag} (docs/daemon/registry.md): the image
// verbs that speak to registries, or name images as references. Credentials come in the body
// (the CLI reads the user's auth files), never from vesseld's own environment.
#include <fcntl.h>

#include "base/fd.h"
#include "daemon/api/progress_stream.h"
#include "daemon/api/router.h"

namespace vessel::daemon {

namespace {

struct RegistryRequest {
  std::string ref, server, source, target, image, format;
  std::optional<http::Credentials> credentials;
};

Result<RegistryRequest> parse_registry_request(const http::Request& r) {
  RegistryRequest out;
  out.ref = r.query_arg("ref");
  if (r.body.empty()) return out;
  auto body = TRY_CTX(json::parse(r.body, 1 << 16, 8), "request body");
  if (!body.is_object()) return fail(EINVAL, "request body: expected a JSON object");
  TRY(json::reject_unknown(body, "request body", {"ref", "server", "source", "target", "image", "format", "username", "password"}));
  if (auto ref = TRY(json::opt_string(body, "request body", "ref"))) out.ref = *ref;
  out.server = TRY(json::opt_string(body, "request body", "server")).value_or("");
  out.source = TRY(json::opt_string(body, "request body", "source")).value_or("");
  out.target = TRY(json::opt_string(body, "request body", "target")).value_or("");
  out.image = TRY(json::opt_string(body, "request body", "image")).value_or("");
  out.format = TRY(json::opt_string(body, "request body", "format")).value_or("");
  auto user = TRY(json::opt_string(body, "request body", "username"));
  auto password = TRY(json::opt_string(body, "request body", "password"));
  if (user.has_value() != password.has_value()) return fail(EINVAL, "request body: username and password go together");
  if (user) out.credentials = http::Credentials{*user, *password};
  return out;
}

http::Response registry_answer(const Result<json::Json>& j, int status = 200) {
  return j ? http::Response::json(status, json::dump(*j) + "\n") : Api::error_response(j.error());
}

}  // namespace

http::Response Api::registry_route(const http::Request& r, const std::string& verb, std::string& label) {
  label = "POST /v1/images/" + verb;
  auto req = parse_registry_request(r);
  if (!req) return error_response(req.error(), 400);
  if (verb == "pull") {
    if (req->ref.empty()) return error_response(Error(EINVAL, "which image? POST /v1/images/pull?ref=REFERENCE"), 400);
    if (!r.query_flag("progress")) return registry_answer(images_.pull(req->ref, req->credentials, {}), 201);
    // Streamed: JSON lines of progress, then {"result": ...} or {"error": ...}.
    return progress_stream(
        [this, req = *req](const PushStep& push) {
          return images_.pull(req.ref, req.credentials, [&](const PullProgress& p) {
            push(json::Json{{"progress", p.step}, {"done", p.done}, {"total", p.total}, {"layers_present", p.layers_present}});
          });
        },
        fmt::format("the pull of {}", req->ref));
  }
  if (verb == "push") {
    if (req->image.empty() || req->ref.empty())
      return error_response(Error(EINVAL, "push needs image (the local name) and ref (where to)"), 400);
    if (!r.query_flag("progress")) return registry_answer(images_.push(req->image, req->ref, req->credentials, {}));
    return progress_stream(
        [this, req = *req](const PushStep& push) {
          return images_.push(req.image, req.ref, req.credentials, [&](const PushProgress& p) {
            push(json::Json{{"progress", p.step}, {"done", p.done}, {"total", p.total}, {"skipped", p.skipped}});
          });
        },
        fmt::format("the push of {}", req->ref));
  }
  if (verb == "save") {
    if (req->image.empty()) return error_response(Error(EINVAL, "save needs image (the local name)"), 400);
    auto format = parse_save_format(req->format);
    if (!format) return error_response(format.error(), 400);
    // Written whole into an unnamed file first: an error is an error answer, never half a tar.
    auto file = Fd::open(images_.dir() + "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (!file) return error_response(file.error());
    auto saved = images_.save(req->image, *format, file->get());
    if (!saved) return error_response(saved.error());
    auto stream = stream_from_start(std::move(*file));
    if (!stream) return error_response(stream.error());
    http::Response resp;
    resp.content_type = "application/x-tar";
    resp.stream = std::move(*stream);
    return resp;
  }
  if (verb == "login") {
    if (req->server.empty() || !req->credentials)
      return error_response(Error(EINVAL, "login needs server, username and password"), 400);
    auto checked = images_.check_login(req->server, *req->credentials);
    return checked ? registry_answer(json::Json{{"server", req->server}, {"status", "Login Succeeded"}}) : error_response(checked.error());
  }
  if (verb == "tag") {
    if (req->source.empty() || req->target.empty()) return error_response(Error(EINVAL, "tag needs source and target"), 400);
    return registry_answer(images_.tag(req->source, req->target), 201);
  }
  return error_response(Error(ENOENT, fmt::format("no such endpoint: {}", r.path)));
}

}  // namespace vessel::daemon
