#include "daemon/images/registry_pull.h"

// GCC 12 reports -Wfree-nonheap-object, wrongly, for TRY on Result<http::ClientResponse> (the
// inlined destructor of the moved-from expected<> frees a heap string it takes for a local).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
#endif

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "base/fd.h"
#include "base/log.h"
#include "daemon/images/image_manifest.h"
#include "daemon/images/registry_manifest.h"
#include "daemon/images/sha256.h"
#include "daemon/images/stored_layer.h"

namespace vessel::daemon {

namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxConfig = 4 << 20;

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string blob_path(const std::string& store, const std::string& hex) { return store + "/blobs/sha256/" + hex; }

// GET of a manifest, checked against `expected_hex` when given (pull by digest, index entries)
// and against the registry's Docker-Content-Digest header when it sends one.
Result<std::pair<RegistryManifest, std::string>> fetch_manifest(RegistryClient& client, const std::string& ref,
                                                                const std::string& expected_hex) {
  auto r = TRY(client.request("GET", client.repository_path() + "/manifests/" + ref, {manifest_accept_header()}));
  if (r.status != 200) return Unexpected(RegistryClient::answer_error(r, "manifest " + ref));
  std::string hex = sha256_hex(r.body);
  if (!expected_hex.empty() && hex != expected_hex)
    return fail(EINVAL, "manifest {}: the registry sent a document whose sha256 is {}: refused", ref, hex);
  if (auto it = r.headers.find("docker-content-digest"); it != r.headers.end() && it->second != "sha256:" + hex)
    return fail(EINVAL, "manifest {}: the registry says its digest is {} but its sha256 is {}: refused", ref,
                it->second.substr(0, 100), hex);
  auto ct = r.headers.count("content-type") ? r.headers["content-type"] : "";
  auto parsed = TRY_CTX(parse_registry_manifest(r.body, ct), "manifest {}", ref);
  return std::pair{std::move(parsed), std::move(r.body)};
}

// Downloads (and unpacks) the layers the store lacks, `parallel` at a time; the first error wins
// and stops the other transfers.
Result<void> fetch_layers(RegistryClient& client, const std::vector<Descriptor>& layers, const std::string& store,
                          const std::function<void(const PullProgress&)>& progress, unsigned present) {
  uint64_t total = 0;
  std::vector<const Descriptor*> missing;
  for (const auto& l : layers)
    if (!exists(store + "/layers/" + l.hex)) {
      bool have_blob = exists(blob_path(store, l.hex));
      if (!have_blob) total += l.size;
      missing.push_back(&l);
    }
  std::mutex mutex;  // progress, first_error
  uint64_t done = 0, reported = 0;
  size_t unpacked = 0;
  std::optional<Error> first_error;
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto report = [&](const char* step, uint64_t d, uint64_t t) {
    if (progress) progress({step, d, t, present});
  };
  auto worker = [&] {
    for (size_t i; !failed && (i = next++) < missing.size();) {
      const Descriptor& l = *missing[i];
      auto r = download_blob(client, l, store, [&](uint64_t n) {
        std::lock_guard lock(mutex);
        done += n;
        if (done - reported < total / 100 && done < total) return;  // a line per 1% at most
        reported = done;
        report("download", done, total);
      }, [&] { return failed.load(); });
      if (r) {
        r = unpack_stored_layer(store, l.hex);
        if (!r) r = Unexpected(std::move(r).error().add_context("unpack layer sha256:" + l.hex.substr(0, 12)));
      }
      std::lock_guard lock(mutex);
      if (!r) {
        if (!first_error) first_error = std::move(r).error();
        failed = true;
        return;
      }
      report("unpack", ++unpacked, missing.size());
    }
  };
  unsigned n = std::max(1u, std::min<unsigned>(client.options().parallel_downloads, static_cast<unsigned>(missing.size())));
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < n; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (first_error) return Unexpected(std::move(*first_error));
  return {};
}

}  // namespace

