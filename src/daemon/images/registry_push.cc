#include "daemon/images/registry_push.h"

// GCC 12 reports -Wfree-nonheap-object, wrongly, for TRY on Result<http::ClientResponse> (the
// inlined destructor of the moved-from expected<> frees a heap string it takes for a local).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
#endif

#include <fcntl.h>

#include "base/fd.h"
#include "daemon/images/sha256.h"

namespace vessel::daemon {

namespace {

// "location" of an upload answer; EPROTO when there is none.
Result<std::string> upload_location(const http::ClientResponse& r) {
  auto it = r.headers.find("location");
  if (it == r.headers.end() || it->second.empty()) return fail(EPROTO, "the registry's upload answer has no Location");
  return it->second;
}

std::string with_query(const std::string& url, const std::string& arg) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + arg;
}

Result<std::string> read_range(int fd, uint64_t offset, uint64_t size) {
  std::string data(size, '\0');
  TRY(pread_exact(fd, data.data(), size, offset));
  return data;
}

class Uploader {
 public:
  Uploader(RegistryClient& client, const ImageReference& dest, const StoredImage& image,
           const std::function<void(const PushProgress&)>& progress)
      : client_(client), dest_(dest), image_(image), progress_(progress) {}

  void set_total(uint64_t total) { state_.total = total; }
  const PushProgress& state() const { return state_; }

  Result<void> send(const StoredBlob& b) {
    std::string digest = "sha256:" + b.hex;
    auto head = TRY(client_.request("HEAD", client_.repository_path() + "/blobs/" + digest));
    if (head.status == 200) return skipped(b);
    if (head.status != 404) return Unexpected(RegistryClient::answer_error(head, "HEAD blob " + digest));
    std::string start = client_.repository_path() + "/blobs/uploads/";
    auto source = parse_image_reference(image_.source);
    if (source && source->domain == dest_.domain && source->repository != dest_.repository)
      start += "?mount=" + digest + "&from=" + source->repository;  // cross-repository mount
    auto r = TRY(client_.request("POST", start));
    if (r.status == 201) return skipped(b);  // mounted
    if (r.status != 202) return Unexpected(RegistryClient::answer_error(r, "start upload of " + digest));
    std::string location = TRY(upload_location(r));
    Fd fd = TRY(Fd::open(b.path, O_RDONLY | O_CLOEXEC));
    uint64_t chunk = std::max<uint64_t>(client_.options().upload_chunk, 1);
    if (b.size > chunk) {
      for (uint64_t off = 0; off < b.size; off += chunk) {
        uint64_t n = std::min(chunk, b.size - off);
        auto data = TRY(read_range(fd.get(), off, n));
        auto p = TRY(client_.request("PATCH", location, {fmt::format("Content-Range: {}-{}", off, off + n - 1)}, data));
        if (p.status != 202) return Unexpected(RegistryClient::answer_error(p, "upload chunk of " + digest));
        location = TRY(upload_location(p));
        advance(n);
      }
      auto done = TRY(client_.request("PUT", with_query(location, "digest=" + digest), {}, ""));
      if (done.status != 201) return Unexpected(RegistryClient::answer_error(done, "finish upload of " + digest));
      return {};
    }
    auto data = TRY(read_range(fd.get(), 0, b.size));
    auto put = TRY(client_.request("PUT", with_query(location, "digest=" + digest), {}, data));
    if (put.status != 201) return Unexpected(RegistryClient::answer_error(put, "upload " + digest));
    advance(b.size);
    return {};
  }

 private:
  Result<void> skipped(const StoredBlob& b) {
    ++state_.skipped;
    advance(b.size);
    return {};
  }
  void advance(uint64_t n) {
    state_.done += n;
    if (progress_) progress_(state_);
  }

  RegistryClient& client_;
  const ImageReference& dest_;
  const StoredImage& image_;
  const std::function<void(const PushProgress&)>& progress_;
  PushProgress state_{"upload", 0, 0, 0};
};

}  // namespace

Result<std::string> push_image(RegistryClient& client, const ImageReference& dest, const StoredImage& image,
                               const std::string& store, const std::function<void(const PushProgress&)>& progress) {
  auto docs = TRY(image_documents(store, image));
  uint64_t total = docs.config.size;
  for (const auto& l : docs.layers) total += l.size;
  Uploader up(client, dest, image, progress);
  up.set_total(total);
  for (const auto& l : docs.layers) TRY_CTX(up.send(l), "layer sha256:{}", l.hex.substr(0, 12));
  TRY_CTX(up.send(docs.config), "config");
  auto r = TRY(client.request("PUT", client.repository_path() + "/manifests/" + dest.manifest_ref(), {}, docs.manifest,
                              docs.media_type));
  if (r.status != 201) return Unexpected(RegistryClient::answer_error(r, "PUT manifest"));
  if (progress) progress(PushProgress{"done", total, total, up.state().skipped});
  return "sha256:" + sha256_hex(docs.manifest);
}

}  // namespace vessel::daemon
