// POST /v1/build (docs/daemon/build.md): the body is the build context as a tar (Docker's
// API), the options are query arguments: t, dockerfile, buildargs (a JSON object), nocache,
// target, network; with ?progress=1 the answer is JSON lines as the build goes.
#include "daemon/api/router.h"
#include "daemon/api/progress_stream.h"
#include "daemon/build/builder.h"

namespace vessel::daemon {

namespace {

Result<build::BuildOptions> parse_build_request(const http::Request& r) {
  build::BuildOptions o;
  o.tag = r.query_arg("t");
  if (o.tag.empty()) return fail(EINVAL, "which name? POST /v1/build?t=NAME[:TAG]");
  if (auto f = r.query_arg("dockerfile"); !f.empty()) o.dockerfile = f;
  o.target = r.query_arg("target");
  o.no_cache = r.query_flag("nocache");
  if (auto n = r.query_arg("network"); !n.empty()) o.network = n;
  if (o.network != "host" && o.network != "none") return fail(EINVAL, "network={}: host or none", o.network);
  if (auto args = r.query_arg("buildargs"); !args.empty()) {
    auto j = TRY_CTX(json::parse(args, 1 << 16, 4), "buildargs");
    if (!j.is_object()) return fail(EINVAL, "buildargs: expected a JSON object of strings");
    for (const auto& [k, v] : j.items()) {
      if (!v.is_string()) return fail(EINVAL, "buildargs: {} is not a string", k);
      o.build_args[k] = v.get<std::string>();
    }
  }
  return o;
}

}  // namespace

bool Api::is_build_upload(const http::Request& r) { return r.method == "POST" && r.path == "/v1/build"; }

http::Response Api::build_route(const http::Request& r, std::string& label) {
  label = "POST /v1/build";
  if (r.method != "POST") return error_response(Error(EINVAL, fmt::format("{} {}: only POST", r.method, r.path)), 405);
  if (!build_) return error_response(Error(ENOTSUP, "this vesseld does not build images"));
  auto options = parse_build_request(r);
  if (!options) return error_response(options.error(), 400);
  if (!r.query_flag("progress")) {
    auto j = build::build_image(*build_, r.body, *options, [](const json::Json&) {});
    return j ? ok(*j, 201) : error_response(j.error());
  }
  return progress_stream(
      [this, options = *options, body = r.body](const PushStep& push) {
        return build::build_image(*build_, body, options, push);
      },
      fmt::format("the build of {}", options->tag));
}

}  // namespace vessel::daemon
