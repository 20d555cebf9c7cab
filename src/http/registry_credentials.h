// Registry credentials as Docker and podman keep them: a JSON file whose "auths" object maps a
// registry host to {"auth": base64("user:password")}. Files, first match wins: $REGISTRY_AUTH_FILE,
// $XDG_RUNTIME_DIR/containers/auth.json (podman), ~/.docker/config.json (or $DOCKER_CONFIG/config.json).
// `vessel login` writes the Docker file; vesseld gets credentials from the CLI with each request.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace vessel::http {

struct Credentials {
  std::string username, password;
};

// The files searched, in order ($HOME etc. as the environment says now).
std::vector<std::string> credential_files();
// The file `vessel login` writes: $DOCKER_CONFIG/config.json or ~/.docker/config.json.
std::string docker_config_file();

// Credentials for `registry` (a host[:port], "docker.io" also matches Docker's historical
// "https://index.docker.io/v1/" key) from the first file that has them; nullopt when none does.
// A file that exists but is malformed is an error naming it.
Result<std::optional<Credentials>> find_credentials(const std::string& registry);

// Adds (or with nullopt removes) `registry`'s entry in `file`, keeping every other key of it;
// written to a temporary file and renamed, mode 0600. remove: ENOENT when there was no entry.
Result<void> store_credentials(const std::string& file, const std::string& registry,
                               const std::optional<Credentials>& credentials);

}  // namespace vessel::http
