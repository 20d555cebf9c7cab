#include "daemon/images/image_save.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include "base/fd.h"
#include "base/json.h"
#include "daemon/images/image_manifest.h"
#include "daemon/images/sha256.h"
#include "daemon/images/tar_reader.h"
#include "files/archive_handles.h"

namespace vessel::daemon {

namespace {

class TarOut {
 public:
  static Result<TarOut> open(int fd) {
    TarOut t;
    t.a_.reset(archive_write_new());
    if (!t.a_ || archive_write_set_format_pax_restricted(t.a_.get()) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(t.a_.get(), 1) != ARCHIVE_OK || archive_write_open_fd(t.a_.get(), fd) != ARCHIVE_OK)
      return fail(EIO, "cannot start the archive: {}", t.a_ ? archive_error_string(t.a_.get()) : "out of memory");
    return t;
  }

  Result<void> add_text(const std::string& name, std::string_view text) {
    TRY(header(name, text.size()));
    if (archive_write_data(a_.get(), text.data(), text.size()) != static_cast<la_ssize_t>(text.size()))
      return fail(EIO, "write {} into the archive: {}", name, archive_error_string(a_.get()));
    return {};
  }

  // The whole of `fd` (from its start) as the entry `name`.
  Result<void> add_file(const std::string& name, int fd) {
    struct stat st;
    if (::fstat(fd, &st) < 0) return fail_errno("stat {}", name);
    TRY(header(name, static_cast<uint64_t>(st.st_size)));
    std::string buf(1 << 20, '\0');
    for (uint64_t off = 0; off < static_cast<uint64_t>(st.st_size);) {
      ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(off));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return fail_errno("read {}", name);
      if (archive_write_data(a_.get(), buf.data(), static_cast<size_t>(n)) != n)
        return fail(EIO, "write {} into the archive: {}", name, archive_error_string(a_.get()));
      off += static_cast<uint64_t>(n);
    }
    return {};
  }

  Result<void> close() {
    if (archive_write_close(a_.get()) != ARCHIVE_OK) return fail(EIO, "finish the archive: {}", archive_error_string(a_.get()));
    return {};
  }

 private:
  Result<void> header(const std::string& name, uint64_t size) {
    files::ArchiveEntry e(archive_entry_new());
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
    if (archive_write_header(a_.get(), e.get()) != ARCHIVE_OK)
      return fail(EIO, "write {} into the archive: {}", name, archive_error_string(a_.get()));
    return {};
  }

