// A session with one repository of an OCI distribution-spec v2 registry (Docker Hub, the
// reference `registry`, Harbor ...): finds how to reach it (https; plain http only for loopback
// registries and those named with vesseld --insecure-registry, as Docker does), authenticates
// (anonymous, Bearer tokens from the realm of the 401's WWW-Authenticate with service and scope,
// or Basic) and sends requests with retries: 429 and 5xx answers and dropped connections are
// retried with exponential back-off (Retry-After honoured up to a bound), redirects are followed
// up to a limit. The registry is untrusted: sizes are bounded, answers parsed, digests checked
// by the callers (registry_pull.h).
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "daemon/images/image_reference.h"
#include "http/http.h"
#include "http/registry_credentials.h"

namespace vessel::daemon {

struct RegistryOptions {
  std::vector<std::string> insecure;  // host[:port] spoken to over plain HTTP (vesseld --insecure-registry)
  unsigned parallel_downloads = 3;
  unsigned attempts = 5;  // per request, the first included
  std::chrono::milliseconds backoff{250};  // doubled after each failed attempt
  std::chrono::milliseconds max_backoff{8000};
  long max_redirects = 5;
  std::chrono::seconds stall_timeout{60};
  // Push: blobs up to this size go in one PUT, larger ones in PATCH chunks of this size.
  uint64_t upload_chunk = uint64_t(32) << 20;
};

class RegistryClient {
 public:
  // `actions`: the token scope's actions ("pull", "pull,push"). Pings /v2/ to settle scheme and
  // authentication; an unreachable registry or refused credentials are errors here.
  static Result<std::unique_ptr<RegistryClient>> connect(const ImageReference& ref,
                                                         const std::optional<http::Credentials>& credentials,
                                                         const RegistryOptions& options, std::string actions = "pull");

  // GET/HEAD/PUT/POST/PATCH of `path_or_url` (a /v2/... path or an absolute URL the registry gave,
  // e.g. an upload Location), with authentication and retries. `headers`: extra request headers.
  Result<http::ClientResponse> request(const std::string& method, const std::string& path_or_url,
                                       std::vector<std::string> headers = {}, const std::string& body = {},
                                       const std::string& content_type = "application/octet-stream");
  // GET streamed to `on_data` (blobs). 2xx answers stream; an error answer is returned with its
  // body. One attempt: the caller resumes (registry_pull.cc), since it knows what it has.
  // `on_status` is told the answer's status before its first byte (http::ClientOptions::on_status).
  Result<http::ClientResponse> get_stream(const std::string& path, std::vector<std::string> headers,
                                          const std::function<bool(std::string_view)>& on_data,
                                          const std::function<void(long)>& on_status = {});

  // "/v2/<repository>"
  std::string repository_path() const { return "/v2/" + ref_.repository; }
  const std::string& base_url() const { return base_; }
  const RegistryOptions& options() const { return options_; }

  // An error for an unexpected answer: the registry's error JSON ({"errors":[{code,message}]})
  // when there is one; 401/403/404/429/5xx each with the errno and hint that fits.
  static Error answer_error(const http::ClientResponse& r, const std::string& what);

 private:
  RegistryClient(ImageReference ref, std::optional<http::Credentials> credentials, RegistryOptions options,
                 std::string actions)
      : ref_(std::move(ref)), credentials_(std::move(credentials)), options_(std::move(options)),
        actions_(std::move(actions)) {}
  Result<void> ping();
  Result<void> authenticate(const http::ClientResponse& unauthorized);
  http::ClientOptions client_options(std::vector<std::string> headers) const;
  std::string url(const std::string& path_or_url) const;
  std::string authorization() const;

  ImageReference ref_;
  std::optional<http::Credentials> credentials_;
  RegistryOptions options_;
  std::string actions_;
  std::string base_;  // "https://host[:port]"
  mutable std::mutex mutex_;  // authorization_ (downloads run on several threads)
  std::string authorization_;  // "Authorization: ..." or empty
};

// Is plain HTTP allowed to `host`? Loopback registries and the insecure list.
bool plain_http_allowed(const std::string& host, const RegistryOptions& options);

}  // namespace vessel::daemon
