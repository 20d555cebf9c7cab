#include "http/registry_credentials.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "base/base64.h"
#include "base/fd.h"
#include "base/json.h"

namespace vessel::http {

namespace {

constexpr size_t kMaxFile = 1 << 20;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string home() {
  std::string h = env("HOME");
  return h.empty() ? "/root" : h;
}

// Docker Hub's credentials live under its historical v1 URL in config files Docker wrote.
bool key_matches(const std::string& key, const std::string& registry) {
  if (key == registry) return true;
  std::string_view k = key;
  for (std::string_view scheme : {"https://", "http://"})
    if (k.starts_with(scheme)) k.remove_prefix(scheme.size());
  auto slash = k.find('/');
  std::string_view host = k.substr(0, slash);
  if (host == registry) return true;
  return registry == "docker.io" && (host == "index.docker.io" || host == "registry-1.docker.io");
}

Result<std::optional<Credentials>> from_entry(const json::Json& entry, const std::string& where) {
  if (!entry.is_object()) return fail(EINVAL, "{}: expected an object", where);
  auto auth = TRY(json::opt_string(entry, where, "auth"));
  if (!auth || auth->empty()) return std::optional<Credentials>{};  // a credential helper's entry
  auto decoded = TRY_CTX(base64_decode(*auth), "{}.auth", where);
  auto colon = decoded.find(':');
  if (colon == std::string::npos) return fail(EINVAL, "{}.auth: not base64 of user:password", where);
  return std::optional<Credentials>(Credentials{decoded.substr(0, colon), decoded.substr(colon + 1)});
}

Result<std::optional<Credentials>> search_file(const std::string& file, const std::string& registry) {
  auto text = read_file(file);
  if (!text) return std::optional<Credentials>{};  // absent or unreadable: the next file
  auto doc = TRY_CTX(json::parse(*text, kMaxFile, 16), "{}", file);
  if (!doc.is_object() || !doc.contains("auths") || !doc["auths"].is_object()) return std::optional<Credentials>{};
  for (const auto& [key, entry] : doc["auths"].items())
    if (key_matches(key, registry)) {
      auto found = TRY_CTX(from_entry(entry, "auths." + key), "{}", file);
      if (found) return found;
    }
  return std::optional<Credentials>{};
}

}  // namespace

std::string docker_config_file() {
  std::string dir = env("DOCKER_CONFIG");
  return (dir.empty() ? home() + "/.docker" : dir) + "/config.json";
}

std::vector<std::string> credential_files() {
  std::vector<std::string> files;
  if (auto f = env("REGISTRY_AUTH_FILE"); !f.empty()) files.push_back(f);
  if (auto run = env("XDG_RUNTIME_DIR"); !run.empty()) files.push_back(run + "/containers/auth.json");
  files.push_back(docker_config_file());
  return files;
}

Result<std::optional<Credentials>> find_credentials(const std::string& registry) {
  for (const auto& file : credential_files()) {
    auto found = TRY(search_file(file, registry));
    if (found) return found;
  }
  return std::optional<Credentials>{};
}

Result<void> store_credentials(const std::string& file, const std::string& registry,
                               const std::optional<Credentials>& credentials) {
  json::Json doc = json::Json::object();
  if (auto text = read_file(file)) {
    doc = TRY_CTX(json::parse(*text, kMaxFile, 16), "{}", file);
    if (!doc.is_object()) return fail(EINVAL, "{}: expected a JSON object", file);
  }
  if (!doc.contains("auths") || !doc["auths"].is_object()) doc["auths"] = json::Json::object();
  auto& auths = doc["auths"];
  if (credentials) {
    auths[registry] = {{"auth", base64_encode(credentials->username + ":" + credentials->password)}};
  } else {
    size_t removed = 0;
    for (auto it = auths.begin(); it != auths.end();) {
      if (key_matches(it.key(), registry)) {
        it = auths.erase(it);
        ++removed;
      } else {
        ++it;
      }
    }
    if (removed == 0) return fail(ENOENT, "not logged in to {} ({} has no entry)", registry, file);
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(file).parent_path(), ec);
  std::string tmp = file + ".tmp-" + std::to_string(::getpid());
  {
    Fd out = TRY(Fd::open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    TRY_CTX(write_all(out.get(), json::dump(doc, 1) + "\n"), "write {}", tmp);
  }
  if (::rename(tmp.c_str(), file.c_str()) < 0) {
    auto err = Error::from_errno(fmt::format("rename {} to {}", tmp, file));
    ::unlink(tmp.c_str());
    return Unexpected(std::move(err));
  }
  return {};
}

}  // namespace vessel::http