Result<void> download_blob(RegistryClient& client, const Descriptor& blob, const std::string& store,
                           const std::function<void(uint64_t)>& on_bytes, const std::function<bool()>& cancel) {
  std::string final_path = blob_path(store, blob.hex);
  if (exists(final_path)) return {};
  std::string partial = store + "/tmp/pull-" + blob.hex + ".partial";
  std::string what = "blob sha256:" + blob.hex.substr(0, 12);
  Fd fd = TRY(Fd::open(partial, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  auto drop = [&] { ::unlink(partial.c_str()); };
  const auto& options = client.options();
  for (unsigned attempt = 1;; ++attempt) {
    struct stat st;
    if (::fstat(fd.get(), &st) < 0) return fail_errno("stat {}", partial);
    uint64_t have = static_cast<uint64_t>(st.st_size);
    if (have > blob.size) {
      if (::ftruncate(fd.get(), 0) < 0) return fail_errno("truncate {}", partial);
      have = 0;
    }
    if (have == blob.size) break;  // complete: verified below
    std::vector<std::string> headers;
    if (have > 0) headers.push_back(fmt::format("Range: bytes={}-", have));
    uint64_t offset = have;
    bool too_long = false;
    std::optional<Error> write_error;
    auto sink = [&](std::string_view data) {
      if (cancel && cancel()) return false;
      if (offset + data.size() > blob.size) {
        too_long = true;
        return false;
      }
      if (auto w = pwrite_all(fd.get(), data.data(), data.size(), offset); !w) {
        write_error = std::move(w).error();
        return false;
      }
      offset += data.size();
      if (on_bytes) on_bytes(data.size());
      return true;
    };
    auto restart = [&](long status) {
      // A 200 to a Range request is the whole blob again: start over.
      if (status == 200 && offset > 0) {
        offset = 0;
        if (::ftruncate(fd.get(), 0) < 0) write_error = Error::from_errno("truncate " + partial);
      }
    };
    auto r = client.get_stream(client.repository_path() + "/blobs/sha256:" + blob.hex, headers, sink, restart);
    if (write_error) return Unexpected(std::move(*write_error).add_context(what));
    if (cancel && cancel()) return fail(ECANCELED, "{}: cancelled (another layer failed)", what);
    if (too_long) {
      drop();
      return fail(EINVAL, "{}: the registry sent more than the {} bytes the manifest gives: refused", what, blob.size);
    }
    bool last = attempt >= options.attempts;
    if (r && r->status == 416) {  // the partial file is not what the registry has: start over
      if (::ftruncate(fd.get(), 0) < 0) return fail_errno("truncate {}", partial);
    } else if (r && (r->status == 200 || r->status == 206)) {
      if (offset == blob.size) break;
      if (last)
        return fail(EIO, "{}: the transfer broke off at {} of {} bytes, {} times", what, offset, blob.size, attempt);
      log::warn("{}: transfer broke off at {} of {} bytes; resuming", what, offset, blob.size);
    } else if (r && !(r->status == 429 || r->status >= 500)) {
      return Unexpected(RegistryClient::answer_error(*r, what));
    } else if (last) {
      if (!r)
        return fail(EIO, "{}: the transfer broke off at {} of {} bytes, {} times: {}", what, offset, blob.size, attempt,
                    r.error().message());
      return Unexpected(RegistryClient::answer_error(*r, fmt::format("{} ({} attempts)", what, attempt)));
    }
    auto wait = std::min(options.max_backoff, options.backoff * (1u << std::min(attempt - 1, 10u)));
    std::this_thread::sleep_for(wait);
  }
  auto actual = TRY(sha256_file(partial));
  if (actual != blob.hex) {
    drop();
    return fail(EINVAL, "{}: the registry sent data whose sha256 is {}: refused", what, actual);
  }
  if (::rename(partial.c_str(), final_path.c_str()) < 0) return fail_errno("store {}", what);
  return {};
}

Result<PulledImage> pull_image(RegistryClient& client, const ImageReference& ref, const std::string& store,
                               const std::function<void(const PullProgress&)>& progress) {
  std::error_code ec;
  for (const char* sub : {"/blobs/sha256", "/layers", "/tmp"}) fs::create_directories(store + sub, ec);
  if (progress) progress({"resolve", 0, 1, 0});
  std::string expected = ref.digest.empty() ? "" : ref.digest.substr(7);
  auto [manifest, body] = TRY(fetch_manifest(client, ref.manifest_ref(), expected));
  PulledImage out;
  out.image.manifest_digest = "sha256:" + sha256_hex(body);
  if (manifest.is_index) {
    std::string hex = manifest.platform_manifest.hex;
    std::tie(manifest, body) = TRY(fetch_manifest(client, "sha256:" + hex, hex));
    if (manifest.is_index) return fail(ENOTSUP, "the index's linux/amd64 entry is another index");
  }
  out.image.format = "registry";
  out.manifest_hex = sha256_hex(body);
  out.media_type = manifest.media_type;
  if (manifest.config.size > kMaxConfig)
    return fail(E2BIG, "the image config is {} bytes (limit {})", manifest.config.size, kMaxConfig);
  TRY_CTX(download_blob(client, manifest.config, store, {}), "image config");
  out.image.config_hex = manifest.config.hex;
  auto config_text = TRY(read_file(blob_path(store, manifest.config.hex)));
  auto config = TRY(parse_image_config(config_text));
  if (config.diff_ids.size() != manifest.layers.size())
    return fail(EINVAL, "the manifest has {} layers but the config lists {} diff_ids", manifest.layers.size(),
                config.diff_ids.size());
  apply_image_config(config, out.image);
  unsigned present = 0;
  for (const auto& l : manifest.layers) present += exists(store + "/layers/" + l.hex);
  TRY(fetch_layers(client, manifest.layers, store, progress, present));
  TRY(store_blob_text(store, out.manifest_hex, body));
  for (const auto& l : manifest.layers) {
    out.image.layers.push_back("sha256:" + l.hex);
    out.image.size += l.size;
  }
  if (progress) progress({"done", manifest.layers.size(), manifest.layers.size(), present});
  return out;
}

}  // namespace vessel::daemon
