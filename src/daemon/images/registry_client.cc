#include "daemon/images/registry_client.h"

// GCC 12 reports -Wfree-nonheap-object, wrongly, for TRY on Result<http::ClientResponse> (the
// inlined destructor of the moved-from expected<> frees a heap string it takes for a local).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
#endif

#include <algorithm>
#include <thread>

#include "base/base64.h"
#include "base/json.h"
#include "base/log.h"
#include "daemon/images/www_authenticate.h"

namespace vessel::daemon {

namespace {

constexpr size_t kMaxTokenAnswer = 1 << 20;
constexpr std::chrono::seconds kRequestTimeout{300};
// Answers read into memory (manifests, tokens, upload replies); blobs are streamed to files.
constexpr size_t kMaxAnswer = 8 << 20;  // manifests, tokens, uploads' small requests

bool retryable_status(long status) { return status == 429 || status == 500 || status == 502 || status == 503 || status == 504; }

std::string host_of(const std::string& url) {
  auto start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  auto end = url.find_first_of("/?#", start);
  std::string host = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  auto at = host.rfind('@');
  return at == std::string::npos ? host : host.substr(at + 1);
}

std::string query_escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

// The wait before attempt `attempt` (1-based retry count): Retry-After when the registry sent
// seconds, else the doubled back-off; never more than max_backoff.
std::chrono::milliseconds wait_before_retry(const RegistryOptions& o, unsigned attempt, const http::ClientResponse* r) {
  if (r != nullptr) {
    auto it = r->headers.find("retry-after");
    if (it != r->headers.end() && !it->second.empty() && it->second.size() < 6 &&
        std::all_of(it->second.begin(), it->second.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::min(o.max_backoff, std::chrono::milliseconds(std::stoul(it->second) * 1000));
  }
  auto wait = o.backoff * (1u << std::min(attempt - 1, 10u));
  return std::min(o.max_backoff, wait);
}

std::string basic_authorization(const http::Credentials& c) {
  return "Authorization: Basic " + base64_encode(c.username + ":" + c.password);
}

}  // namespace

bool plain_http_allowed(const std::string& host, const RegistryOptions& options) {
  return is_loopback_registry(host) ||
         std::find(options.insecure.begin(), options.insecure.end(), host) != options.insecure.end();
}

Error RegistryClient::answer_error(const http::ClientResponse& r, const std::string& what) {
  std::string detail;
  if (auto doc = json::parse(r.body, 1 << 16, 8); doc && doc->is_object() && doc->contains("errors") &&
                                                   (*doc)["errors"].is_array() && !(*doc)["errors"].empty()) {
    const auto& e = (*doc)["errors"][0];
    if (e.is_object()) {
      std::string code = e.contains("code") && e["code"].is_string() ? e["code"].get<std::string>() : "";
      std::string message = e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
      detail = (code + (message.empty() ? "" : ": " + message)).substr(0, 300);
    }
  }
  std::string text = fmt::format("{}: the registry answered {}{}", what, r.status, detail.empty() ? "" : " (" + detail + ")");
  switch (r.status) {
    case 401: return Error(EACCES, text).with_hint("log in with `vessel login REGISTRY`, or check the credentials");
    case 403: return Error(EACCES, text).with_hint("the credentials do not allow this on that repository");
    case 404: return Error(ENOENT, text).with_hint("check the repository name and the tag or digest");
    case 429: return Error(EAGAIN, text).with_hint("the registry limits requests: try again later");
    default: break;
  }
  if (r.status >= 500) return Error(EIO, text).with_hint("the registry failed; try again later");
  return Error(EPROTO, text);
}

Result<std::unique_ptr<RegistryClient>> RegistryClient::connect(const ImageReference& ref,
                                                                const std::optional<http::Credentials>& credentials,
                                                                const RegistryOptions& options, std::string actions) {
  std::unique_ptr<RegistryClient> c(new RegistryClient(ref, credentials, options, std::move(actions)));
  std::string host = ref.api_host();
  c->base_ = "https://" + host;
  auto pinged = c->ping();
  if (!pinged && pinged.error().errnum() == 0 && plain_http_allowed(host, options)) {
    // Docker's order for insecure registries: TLS first, plain HTTP when TLS fails.
    c->base_ = "http://" + host;
    pinged = c->ping();
  }
  if (!pinged) {
    auto err = std::move(pinged).error().add_context(fmt::format("registry {}", ref.domain));
    if (err.errnum() == 0 && err.hint().empty() && !plain_http_allowed(host, options))
      return Unexpected(std::move(err).with_hint(fmt::format(
          "if {} serves plain HTTP, start vesseld with --insecure-registry {} (only for networks you trust)", host, host)));
    return Unexpected(std::move(err));
  }
  return c;
}

http::ClientOptions RegistryClient::client_options(std::vector<std::string> headers) const {
  http::ClientOptions o;
  o.max_redirects = options_.max_redirects;
  o.stall_timeout = options_.stall_timeout;
  std::string auth = authorization();
  if (!auth.empty()) headers.push_back(auth);
  o.headers = std::move(headers);
  return o;
}

std::string RegistryClient::authorization() const {
  std::lock_guard lock(mutex_);
  return authorization_;
}

std::string RegistryClient::url(const std::string& path_or_url) const {
  if (path_or_url.starts_with("https://") || path_or_url.starts_with("http://")) return path_or_url;
  return base_ + path_or_url;
}

Result<void> RegistryClient::ping() {
  auto options = client_options({});
  options.timeout = std::chrono::seconds(30);
  options.max_redirects = 0;
  auto r = TRY(http::request(options, "GET", base_ + "/v2/", "", ""));
  if (r.status == 200) return {};
  if (r.status == 401) {
    TRY(authenticate(r));
    // Again with the credentials or token: a registry refuses wrong ones here, not later.
    auto again = TRY(http::request(client_options({}), "GET", base_ + "/v2/", "", ""));
    if (again.status == 200) return {};
    if (again.status == 401)
      return Unexpected(Error(EACCES, fmt::format("registry {} refused the credentials", ref_.domain))
                            .with_hint(fmt::format("vessel login {}", ref_.domain)));
    r = again;
  }
  return Unexpected(answer_error(r, "GET /v2/"));
}

Result<void> RegistryClient::authenticate(const http::ClientResponse& unauthorized) {
  auto it = unauthorized.headers.find("www-authenticate");
  if (it == unauthorized.headers.end())
    return fail(EPROTO, "the registry answered 401 without a WWW-Authenticate header");
  auto challenge = TRY(parse_www_authenticate(it->second));
  std::string header;
  if (challenge.scheme == "basic") {
    if (!credentials_)
      return Unexpected(Error(EACCES, fmt::format("registry {} requires a login", ref_.domain))
                            .with_hint(fmt::format("vessel login {}", ref_.domain)));
    header = basic_authorization(*credentials_);
  } else if (challenge.scheme == "bearer") {
    std::string realm = challenge.param("realm");
    bool https = realm.starts_with("https://");
    if (!https && !(realm.starts_with("http://") && plain_http_allowed(host_of(realm), options_)))
      return fail(EPROTO, "the registry's token realm '{}' is not an https URL", realm.substr(0, 200));
    std::string token_url = realm + (realm.find('?') == std::string::npos ? "?" : "&");
    if (!challenge.param("service").empty()) token_url += "service=" + query_escape(challenge.param("service")) + "&";
    token_url += "scope=" + query_escape(fmt::format("repository:{}:{}", ref_.repository, actions_));
    http::ClientOptions o;
    o.timeout = std::chrono::seconds(60);
    o.max_redirects = options_.max_redirects;
    if (credentials_)
      o.headers.push_back(basic_authorization(*credentials_));
    auto r = TRY_CTX(http::request(o, "GET", token_url, "", ""), "token from {}", realm);
    if (r.status == 401 || r.status == 403)
      return Unexpected(Error(EACCES, fmt::format("the token service of {} refused {}", ref_.domain,
                                                  credentials_ ? "the credentials" : "an anonymous request"))
                            .with_hint(fmt::format("vessel login {}", ref_.domain)));
    if (r.status != 200) return Unexpected(answer_error(r, "token request"));
    auto doc = TRY_CTX(json::parse(r.body, kMaxTokenAnswer, 8), "token answer");
    if (!doc.is_object()) return fail(EPROTO, "token answer: expected a JSON object");
    auto token = TRY(json::opt_string(doc, "token answer", "token"));
    if (!token || token->empty()) token = TRY(json::opt_string(doc, "token answer", "access_token"));
    if (!token || token->empty()) return fail(EPROTO, "token answer has neither token nor access_token");
    if (token->find_first_of("\r\n") != std::string::npos) return fail(EPROTO, "token answer: the token has a line break");
    header = "Authorization: Bearer " + *token;
  } else {
    return fail(ENOTSUP, "the registry asks for '{}' authentication (vessel speaks Bearer and Basic)", challenge.scheme);
  }
  std::lock_guard lock(mutex_);
  authorization_ = header;
  return {};
}

Result<http::ClientResponse> RegistryClient::request(const std::string& method, const std::string& path_or_url,
                                                     std::vector<std::string> headers, const std::string& body,
                                                     const std::string& content_type) {
  bool reauthenticated = false;
  for (unsigned attempt = 1;; ++attempt) {
    auto options = client_options(headers);
    options.timeout = kRequestTimeout;
    std::string answer;
    bool too_large = false;
    auto r = http::request_stream_headers(options, method, url(path_or_url), body, content_type, [&](std::string_view d) {
      too_large = answer.size() + d.size() > kMaxAnswer;
      if (!too_large) answer.append(d);
      return !too_large;
    });
    if (too_large)
      return fail(E2BIG, "{} {}: the registry's answer is larger than {} bytes", method, path_or_url, kMaxAnswer);
    if (r && r->status < 400) r->body = std::move(answer);
    bool last = attempt >= options_.attempts;
    if (!r) {
      if (last) return Unexpected(std::move(r).error().add_context(fmt::format("{} attempts", attempt)));
      log::warn("registry {}: {} {}: {}; retrying", ref_.domain, method, path_or_url, r.error().to_string());
      std::this_thread::sleep_for(wait_before_retry(options_, attempt, nullptr));
      continue;
    }
    if (r->status == 401 && !reauthenticated) {  // a token that expired, or the first request of a scope
      reauthenticated = true;
      TRY(authenticate(*r));
      continue;
    }
    if (retryable_status(r->status) && !last) {
      log::warn("registry {}: {} {} answered {}; retrying", ref_.domain, method, path_or_url, r->status);
      std::this_thread::sleep_for(wait_before_retry(options_, attempt, &*r));
      continue;
    }
    return r;
  }
}

Result<http::ClientResponse> RegistryClient::get_stream(const std::string& path, std::vector<std::string> headers,
                                                        const std::function<bool(std::string_view)>& on_data,
                                                        const std::function<void(long)>& on_status) {
  auto send = [&]() {
    auto options = client_options(headers);
    options.on_status = on_status;
    return http::request_stream_headers(options, "GET", url(path), "", "", on_data);
  };
  auto r = TRY(send());
  if (r.status == 401) {
    TRY(authenticate(r));
    r = TRY(send());
  }
  return r;
}

}  // namespace vessel::daemon
