#include "daemon/cluster_image_fetch.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string_view>
#include <vector>

#include "base/fd.h"
#include "base/log.h"
#include "daemon/api/forward.h"

namespace vessel::daemon {

namespace {
constexpr std::string_view kFetchPrefix = ".fetch-", kFetchSuffix = ".tar";  // .fetch-PID.tar

// An image's identity across nodes: its ID (the config's digest, which names each layer's content
// digest), checked on arrival, and its manifest digest, which the copy is recorded under.
struct ImageIdentity {
  std::string config, digest;
};

Result<ImageIdentity> identity_of(const json::Json& image) {
  auto info = image.value("info", json::Json::object());
  ImageIdentity id{info.value("config", std::string()), image.value("digest", std::string())};
  if (!id.config.starts_with("sha256:"))
    return Unexpected(Error(ENOTSUP, "its image has no config blob (imported by an old vessel): it cannot be saved"));
  return id;
}

// The peer's identity of `image`, or why it has none (not there, not reached).
Result<ImageIdentity> peer_identity(const cluster::NodeInfo& peer, const cluster::Membership& self, const std::string& image) {
  auto answer = TRY(call_node(self, peer, "GET", "/v1/images/" + http::escape_segment(image), {}, std::chrono::seconds(10)));
  if (answer.status == 404) return Unexpected(Error(ENOENT, "it has no image " + image));
  auto j = json::parse(answer.body);
  if (answer.status != 200 || !j || !j->is_object())
    return Unexpected(Error(EPROTO, fmt::format("GET /v1/images/{} answered {}", image, answer.status)));
  if (j->value("type", "") != "container")
    return Unexpected(Error(ENOTSUP, fmt::format("its {} is a VM image (not distributed: its files are host paths)", image)));
  return identity_of(*j);
}

// The peer's image saved (docker-archive) into `path`.
Result<void> download(const cluster::NodeInfo& peer, const cluster::Membership& self, const std::string& image,
                      const std::string& path) {
  Fd out = TRY(Fd::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  Result<void> written;
  auto write = [&](std::string_view chunk) {
    written = write_all(out.get(), chunk.data(), chunk.size());
    return bool(written);
  };
  json::Json body = {{"image", image}, {"format", "docker-archive"}};
  auto answer = TRY(stream_from_node(self, peer, "POST", "/v1/images/save", body.dump(), write));
  TRY(written);
  if (answer.status != 200) {
    auto text = read_file(path).value_or("");
    auto j = json::parse(text);
    std::string why = j && j->is_object() ? j->value("error", text) : text.substr(0, 200);
    return Unexpected(Error(EPROTO, fmt::format("POST /v1/images/save answered {}: {}", answer.status, why)));
  }
  return {};
}

Result<void> fetch_from(ImageStore& images, const cluster::NodeInfo& peer, const cluster::Membership& self,
                        const std::string& image) {
  auto expected = TRY(peer_identity(peer, self, image));
  log::info("cluster: fetching image {} ({}) from node {}", image, expected.config, peer.name);
  std::string path = fmt::format("{}/{}{}{}", images.dir(), kFetchPrefix, ::getpid(), kFetchSuffix);
  auto fetched = download(peer, self, image, path);
  Result<json::Json> imported = fetched ? images.import_peer_copy(image, path, expected.config, expected.digest)
                                        : Result<json::Json>(Unexpected(fetched.error()));
  ::unlink(path.c_str());
  if (!imported) return Unexpected(std::move(imported).error());
  return {};
}
}  // namespace

Result<void> fetch_image_from_peers(ImageStore& images, const cluster::Membership& member, const std::string& image) {
  if (TRY(images.find(image))) return {};
  std::vector<std::string> tried;
  for (const auto& peer : TRY(member.nodes())) {
    if (peer.info.name == member.name() || !peer.ready) continue;
    auto started = std::chrono::steady_clock::now();
    auto fetched = fetch_from(images, peer.info, member, image);
    if (fetched) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
      log::info("cluster: image {} fetched from node {} in {} ms", image, peer.info.name, ms.count());
      return {};
    }
    tried.push_back(fmt::format("{}: {}", peer.info.name, fetched.error().to_string()));
  }
  std::string why = tried.empty() ? "no other node is ready" : fmt::format("{}", fmt::join(tried, "; "));
  return Unexpected(Error(ENOENT, fmt::format("image {} is not on this node, and no ready node could give it ({})", image, why))
                        .with_hint(fmt::format("vessel image pull or import {} on one of the nodes", image)));
}

size_t remove_stale_fetches(const std::string& images_dir) {
  size_t removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(images_dir, ec)) {
    std::string name = entry.path().filename().string();
    std::string_view pid = name;
    if (!pid.starts_with(kFetchPrefix) || !pid.ends_with(kFetchSuffix)) continue;
    pid.remove_prefix(kFetchPrefix.size());
    pid.remove_suffix(kFetchSuffix.size());
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string_view::npos) continue;
    std::error_code type_ec;
    if (!entry.is_regular_file(type_ec) || entry.is_symlink(type_ec)) continue;  // not what a fetch writes
    if (::unlink(entry.path().c_str()) == 0) {
      ++removed;
      log::info("removed {}, left by a fetch cut short", entry.path().string());
    } else {
      log::warn("cannot remove {}: {}", entry.path().string(), std::strerror(errno));
    }
  }
  return removed;
}

}  // namespace vessel::daemon