  files::ArchiveWriter a_;
};

// The layer blob uncompressed into an unnamed temporary file under `tmp_dir` (docker-archive
// layers are the tars their diff_ids name).
Result<Fd> uncompressed(const std::string& blob, const std::string& tmp_dir) {
  Fd out = TRY_CTX(Fd::open(tmp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600), "temporary file in {}", tmp_dir);
  TarReader a(archive_read_new());
  if (!a || archive_read_support_filter_all(a.get()) != ARCHIVE_OK || archive_read_support_format_raw(a.get()) != ARCHIVE_OK ||
      archive_read_open_filename(a.get(), blob.c_str(), 1 << 20) != ARCHIVE_OK)
    return fail(EIO, "open {}: {}", blob, a ? archive_error(a.get()) : "out of memory");
  archive_entry* entry;
  if (archive_read_next_header(a.get(), &entry) != ARCHIVE_OK) return fail(EIO, "read {}: {}", blob, archive_error(a.get()));
  if (archive_read_data_into_fd(a.get(), out.get()) != ARCHIVE_OK)
    return fail(EIO, "decompress {}: {}", blob, archive_error(a.get()));
  return out;
}

Result<void> save_oci(TarOut& tar, const ImageDocuments& d, const std::string& name) {
  TRY(tar.add_text("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
  std::string manifest_hex = sha256_hex(d.manifest);
  json::Json index = {{"schemaVersion", 2},
                      {"manifests", json::Json::array({{{"mediaType", d.media_type},
                                                        {"digest", "sha256:" + manifest_hex},
                                                        {"size", d.manifest.size()},
                                                        {"annotations", {{"org.opencontainers.image.ref.name", name}}}}})}};
  TRY(tar.add_text("index.json", json::dump(index)));
  TRY(tar.add_text("blobs/sha256/" + manifest_hex, d.manifest));
  std::vector<const StoredBlob*> blobs{&d.config};
  for (const auto& l : d.layers) blobs.push_back(&l);
  for (size_t i = 0; i < blobs.size(); ++i) {
    bool repeated = false;
    for (size_t j = 0; j < i; ++j) repeated |= blobs[j]->hex == blobs[i]->hex;
    if (repeated) continue;  // a layer listed twice is stored once
    Fd fd = TRY(Fd::open(blobs[i]->path, O_RDONLY | O_CLOEXEC));
    TRY(tar.add_file("blobs/sha256/" + blobs[i]->hex, fd.get()));
  }
  return {};
}

// What docker-archive's RepoTags says: NAME:TAG, digest dropped, ":latest" when no tag.
std::string repo_tag(std::string name) {
  name = name.substr(0, name.find('@'));
  auto slash = name.rfind('/');
  bool tagged = name.find(':', slash == std::string::npos ? 0 : slash) != std::string::npos;
  return tagged ? name : name + ":latest";
}

Result<void> save_docker(TarOut& tar, const ImageDocuments& d, const std::string& name, const std::string& tmp_dir) {
  auto config_text = TRY(read_file(d.config.path));
  auto config = TRY(parse_image_config(config_text));
  if (config.diff_ids.size() != d.layers.size())
    return fail(EINVAL, "the image's config lists {} diff_ids for {} layers", config.diff_ids.size(), d.layers.size());
  json::Json layers = json::Json::array();
  for (size_t i = 0; i < d.layers.size(); ++i) {
    std::string entry = config.diff_ids[i] + "/layer.tar";
    bool repeated = false;
    for (size_t j = 0; j < i; ++j) repeated |= config.diff_ids[j] == config.diff_ids[i];
    layers.push_back(entry);
    if (repeated) continue;
    bool plain = d.layers[i].media_type.ends_with(".tar") || d.layers[i].media_type.ends_with(".tar.v1") ||
                 d.layers[i].media_type == "application/vnd.oci.image.layer.v1.tar";
    Fd fd = plain ? TRY(Fd::open(d.layers[i].path, O_RDONLY | O_CLOEXEC)) : TRY(uncompressed(d.layers[i].path, tmp_dir));
    TRY_CTX(tar.add_file(entry, fd.get()), "layer {}", i);
  }
  std::string config_name = d.config.hex + ".json";
  TRY(tar.add_text(config_name, config_text));
  std::string tag = repo_tag(name);
  json::Json manifest = json::Json::array({{{"Config", config_name}, {"RepoTags", {tag}}, {"Layers", layers}}});
  TRY(tar.add_text("manifest.json", json::dump(manifest)));
  return {};
}

}  // namespace

Result<SaveFormat> parse_save_format(std::string_view text) {
  if (text.empty() || text == "docker-archive") return SaveFormat::DockerArchive;
  if (text == "oci" || text == "oci-archive") return SaveFormat::Oci;
  return fail(EINVAL, "unknown archive format '{}': docker-archive or oci", text);
}

Result<void> save_image(const std::string& store, const StoredImage& image, const std::string& name, SaveFormat format,
                        int out_fd) {
  auto docs = TRY(image_documents(store, image));
  auto tar = TRY(TarOut::open(out_fd));
  if (format == SaveFormat::Oci) TRY(save_oci(tar, docs, name));
  else TRY(save_docker(tar, docs, name, store + "/tmp"));
  return tar.close();
}

}  // namespace vessel::daemon
