// Image references as Docker resolves them: [DOMAIN/]PATH[:TAG][@DIGEST]. A first component with
// a '.' or ':' or "localhost" is a registry; otherwise the registry is docker.io and a one-part
// path gets "library/" (`busybox` -> docker.io/library/busybox:latest). A reference names a
// pulled image in the store by its canonical form (to_string()).
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace vessel::daemon {

struct ImageReference {
  std::string domain;      // "docker.io", "localhost:5000"
  std::string repository;  // "library/busybox"
  std::string tag;         // "latest" unless a digest alone was given
  std::string digest;      // "sha256:<hex>" or empty

  // "docker.io/library/busybox:latest", "localhost:5000/a/b@sha256:..." (tag and digest: both).
  std::string to_string() const;
  // domain/repository, without tag or digest.
  std::string name() const { return domain + "/" + repository; }
  // The host the v2 API is reached at (docker.io's is registry-1.docker.io).
  std::string api_host() const;
  // What the registry is asked for: the digest when given, else the tag.
  const std::string& manifest_ref() const { return digest.empty() ? tag : digest; }
};

// EINVAL (naming the part that is wrong) for what Docker would refuse.
Result<ImageReference> parse_image_reference(std::string_view text);

// Is `host` (host[:port], [v6]:port) a loopback address or "localhost"? Such registries may be
// spoken to over plain HTTP, as Docker allows.
bool is_loopback_registry(std::string_view host);

}  // namespace vessel::daemon
